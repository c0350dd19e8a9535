"""``compositor compose``: cut, paste and harmonize in one go.

Cut the best object from PHOTO, paste it on BACKGROUND, harmonize it, and write sticker.png,
composite.png, mask.png, harmonized.png and compose.json (inputs with sha256, settings, seed,
timings, versions) into OUTDIR.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ... import plugins
from ...cut import DEFAULT_METHOD
from ...harmonizers import DEFAULT_BACKEND
from ..bar import progress_for
from ..options import OUTDIR_RULE, add_finish_options, add_force, add_output_options, at, box, command, finish_values
from ..output import say
from ..paths import check_outdir, setting_files
from ..settings import add_settings, choose, given, plugin_settings


#: compose's finishing defaults (the stage's own are none): the steps that passed every do-no-harm
#: check (docs/PERFORMANCE.md: identity and reverse cases at 40 dB on 99% of held-out photos,
#: iHarmony4 within 1%) and a contact shadow; jpeg stays opt-in (--match all).
DEFAULTS: dict = {"match": "blur,noise", "shadow": "contact"}


def add_parser(sub) -> None:
    """Add the ``compose`` command to the subparsers ``sub``: its options and every harmonizer's settings."""
    p = command(sub, "compose", __doc__)
    p.add_argument("photo")
    p.add_argument("background")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help=f"the output folder: {OUTDIR_RULE}")
    add_force(p)
    p.add_argument("--method", default=DEFAULT_METHOD, choices=plugins.names("cutter") or None,
                   help="cutter (default: %(default)s)")
    p.add_argument("--box", type=box, help="X,Y,W,H of the object in PHOTO")
    p.add_argument("--at", type=at, default={}, metavar="X,Y[,SIZE[,DEG]][,ANCHOR]",
                   help="where the sticker goes on BACKGROUND, as in `compositor paste`: X,Y in pixels or percent "
                        "(50%%), SIZE a scale (0.5) or a height (300px, 40%%), DEG counter-clockwise, ANCHOR centre "
                        "or bottom (default: centred on the background, scale 1)")
    p.add_argument("--backend", default=None, choices=plugins.names("harmonizer") or None, help="harmonizer")
    add_output_options(p)
    add_finish_options(p, DEFAULTS)
    add_settings(p, "harmonizer", "--backend")


def run(args) -> int:
    """Cut, paste and harmonize, and write the five outputs into ``args.output``; returns 0."""
    from ... import api
    from ...imageio import check_outputs, write_all, write_image, write_json, write_mask

    outdir = Path(args.output)
    names = ("sticker.png", "composite.png", "mask.png", "harmonized.png", "compose.json")
    backend = choose("harmonizer", args.backend, given(args), DEFAULT_BACKEND, "--backend")
    h_settings = plugin_settings(args, "harmonizer", backend)
    finishing = finish_values(args)
    check_outputs([args.photo, args.background, *setting_files(h_settings)], [outdir / n for n in names])
    cut_settings = {"box": args.box} if args.box else {}
    progress = progress_for(args, outdir / "harmonized.png", [args.photo, args.background, *setting_files(h_settings)])
    check_outdir(outdir, args.force)
    with progress.kept_on_success():
        try:
            sticker, comp, result, record = api.compose(
                args.photo, args.background, method=args.method, cut_settings=cut_settings, backend=backend,
                harmonize_settings=h_settings, progress=progress, finish=finishing, **args.at)
        finally:
            progress.close()
        record["snapshots"] = progress.snapshots
        record["command"] = "compositor " + " ".join(sys.argv[1:])
        write_all([(outdir / "sticker.png", lambda: write_image(outdir / "sticker.png", sticker.rgba)),
                   (outdir / "composite.png", lambda: write_image(outdir / "composite.png", comp.image)),
                   (outdir / "mask.png", lambda: write_mask(outdir / "mask.png", comp.mask)),
                   (outdir / "harmonized.png", lambda: write_image(outdir / "harmonized.png", result.image)),
                   (outdir / "compose.json", lambda: write_json(outdir / "compose.json", record))])
    say(f"{outdir}: sticker, composite, mask, harmonized ({result.backend}, {result.seconds:.1f} s) and compose.json")
    return 0
