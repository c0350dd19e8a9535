"""``compositor batch``: run the composites listed in a manifest.

Run every job of a manifest (JSON Lines, one job a line: id, background, objects cut from a
source photo or read from a sticker, position, scale, rotation, backend, settings, seed, output;
or CSV, one object per row). Each job writes its image and a JSON sidecar into OUTDIR;
OUTDIR/results.jsonl records per job ok/failed, the error and seconds. A failing job never stops
the batch. Relative paths resolve against the manifest's folder; outputs must stay inside
OUTDIR. A job's "mask" (or --masks, for every job) also writes an object-id PNG: 0 background,
k where the job's k-th object is visible.
"""
from __future__ import annotations

from ... import plugins
from ...harmonizers import DEFAULT_BACKEND
from ..options import add_run_options, command
from ..output import say


def add_parser(sub) -> None:
    """Add the ``batch`` command to the subparsers ``sub``."""
    p = command(sub, "batch", __doc__)
    p.add_argument("manifest", help="jobs: .jsonl or .csv")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=plugins.names("harmonizer") or None,
                   help="harmonizer for jobs that name none (default: %(default)s)")
    p.add_argument("--masks", action="store_true",
                   help="write an object-id mask beside each output (NAME_mask.png: 0 background, k the job's "
                        "k-th object) for the jobs that name no 'mask'")
    add_run_options(p)


def run(args) -> int:
    """Run the manifest's jobs and print the summary line; returns 0, or 1 when a job failed."""
    from ...batch import run_batch
    from ...runs.progress import ProgressReporter

    summary = run_batch(args.manifest, args.output, workers=args.workers, threads=args.threads, executor=args.executor,
                        ray_address=args.ray_address, resume=args.resume, default_backend=args.backend, masks=args.masks,
                        reporter=ProgressReporter(args.quiet, "batch"))
    say(summary.line())
    return 1 if summary.failed else 0
