"""``compositor cut``: cut an object out of a photo as an RGBA sticker.

Find an object and cut it out as a tightly cropped RGBA PNG with a soft edge, plus a JSON
sidecar (method, source box, score). Without --box an automatic proposal is used.
--mask-out also writes the object's mask at the photo's full size (8-bit: 0 background,
255 object, soft at the edge).

  compositor cut photo.jpg -o sticker.png [--mask-out mask.png]
  compositor cut PHOTOS/ -o STICKERS/ [--mask-out MASKS/]   every photo in the folder (and its
        subfolders), with a progress bar; a photo that fails is reported and the rest go on
  compositor cut - -o - < photo.jpg > sticker.png           from standard input to standard
        output (a PNG; no sidecar); either side may be a file
"""
from __future__ import annotations

import sys
from pathlib import Path

from ... import plugins
from ...cut import DEFAULT_METHOD
from ...errors import CompositorError, UsageError
from ..options import OUTDIR_RULE, add_force, add_traceback, command
from ..output import out_bytes, say
from ..paths import check_outdir, own_sidecars, setting_files
from ..settings import add_settings, choose, given, plugin_settings, selector_help

PIPE = "-"


def add_parser(sub) -> None:
    """Add the ``cut`` command to the subparsers ``sub``: its options and every cutter's settings."""
    p = command(sub, "cut", __doc__)
    p.add_argument("photo", help="the photo to cut from; a folder: every photo in it; -: read it from standard input")
    p.add_argument("-o", "--output", required=True,
                   help="sticker path (.png); with --all, NAME_1.png, NAME_2.png, ...; for a folder of photos, the "
                        f"output folder (PHOTO's name with .png, subfolders kept), {OUTDIR_RULE}; -: the PNG to "
                        "standard output")
    p.add_argument("--mask-out", metavar="MASK",
                   help="also write the object's full-size 8-bit mask (.png); for a folder of photos, a folder; "
                        "-: to standard output")
    p.add_argument("--method", default=None, choices=plugins.names("cutter") or None,
                   help=f"cutter (default: {DEFAULT_METHOD}{selector_help('cutter')})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any cutter setting")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar for a folder of photos")
    add_force(p)
    add_settings(p, "cutter", "--method")
    add_traceback(p)


def run(args) -> int:
    """Cut ``args.photo`` (a photo, a folder of photos, or standard input) with the chosen cutter
    and write the sticker(s), sidecar(s) and mask; returns 0, or 1 when a photo of a folder failed."""
    method = choose("cutter", args.method, given(args), DEFAULT_METHOD, "--method")
    settings = plugin_settings(args, "cutter", method)
    from ... import api

    ready = api.cutter(method, **settings)  # a bad setting is refused as itself, before the photo is read
    if args.photo != PIPE and Path(args.photo).is_dir():
        return _cut_folder(args, method, settings, ready)
    _cut_one(args, method, settings, ready)
    return 0


def _cut_one(args, method: str, settings: dict, ready) -> None:
    """One photo (a file or standard input) to a sticker file or standard output."""
    import hashlib

    from ... import api, records
    from ...imageio import check_outputs, encode_png, image_format, read_rgb, read_rgb_bytes

    to_pipe, mask_to_pipe = args.output == PIPE, args.mask_out == PIPE
    if to_pipe and mask_to_pipe:
        raise UsageError("-o - and --mask-out - both ask for standard output; send one of them to a file.")
    if (to_pipe or mask_to_pipe) and sys.stdout is not None and sys.stdout.isatty():
        raise UsageError("standard output is a terminal; redirect it to a file or a pipe to receive the PNG.")
    if to_pipe and settings.get("all"):
        raise UsageError("--all writes one sticker per object, and standard output takes one; write to a file "
                         "(-o NAME.png gives NAME_1.png, NAME_2.png, ...).")
    if not to_pipe:
        image_format(args.output, alpha=True)
    if args.mask_out and not mask_to_pipe:
        image_format(args.mask_out, lossless=True)
    from_pipe = args.photo == PIPE
    inputs = ([] if from_pipe else [args.photo, *own_sidecars([args.photo])]) + setting_files(settings)
    mask_paths = [args.mask_out] if args.mask_out and not mask_to_pipe else []
    if not to_pipe:
        check_outputs(inputs, [args.output, Path(args.output).with_suffix(".json"), *mask_paths])
    else:
        check_outputs(inputs, mask_paths)
    if from_pipe:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no photo on standard input; pipe one in (compositor cut - -o - < photo.jpg).")
        data = sys.stdin.buffer.read()
        image, name = read_rgb_bytes(data, "standard input"), "standard input"
        photo = records.file_record(PIPE, hashlib.sha256(data).hexdigest())
    else:
        image, name, photo = read_rgb(args.photo), args.photo, None
    stickers = api.cut(image, ready, named=name)  # a box outside the photo, nothing found: named so
    if to_pipe:
        stickers = stickers[:1]  # the best; --all was refused above
        if args.mask_out:
            _write_outputs([], _mask(stickers, image.shape), args.mask_out, mask_to_pipe)
        out_bytes(encode_png(stickers[0].rgba))
        _tell(["standard output"], stickers, method)
        return
    out = Path(args.output)
    paths = [out] if len(stickers) == 1 and not settings.get("all") else \
        [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, len(stickers) + 1)]
    check_outputs(inputs, paths + [p.with_suffix(".json") for p in paths] + mask_paths)
    photo = photo or records.file_record(args.photo)
    _write_outputs(_sticker_writes(paths, stickers, photo, ready.settings),
                   _mask(stickers, image.shape) if args.mask_out else None, args.mask_out, mask_to_pipe)
    _tell([str(p) for p in paths], stickers, method)


def _mask(stickers, shape):
    """The stickers' alphas placed back on the photo: float32 HxW in [0, 1]."""
    from ...cut.sticker import stickers_alpha

    return stickers_alpha(stickers, shape)


def settings_record(settings) -> dict:
    """Every setting the cutter ran with, its defaults included (a sidecar that says {} for the
    defaults cannot tell a later reader, or a later version, what they were)."""
    import dataclasses

    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings or {})


def _sticker_writes(paths: list[Path], stickers, photo: dict, settings) -> list:
    """(path, write) pairs of each sticker and its sidecar (``settings``: the ready cutter's)."""
    from ... import records
    from ...imageio import write_image, write_json

    writes = []
    for path, sticker in zip(paths, stickers):
        record = {"photo": photo, **records.sticker_record(sticker), "settings": settings_record(settings)}
        writes += [(path, lambda p=path, s=sticker: write_image(p, s.rgba)),
                   (path.with_suffix(".json"), lambda p=path, r=record: write_json(p.with_suffix(".json"), r))]
    return writes


def _write_outputs(writes: list, mask, mask_out: str | None, mask_to_pipe: bool) -> None:
    """The sticker writes and the mask (to a file, or to standard output), all or nothing for the files."""
    import numpy as np

    from ...imageio import encode_png, write_all, write_mask

    if mask is not None and not mask_to_pipe:
        writes = writes + [(mask_out, lambda: write_mask(mask_out, mask))]
    write_all(writes)
    if mask is not None and mask_to_pipe:
        out_bytes(encode_png(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)))


def _tell(names: list[str], stickers, method: str) -> None:
    """One line per sticker written, on stderr."""
    for name, sticker in zip(names, stickers):
        x, y, w, h = sticker.source_box
        say(f"{name}: {sticker.label} from box {x},{y},{w},{h} (score {sticker.score:.2f}, {method})")


def _photos(folder: Path) -> list[Path]:
    """The photos under ``folder`` (subfolders too, hidden names skipped), sorted."""
    from ...synth.settings import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _cut_folder(args, method: str, settings: dict, ready) -> int:
    """Every photo of the folder ``args.photo`` into the folder ``args.output`` (and masks into
    ``args.mask_out``), with a progress bar; a photo that fails is reported and the rest go on."""
    from ... import api, records
    from ...imageio import check_outputs, read_rgb
    from ...progress import bar
    from ...runs.paths import within

    folder = Path(args.photo)
    outdirs = [("-o", args.output)] + ([("--mask-out", args.mask_out)] if args.mask_out else [])
    for option, value in outdirs:
        if value == PIPE:
            raise UsageError(f"{folder} is a folder of photos; {option} must be a folder too, not standard output.")
        target = Path(value)
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target}: is a file; with a folder of photos, {option} names a folder.")
        if within(target, folder) or within(folder, target):
            raise UsageError(f"{target}: the output folder overlaps the folder of photos {folder}; choose one "
                             "outside it (photos are never overwritten).")
        check_outdir(target, args.force, option)
    photos = _photos(folder)
    if not photos:
        raise UsageError(f"{folder}: holds no photos (.png, .jpg, .jpeg, .webp, .bmp, .tif, .tiff).")
    seen: dict[Path, Path] = {}
    for photo in photos:
        rel = photo.relative_to(folder).with_suffix("")
        if rel in seen:
            raise UsageError(f"{photo}: has the same name as {seen[rel]} apart from the extension, and both would "
                             "be cut to the same sticker; rename one.")
        seen[rel] = photo
    progress = bar(len(photos), desc="cut", unit="photo", quiet=args.quiet)
    failed = made = 0
    try:
        for photo in photos:
            rel = photo.relative_to(folder).with_suffix(".png")
            out = Path(args.output) / rel
            mask_out = str(Path(args.mask_out) / rel) if args.mask_out else None
            try:
                image = read_rgb(photo)
                stickers = api.cut(image, ready, named=str(photo))
                paths = [out] if len(stickers) == 1 and not settings.get("all") else \
                    [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, len(stickers) + 1)]
                check_outputs([photo, *setting_files(settings)],
                              paths + [p.with_suffix(".json") for p in paths] + ([mask_out] if mask_out else []))
                _write_outputs(_sticker_writes(paths, stickers, records.file_record(photo), ready.settings),
                               _mask(stickers, image.shape) if mask_out else None, mask_out, False)
                made += len(stickers)
            except Exception as exc:  # noqa: BLE001 - as in batch: the photo is reported, the rest go on
                failed += 1
                text = str(exc) if isinstance(exc, CompositorError) else f"{type(exc).__name__}: {exc}"
                message = text if text.startswith(str(photo)) else f"{photo}: {text}"
                if progress is not None:
                    progress.write(f"failed: {message}", file=sys.stderr)
                else:
                    say(f"failed: {message}")
            if progress is not None:
                progress.set_postfix(failed=failed, refresh=False)
                progress.update(1)
    finally:
        if progress is not None:
            progress.close()
    say(f"{len(photos)} photo(s): {len(photos) - failed} cut ({made} sticker(s), {method}), {failed} failed; "
        f"stickers in {args.output}" + (f", masks in {args.mask_out}" if args.mask_out else ""))
    return 1 if failed else 0
