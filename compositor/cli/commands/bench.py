"""``compositor bench``: score harmonizers on the iHarmony4 protocol.

Perturb the object in real photos and ask each harmonizer to restore them; report fMSE (object),
bMSE (seam band), MSE, PSNR, SSIM and seconds per image, per perturbation family, with `none`
(the composite as is) always measured in the same run. Without --cases the built-in set is used.
"""
from __future__ import annotations

from ...errors import UsageError
from ..options import add_backend_options, add_traceback, backend_settings, backends, command
from ..output import out


def add_parser(sub) -> None:
    """Add the ``bench`` command to the subparsers ``sub``."""
    p = command(sub, "bench", __doc__)
    p.add_argument("--cases", help="a folder in iHarmony4's layout: composite_images/NAME_K_J.jpg, "
                                   "masks/NAME_K.png, real_images/NAME.jpg")
    add_backend_options(p)
    p.add_argument("--families", default="transfer,camera", help="built-in perturbation families (default: %(default)s)")
    p.add_argument("--per-case", type=int, default=2, help="perturbations per photo and family (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the built-in perturbations (default: %(default)s)")
    p.add_argument("--max-side", type=int, help="downscale built-in photos to this long side")
    p.add_argument("--size", type=int, metavar="N", help="with --cases: resize composite, mask (thresholded at 128) "
                                                         "and real photo to N x N, the field's protocol (papers use "
                                                         "256); default: native size")
    p.add_argument("--match", metavar="LIST", help="also run the finishing stage's matching (blur,noise,jpeg, all) "
                                                  "after every backend: the do-no-harm check, where object and "
                                                  "background come from the same photo")
    p.add_argument("--json", metavar="OUT", help="write the summary and every row to this JSON file")
    p.add_argument("-v", "--verbose", action="store_true", help="also print one row per case")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_traceback(p)


def run(args) -> int:
    """Run the benchmark, print its table (and rows with ``-v``), write ``--json``; returns 0."""
    from ... import bench
    from ...imageio import check_writable, write_json
    from ...progress import bar as progress_bar

    # the baseline, first, every run
    names = [bench.BASELINE] + [b for b in backends(args.backends) if b != bench.BASELINE]
    settings = backend_settings(args.set, names)
    if not 1 <= args.per_case <= 1000:
        raise UsageError(f"--per-case must be between 1 and 1000; received {args.per_case}.")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be between 0 and {2**63 - 1}; received {args.seed}.")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    match: list[str] = []
    if args.match:
        from ...finish import parse_match

        match = list(parse_match(args.match, "--match"))  # refused before any work
    if args.json:
        check_writable(args.json)
    if args.size is not None and not args.cases:
        raise UsageError("--size goes with --cases (the built-in set takes --max-side).")
    if args.cases:
        cases = bench.load_cases_dir(args.cases, size=args.size)
    else:
        cases = bench.builtin_cases(seed=args.seed, per_case=args.per_case, max_side=args.max_side,
                                    families=families)
    bar = progress_bar(len(cases) * len(names), desc="bench", unit="run", quiet=args.quiet)

    def on_result(row: dict) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{row['case']} {row['backend']}", refresh=False)
            bar.update(1)

    try:
        rows = bench.run(cases, names, settings, on_result, finish={"match": args.match} if args.match else None)
    finally:
        if bar is not None:
            bar.close()
    summary = bench.summarize(rows)
    if args.verbose:
        out("| case | family | backend | object | fMSE | bMSE | PSNR | s |")
        out("|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r.get("ok"):
                out(f"| {r['case']} | {r['family']} | {r['backend']} | {r['object_fraction']:.3f} | {r['fmse']:.1f} | "
                    f"{r['bmse']:.1f} | {r['psnr']:.2f} | {r['seconds']:.2f} |")
            else:
                out(f"| {r['case']} | {r['family']} | {r['backend']} | failed: {r['error']} |")
        out()
    out(bench.table(summary))
    if args.json:
        write_json(args.json, {"cases": len(cases), "seed": args.seed, "backends": names, "settings": settings,
                               "match": match, "summary": summary, "rows": rows})
    return 0
