"""Benchmark: `synth` throughput (composites per minute) per backend and worker count.

Run:  .venv/bin/python bench/bench_batch.py [--backends poisson,magenta,vgg19] [--workers 1,2]
          [--size 640x480] [--count poisson=60,magenta=16,vgg19=4] [--repeats 3] [--vgg19-iterations 10]
          [--no-magenta-capped]

Every configuration generates the same images (same seed) at 640x480 into a fresh
folder. Two rates: end to end (the whole `synth` call: spawning workers, imports and
setup included; cutting excluded, the objects are cut once before timing as `synth`
does), and once running (after the workers are up: what a long run of 100k images
approaches; a backend's model is still loaded inside the first job of each worker).
Each configuration runs ``--repeats`` times (vgg19 once) and the median is reported, in
one run of this script so the numbers are comparable. The 1-minute load average before
and after each configuration is printed beside it: other processes on the machine slow
the numbers, and 2 workers cannot run twice as fast on cores others are using.

"magenta, ORT capped" rows (unless --no-magenta-capped): the same runs with each worker's
onnxruntime sessions made with intra_op_num_threads = the worker's share of the cores
and thread spinning off. It shows what that change to compositor/harmonize/magenta.py
(whose sessions use onnxruntime's defaults: every core, spin-waiting) would give; the
bench applies it from outside, through an executor setup that fills magenta's session
cache before the first job.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")



def cap_onnxruntime(threads: int) -> None:
    """Worker setup: magenta's ONNX sessions with ``threads`` intra-op threads, no spinning."""
    from pathlib import Path as _Path

    import onnxruntime as ort

    from compositor import models
    from compositor.harmonize import magenta

    for name in (magenta.PREDICT_MODEL, magenta.TRANSFORM_MODEL):
        key = str(_Path(models.locate(name)).resolve())
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        magenta._SESSIONS[key] = ort.InferenceSession(key, options, providers=["CPUExecutionProvider"])


def prepare(folder: Path) -> tuple[Path, Path]:
    """Objects cut once from the samples (RGBA stickers) and the sample photos as backgrounds."""
    from compositor import api
    from compositor.imageio import read_rgb, write_image

    objects, backgrounds = folder / "objects", folder / "backgrounds"
    cuts = {"cup": ("coffee.png", {}), "cat": ("chelsea.png", {}), "person": ("astronaut.png", {})}
    for label, (name, settings) in cuts.items():
        sticker = api.cut(ROOT / "samples" / name, "grabcut", **settings)[0]
        write_image(objects / label / f"{Path(name).stem}.png", sticker.rgba)
    for name in ("coffee.png", "chelsea.png", "astronaut.png"):
        write_image(backgrounds / name, read_rgb(ROOT / "samples" / name))
    return objects, backgrounds


def parse_counts(text: str) -> dict[str, int]:
    out = {}
    for item in filter(None, text.split(",")):
        name, _, n = item.partition("=")
        out[name.strip()] = int(n)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="poisson,magenta,vgg19")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--count", default="poisson=60,none=60,reinhard=60,magenta=16,vgg19=4",
                        help="images per configuration and backend")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (vgg19: 1); median reported")
    parser.add_argument("--vgg19-iterations", type=int, default=10, help="Adam steps per vgg19 composite")
    parser.add_argument("--executor", default="local", choices=("local", "ray"))
    parser.add_argument("--no-magenta-capped", action="store_true", help="skip the 'magenta, ORT capped' rows")
    args = parser.parse_args()

    from compositor.executors import InlineExecutor, ProcessExecutor, available_cores, threads_per_worker
    from compositor.synth import SynthSettings, parse_size, synth

    def run_once(backend_settings, out, workers, capped):
        """(images, seconds, start-up seconds) of one synth run."""
        t0 = time.perf_counter()
        if not capped:
            summary = synth(objects, backgrounds, out, backend_settings, workers=workers, executor=args.executor)
            start = summary.start_seconds
        else:
            ex = InlineExecutor() if workers == 1 else ProcessExecutor(workers)
            try:
                ex.setup(cap_onnxruntime, available_cores() if workers == 1 else threads_per_worker(workers))
                t_ready = time.perf_counter()
                summary = synth(objects, backgrounds, out, backend_settings, executor=ex)
            finally:
                ex.close()
            start = (t_ready - t0) + summary.start_seconds
        seconds = time.perf_counter() - t0
        if summary.failed:
            bad = next(r for r in summary.records if r["status"] != "ok")
            raise SystemExit(f"{out.name}: {summary.failed} composite(s) failed: {bad['error']}")
        return summary.ok, seconds, start

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    worker_counts = [int(w) for w in args.workers.split(",")]
    counts = parse_counts(args.count)
    size = parse_size(args.size)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        objects, backgrounds = prepare(tmp)
        load_start = os.getloadavg()
        configs = [(b, b, False) for b in backends]
        if "magenta" in backends and not args.no_magenta_capped and args.executor == "local":
            configs.insert(backends.index("magenta") + 1, ("magenta, ORT capped", "magenta", True))
        for label, backend, capped in configs:
            n = counts.get(backend, 8)
            extra = {"vgg19": {"iterations": args.vgg19_iterations}} if backend == "vgg19" else {}
            settings = SynthSettings(count=n, seed=0, size=size, objects_per_image=(1, 3),
                                     backends=(backend,), backend_settings=extra)
            repeats = 1 if backend == "vgg19" else max(1, args.repeats)
            base = None
            for workers in worker_counts:
                rates, running, starts, loads = [], [], [], [os.getloadavg()[0]]
                for r in range(repeats):
                    done, seconds, start = run_once(settings, tmp / f"{backend}_{capped}_{workers}_{r}", workers,
                                                    capped)
                    rates.append(done / seconds * 60)
                    running.append(done / (seconds - start) * 60)
                    starts.append(start)
                    loads.append(os.getloadavg()[0])
                rate, run_rate = statistics.median(rates), statistics.median(running)
                base = (rate, run_rate) if base is None else base
                rows.append((label, workers, n, repeats, rate, rate / base[0], run_rate, run_rate / base[1],
                             statistics.median(starts), loads[0], loads[-1]))
                print(f"  {label} x{workers}: {rate:.1f}/min end to end, {run_rate:.1f}/min running "
                      f"(runs: {', '.join(f'{v:.1f}' for v in running)})", file=sys.stderr, flush=True)
        load_end = os.getloadavg()

    print(f"\nsynth throughput at {size[0]}x{size[1]}, {args.executor} executor; {available_cores()} cores, "
          f"Python {platform.python_version()}, {platform.machine()}; vgg19: default mode, at most "
          f"{args.vgg19_iterations} steps")
    print(f"load average (1/5/15 min) at start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"at end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}\n")
    print("| backend | workers | images | runs | composites/min end to end | vs 1 worker | composites/min running "
          "| vs 1 worker | start-up s | load 1-min before -> after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for backend, workers, n, repeats, rate, ratio, run_rate, run_ratio, start, l0, l1 in rows:
        print(f"| {backend} | {workers} | {n} | {repeats} | {rate:.1f} | {ratio:.2f}x | {run_rate:.1f} | "
              f"{run_ratio:.2f}x | {start:.1f} | {l0:.2f} -> {l1:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
