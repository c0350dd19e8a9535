"""Benchmark: `synth` throughput (composites per minute) per backend, worker count and threads.

Run:  .venv/bin/python bench/bench_batch.py [--backends poisson,magenta,vgg19] [--size 640x480]
          [--count poisson=240,magenta=160,vgg19=16] [--repeats 3] [--vgg19-iterations 10]
          [--executor local|ray]

For each backend three configurations generate the same images (same seed) at 640x480,
each into a fresh folder:

- 1 worker, default threads: the run in this process, its libraries (OpenCV,
  onnxruntime, TensorFlow) free to use every core. This is ``--workers 1``.
- 1 worker, 1 thread: the same with ``--threads 1``: one core's worth of work.
- 2 workers: ``--workers 2``, each worker with its share of the cores (1 thread each on
  a 2-core machine).

Each run is a fresh Python process, as a `compositor synth` command is (a library's
thread pool, once made, keeps its size for the life of a process). The configurations
take turns (repeat 1 of each, then repeat 2 of each, ...) so that a change in the
machine's load over the run touches them alike; the median of the repeats is reported.
Two rates: end to end (the whole `synth` call: spawning workers, imports, loading models;
the objects are stickers, so nothing is cut; the interpreter's own start is left out) and
running (from the first job on: what a long run approaches). "cores used" is the CPU time
of the run's process and its workers over the wall time: what it kept busy.
"""
from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import common  # noqa: E402 (bench/, on the path above)


def prepare(folder: Path) -> tuple[Path, Path]:
    """Objects cut once from the samples (RGBA stickers) and the sample photos as backgrounds."""
    from compositor import api
    from compositor.imageio import read_rgb, write_image

    objects, backgrounds = folder / "objects", folder / "backgrounds"
    cuts = {"cup": "coffee.png", "cat": "chelsea.png", "person": "astronaut.png"}
    for label, name in cuts.items():
        sticker = api.cut(ROOT / "samples" / name, "grabcut")[0]
        write_image(objects / label / f"{Path(name).stem}.png", sticker.rgba)
    for name in cuts.values():
        write_image(backgrounds / name, read_rgb(ROOT / "samples" / name))
    return objects, backgrounds


def parse_counts(text: str) -> dict[str, int]:
    out = {}
    for item in filter(None, text.split(",")):
        name, _, n = item.partition("=")
        out[name.strip()] = int(n)
    return out


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (waited-for) children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_run(spec: dict) -> dict:
    """One synth run as the spec says, in this (fresh) process: rates and CPU use."""
    from compositor.synth import SynthSettings, synth

    extra = {"vgg19": {"iterations": spec["iterations"]}} if spec["backend"] == "vgg19" else {}
    settings = SynthSettings(count=spec["n"], seed=0, size=tuple(spec["size"]), objects_per_image=(1, 3),
                             backends=(spec["backend"],), backend_settings=extra)
    c0, t0 = cpu_seconds(), time.perf_counter()
    summary = synth(spec["objects"], spec["backgrounds"], spec["out"], settings, workers=spec["workers"],
                    threads=spec["threads"], executor=spec["executor"])
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    error = next((x["error"] for x in summary.records if x["status"] != "ok"), None)
    return {"ok": summary.ok, "failed": summary.failed, "error": error, "seconds": seconds,
            "start": summary.start_seconds, "cpu": cpu}


def main() -> int:
    parser = common.parser(__doc__)
    parser.add_argument("--backends", default="poisson,magenta,vgg19")
    parser.add_argument("--count", default="poisson=240,none=240,reinhard=240,magenta=160,vgg19=16",
                        help="images per run, by backend (the defaults keep a 1-worker run near 40 s here)")
    common.add_runs(parser, repeats=3, repeats_help="runs per configuration (vgg19: 1); median reported")
    parser.add_argument("--vgg19-iterations", type=int, default=10, help="Adam steps per vgg19 composite")
    parser.add_argument("--executor", default="local", choices=("local", "ray"))
    args = parser.parse_args()
    if common.one_run_here(args, one_run):
        return 0

    from compositor.runs.executors import available_cores
    from compositor.synth import parse_size

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    counts = parse_counts(args.count)
    size = parse_size(args.size)
    configs = [("1 worker", 1, None), ("1 worker, --threads 1", 1, 1), ("2 workers", 2, None)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        objects, backgrounds = prepare(tmp)
        load_start = os.getloadavg()
        for backend in backends:
            n = counts.get(backend, 8)
            repeats = 1 if backend == "vgg19" else max(1, args.repeats)
            runs: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, _, _ in configs}
            loads = [os.getloadavg()[0]]
            for r in range(repeats):
                for label, workers, threads in configs:
                    spec = {"objects": str(objects), "backgrounds": str(backgrounds), "backend": backend,
                            "out": str(tmp / f"{backend}_{workers}_{threads}_{r}"), "n": n, "size": list(size),
                            "workers": workers, "threads": threads, "executor": args.executor,
                            "iterations": args.vgg19_iterations}
                    got = common.fresh_run(__file__, spec, f"{backend}, {label}", "composite")
                    seconds, start, cpu = got["seconds"], got["start"], got["cpu"]
                    runs[label].append((n / seconds * 60, n / (seconds - start) * 60, start, cpu / seconds))
                    print(f"  {backend}, {label}, run {r + 1}: {n / seconds * 60:.1f}/min end to end, "
                          f"{n / (seconds - start) * 60:.1f}/min running, {cpu / seconds:.2f} cores",
                          file=sys.stderr, flush=True)
                loads.append(os.getloadavg()[0])
            med = {label: [statistics.median(v[i] for v in runs[label]) for i in range(4)] for label in runs}
            one, one_thread = med["1 worker"], med["1 worker, --threads 1"]
            for label, workers, threads in configs:
                rate, run_rate, start, cores = med[label]
                rows.append((backend, label, n, repeats, rate, rate / one[0], rate / one_thread[0], run_rate,
                             run_rate / one[1], run_rate / one_thread[1], start, cores, loads[0], loads[-1]))
        load_end = os.getloadavg()

    print(f"\nsynth throughput at {size[0]}x{size[1]}, {args.executor} executor; {available_cores()} cores, "
          f"Python {platform.python_version()}, {platform.machine()}; vgg19: default mode, at most "
          f"{args.vgg19_iterations} steps")
    print(common.load_line(load_start, load_end))
    print("| backend | configuration | images | runs | composites/min end to end | vs 1 worker | "
          "vs 1 worker, 1 thread | composites/min running | vs 1 worker | vs 1 worker, 1 thread | start-up s | "
          "cores used | load 1-min before -> after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (backend, label, n, repeats, rate, r1, r1t, run_rate, q1, q1t, start, cores, l0, l1) in rows:
        print(f"| {backend} | {label} | {n} | {repeats} | {rate:.1f} | {r1:.2f}x | {r1t:.2f}x | {run_rate:.1f} | "
              f"{q1:.2f}x | {q1t:.2f}x | {start:.1f} | {cores:.2f} | {l0:.2f} -> {l1:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
