"""Benchmark: `synth` images per minute with its default settings at 640x480, 1 and 2 workers.

Run:  .venv/bin/python bench/bench_synth.py [--count 60] [--repeats 2] [--size 640x480]

Default settings are `compositor synth --size 640x480 -n COUNT` with nothing else: 1-4
objects per image, the none and poisson harmonizers drawn per image, polygon segmentation
through pycocotools, a 10% val split. A second pair of rows adds every dataset output
(`--yolo --voc --instance-masks`), so the cost of those is measured beside the default.
The objects are three stickers cut once from the sample photos (so nothing is cut during
the runs); the backgrounds are the sample photos.

Each run is a fresh Python process (as a `compositor synth` command is) writing into a fresh
folder; the configurations take turns (repeat 1 of each, then repeat 2, ...) so that a change
in the machine's load touches them alike, and the median is reported. "end to end" is the
whole `synth` call (worker start, imports, the run); the interpreter's own start is left out.
The load average before and after is printed: on a shared machine the figures move with it.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402 (bench/, on the path above)

CONFIGS = [("default, 1 worker", 1, {}), ("default, 2 workers", 2, {}),
           ("+ --yolo --voc --instance-masks, 1 worker", 1, {"yolo": True, "voc": True, "instance_masks": True}),
           ("+ --yolo --voc --instance-masks, 2 workers", 2, {"yolo": True, "voc": True, "instance_masks": True})]


def one_run(spec: dict) -> dict:
    """One synth run with the default settings (plus ``spec["extra"]``), in this fresh process."""
    from bench_batch import cpu_seconds

    from compositor.synth import SynthSettings, synth

    settings = SynthSettings(count=spec["n"], size=tuple(spec["size"]), **spec["extra"])
    c0, t0 = cpu_seconds(), time.perf_counter()
    summary = synth(spec["objects"], spec["backgrounds"], spec["out"], settings, workers=spec["workers"])
    seconds = time.perf_counter() - t0
    error = next((x["error"] for x in summary.records if x["status"] != "ok"), None)
    return {"ok": summary.ok, "failed": summary.failed, "error": error, "seconds": seconds,
            "start": summary.start_seconds, "cores": (cpu_seconds() - c0) / seconds,
            "annotations": summary.annotations}


def main() -> int:
    parser = common.parser(__doc__)
    parser.add_argument("--count", type=int, default=60, help="images per run (default: %(default)s)")
    common.add_runs(parser, repeats=2, repeats_help="runs per configuration; median reported")
    args = parser.parse_args()
    if common.one_run_here(args, one_run):
        return 0

    from bench_batch import prepare

    from compositor.runs.executors import available_cores
    from compositor.synth import parse_size

    size = parse_size(args.size)
    results: dict[str, list[dict]] = {label: [] for label, _, _ in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        tmp = Path(tmp)
        objects, backgrounds = prepare(tmp)
        load_start = os.getloadavg()
        for r in range(max(1, args.repeats)):
            for i, (label, workers, extra) in enumerate(CONFIGS):
                spec = {"objects": str(objects), "backgrounds": str(backgrounds), "out": str(tmp / f"run_{i}_{r}"),
                        "n": args.count, "size": list(size), "workers": workers, "extra": extra}
                got = common.fresh_run(__file__, spec, label, "image")
                results[label].append(got)
                print(f"  {label}, run {r + 1}: {args.count / got['seconds'] * 60:.1f} images/min end to end, "
                      f"{got['cores']:.2f} cores", file=sys.stderr, flush=True)
        load_end = os.getloadavg()

    print(f"\nsynth, default settings, {size[0]}x{size[1]}, {args.count} images per run, median of "
          f"{max(1, args.repeats)} run(s); {available_cores()} cores, Python {platform.python_version()}, "
          f"{platform.machine()}")
    print(common.load_line(load_start, load_end))
    print("| configuration | images/min end to end | vs 1 worker | images/min running | start-up s | cores used |")
    print("|---|---:|---:|---:|---:|---:|")
    base = {}
    for label, workers, extra in CONFIGS:
        runs = results[label]
        rate = statistics.median(args.count / x["seconds"] * 60 for x in runs)
        running = statistics.median(args.count / (x["seconds"] - x["start"]) * 60 for x in runs)
        key = json.dumps(extra, sort_keys=True)
        base.setdefault(key, rate)  # the 1-worker row of the same outputs comes first
        print(f"| {label} | {rate:.1f} | {rate / base[key]:.2f}x | {running:.1f} | "
              f"{statistics.median(x['start'] for x in runs):.1f} | {statistics.median(x['cores'] for x in runs):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
