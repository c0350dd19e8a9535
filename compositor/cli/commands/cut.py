"""``compositor cut``: cut an object out of a photo as an RGBA sticker.

Find an object and cut it out as a tightly cropped RGBA PNG with a soft edge, plus a JSON
sidecar (method, source box, score). Without --box an automatic proposal is used.
--mask-out also writes the object's mask at the photo's full size (8-bit: 0 background,
255 object, soft at the edge).

  compositor cut photo.jpg -o sticker.png [--mask-out mask.png]
  compositor cut PHOTOS/ -o STICKERS/ [--mask-out MASKS/] [--workers N]   every photo in the
        folder (and its subfolders), on N worker processes, with a progress bar; a photo that
        fails is reported and the rest go on
  compositor cut - -o - < photo.jpg > sticker.png           from standard input to standard
        output (a PNG; no sidecar); either side may be a file
"""
from __future__ import annotations

import os
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
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="for a folder of photos: worker processes, each loading the cutter once (default: 1, in "
                        "this process); the stickers are the same for any N")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="for a folder of photos: math-library threads (OpenCV, onnxruntime) per worker (default: "
                        "the cores shared out between the workers)")
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
    if args.mask_out == "":  # asked for, so never quietly left out
        raise UsageError("--mask-out is empty; give the mask's file (a folder for a folder of photos), or - for "
                         "standard output.")
    if args.photo != PIPE:
        try:
            os.lstat(args.photo)
        except FileNotFoundError:  # named before any check of the outputs; other reasons where it is read
            what = "folder of photos" if args.photo.endswith(("/", os.sep)) else "file"
            raise CompositorError(f"{args.photo}: no such {what}.") from None
        except (OSError, ValueError):
            pass
    if args.photo != PIPE and Path(args.photo).is_dir():
        from ...runs.executors import check_executor

        check_executor("local", args.workers, None, args.threads)
        return _cut_folder(args, method, settings, ready)
    for option, value in (("--workers", args.workers), ("--threads", args.threads)):
        if value is not None:
            one = "standard input" if args.photo == PIPE else args.photo
            raise UsageError(f"{option} goes with a folder of photos; {one} is one photo.")
    _cut_one(args, method, settings, ready)
    return 0


def _cut_one(args, method: str, settings: dict, ready) -> None:
    """One photo (a file or standard input) to a sticker file or standard output."""
    import hashlib

    from ... import api, records
    from ...cut_folder import sticker_paths, sticker_writes
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
    paths = sticker_paths(Path(args.output), len(stickers), bool(settings.get("all")))
    check_outputs(inputs, paths + [p.with_suffix(".json") for p in paths] + mask_paths)
    photo = photo or records.file_record(args.photo)
    _write_outputs(sticker_writes(paths, stickers, photo, ready.settings),
                   _mask(stickers, image.shape) if args.mask_out else None, args.mask_out, mask_to_pipe)
    _tell([str(p) for p in paths], stickers, method)


def _mask(stickers, shape):
    """The stickers' alphas placed back on the photo: float32 HxW in [0, 1]."""
    from ...cut.sticker import stickers_alpha

    return stickers_alpha(stickers, shape)


def _write_outputs(writes: list, mask, mask_out: str | None, mask_to_pipe: bool) -> None:
    """The sticker writes and the mask (to a file, or to standard output), all or nothing for the files."""
    from ...imageio import encode_png, mask_levels, write_all, write_mask

    if mask is not None and not mask_to_pipe:
        writes = writes + [(mask_out, lambda: write_mask(mask_out, mask))]
    write_all(writes)
    if mask is not None and mask_to_pipe:
        out_bytes(encode_png(mask_levels(mask)))


def _tell(names: list[str], stickers, method: str) -> None:
    """One line per sticker written, on stderr."""
    for name, sticker in zip(names, stickers):
        x, y, w, h = sticker.source_box
        say(f"{name}: {sticker.label} from box {x},{y},{w},{h} (score {sticker.score:.2f}, {method})")


def _cut_folder(args, method: str, settings: dict, ready) -> int:
    """Every photo of the folder ``args.photo`` into the folder ``args.output`` (and masks into
    ``args.mask_out``) on ``args.workers`` processes, with a progress bar; a photo that fails is
    reported and the rest go on."""
    from ...cut_folder import cut_folder, photos
    from ...runs.paths import within
    from ...runs.progress import ProgressReporter

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
    stickers, masks = Path(args.output), Path(args.mask_out or args.output)
    if args.mask_out and (within(masks, stickers) or within(stickers, masks)):
        raise UsageError(f"{args.mask_out}: the mask folder overlaps the sticker folder {args.output}, where a mask "
                         "and a sticker would take the same name; give --mask-out a folder of its own.")
    found = photos(folder)  # none, or two cut to one name: refused before any worker starts
    for photo in found:  # a link to a file in an output folder: another photo's sticker could replace it
        for option, value in outdirs:
            if within(photo, Path(value)):
                raise UsageError(f"{photo}: links to {photo.resolve()}, inside the {option} folder {value}, where "
                                 "a sticker or mask could replace it; move it out or give another folder.")
    summary = cut_folder(folder, args.output, ready, mask_dir=args.mask_out, workers=args.workers or 1,
                         threads=args.threads, setting_files=tuple(setting_files(settings)),
                         reporter=ProgressReporter(args.quiet, "cut", unit="photo"), found=found)
    failed = len(summary.failed)
    say(f"{summary.photos} photo(s): {summary.photos - failed} cut ({summary.stickers} sticker(s), {method}), "
        f"{failed} failed; stickers in {args.output}" + (f", masks in {args.mask_out}" if args.mask_out else ""))
    return 1 if failed else 0
