"""``compositor cut``: cut an object out of a photo as an RGBA sticker.

Find an object and cut it out as a tightly cropped RGBA PNG with a soft edge, plus a JSON
sidecar (method, source box, score). Without --box an automatic proposal is used.
"""
from __future__ import annotations

from pathlib import Path

from ... import plugins
from ...cut import DEFAULT_METHOD
from ..options import add_traceback, command
from ..output import say
from ..paths import own_sidecars, setting_files
from ..settings import add_settings, choose, given, plugin_settings, selector_help


def add_parser(sub) -> None:
    """Add the ``cut`` command to the subparsers ``sub``: its options and every cutter's settings."""
    p = command(sub, "cut", __doc__)
    p.add_argument("photo", help="the photo to cut from")
    p.add_argument("-o", "--output", required=True, help="sticker path (.png); with --all, NAME_1.png, NAME_2.png, ...")
    p.add_argument("--method", default=None, choices=plugins.names("cutter") or None,
                   help=f"cutter (default: {DEFAULT_METHOD}{selector_help('cutter')})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any cutter setting")
    add_settings(p, "cutter", "--method")
    add_traceback(p)


def run(args) -> int:
    """Cut ``args.photo`` with the chosen cutter and write the sticker(s) and sidecar(s); returns 0."""
    from ... import api, records
    from ...imageio import check_outputs, image_format, read_rgb, write_all, write_image, write_json

    image_format(args.output, alpha=True)
    method = choose("cutter", args.method, given(args), DEFAULT_METHOD, "--method")
    settings = plugin_settings(args, "cutter", method)
    inputs = [args.photo, *own_sidecars([args.photo]), *setting_files(settings)]
    check_outputs(inputs, [args.output, Path(args.output).with_suffix(".json")])
    cutter = plugins.load("cutter", method)
    ready = plugins.make_settings(cutter, settings)  # a bad setting is refused as itself, before the photo is read
    image = read_rgb(args.photo)
    with api._named(args.photo):  # a box outside the photo, nothing found: the message names the photo
        stickers = cutter().cut(image, ready)
    out = Path(args.output)
    paths = [out] if len(stickers) == 1 and not settings.get("all") else \
        [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, len(stickers) + 1)]
    check_outputs(inputs, paths + [p.with_suffix(".json") for p in paths])
    photo = records.file_record(args.photo)
    writes = []
    for path, sticker in zip(paths, stickers):
        record = {"photo": photo, **records.sticker_record(sticker), "settings": settings}
        writes += [(path, lambda p=path, s=sticker: write_image(p, s.rgba)),
                   (path.with_suffix(".json"), lambda p=path, r=record: write_json(p.with_suffix(".json"), r))]
    write_all(writes)
    for path, sticker in zip(paths, stickers):
        x, y, w, h = sticker.source_box
        say(f"{path}: {sticker.label} from box {x},{y},{w},{h} (score {sticker.score:.2f}, {method})")
    return 0
