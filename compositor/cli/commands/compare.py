"""``compositor compare``: run several harmonizers side by side.

Harmonize one composite with several backends and write DIR/<backend>.png, DIR/grid.png
(labelled tiles with an enlarged crop of the seam), DIR/report.json (seconds, settings, quality
numbers) and DIR/index.html. A failing backend is reported and the others still run; the exit
code is then 1.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from ..bar import BarProgress
from ..options import OUTDIR_RULE, add_backend_options, add_force, add_traceback, backend_settings, backends, command
from ..output import out, say
from ..paths import check_outdir, setting_files


def add_parser(sub) -> None:
    """Add the ``compare`` command to the subparsers ``sub``."""
    p = command(sub, "compare", __doc__)
    p.add_argument("composite")
    p.add_argument("--mask", required=True, help="object mask (nonzero = object), same size as the composite")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help=f"the output folder: {OUTDIR_RULE}")
    add_force(p, "; the <backend>.png tiles an earlier compare wrote there (as its report.json lists them) that "
                 "this run does not write are removed, so the folder holds what index.html shows (a file changed since "
                 "is kept)")
    add_backend_options(p)
    p.add_argument("--truth", help="the real photo, for MSE, fMSE, bMSE, PSNR and SSIM against it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_traceback(p)


def run(args) -> int:
    """Run every backend of ``args.backends``, write the images, grid and reports, print a
    table; returns 0, or 1 when a backend failed."""
    from ... import api, records
    from ...compare import compare, read_report, stale_files, write_report
    from ...imageio import check_outputs, read_rgb

    names_run = backends(args.backends)
    settings = backend_settings(args.set, names_run)
    outdir = Path(args.output)
    names = ["composite.png"] + [f"{b}.png" for b in names_run] + ["grid.png", "report.json", "index.html"]
    inputs = [args.composite, args.mask] + ([args.truth] if args.truth else []) + setting_files(*settings.values())
    check_outputs(inputs, [outdir / n for n in names])
    check_outdir(outdir, args.force)
    earlier = read_report(outdir) if args.force else None  # what an earlier compare wrote there
    earlier_time = _changed(outdir / "report.json") if earlier else None  # and when
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

    rows = compare(composite, names_run, settings=settings, truth=truth, progress=bar)
    report = write_report(outdir, rows, composite, inputs={k: records.file_record(v) for k, v in
                                                           (("composite", args.composite), ("mask", args.mask),
                                                            ("truth", args.truth)) if v})
    for path in stale_files(outdir, earlier, report, keep=inputs, written_by=earlier_time):  # the folder as index.html
        path.unlink(missing_ok=True)
    out(f"{'backend':<10} {'seconds':>8} {'colour gap':>10} {'seam':>6}" + ("  fMSE     PSNR" if truth is not None else ""))
    for r in rows:
        if not r.ok:
            out(f"{r.backend:<10} FAILED: {r.error}")
            continue
        line = f"{r.backend:<10} {r.seconds:>8.2f} {r.metrics['color_gap']:>10.2f} {r.metrics['seam_ratio']:>6.2f}"
        if truth is not None:
            line += f"  {r.metrics['fmse']:<8.1f} {r.metrics['psnr']:.2f}"
        out(line)
    failed = [r.backend for r in rows if not r.ok]
    say(f"{outdir}: grid.png, report.json, index.html" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _changed(path: Path) -> int | None:
    """``path``'s status-change time (st_ctime_ns, never before its modification time) in
    nanoseconds, or None if it cannot be read."""
    try:
        return path.stat().st_ctime_ns
    except OSError:
        return None
