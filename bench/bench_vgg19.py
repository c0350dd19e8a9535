"""Benchmark: seconds per VGG19 neural-style iteration (--mode seed) at 256, 512 and 1024 px, and the demo's total time.

Run:  .venv/bin/python bench/bench_vgg19.py [--steps 6] [--sizes 256,512,1024] [--no-demo]

Each row times the optimisation steps after the first two (which include graph
tracing), median of the rest. The baseline measured in the same run is one forward
pass of the truncated VGG19 at that size (the floor a step cannot go below: a step is
a forward and a backward pass).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def composite_at(size: int):
    from compositor.ops.resize import resize
    from compositor.imageio import read_rgb
    from compositor.paste import Placement, paste
    from compositor.types import Sticker

    bg = read_rgb(ROOT / "samples" / "chelsea.png")
    cup = read_rgb(ROOT / "samples" / "coffee.png")
    h, w = bg.shape[:2]
    bg = resize(bg, (size, round(h * size / w)))
    rgba = np.dstack([resize(cup, (size // 3, size // 4 + 1)), np.full((size // 4 + 1, size // 3), 255, np.uint8)])
    sticker = Sticker(rgba=rgba, label="cup", source_box=(0, 0, rgba.shape[1], rgba.shape[0]), score=1, method="bench")
    return paste(bg, [Placement(sticker, size * 0.3, bg.shape[0] * 0.7)])


def time_steps(size: int, steps: int, optimizer: str) -> tuple[float, int]:
    from compositor.harmonizers.vgg19 import VGG19Harmonizer, VGGSettings

    stamps: list[float] = []

    class Clock:
        snapshot_every = 0

        def update(self, step, total, **info):
            stamps.append(time.perf_counter())

        def snapshot(self, step, image):
            pass

    comp = composite_at(size)
    VGG19Harmonizer().harmonize(comp, VGGSettings(mode="seed", iterations=steps, max_size=size, optimizer=optimizer),
                                 Clock())
    gaps = np.diff(stamps)[1:]  # drop the gap that includes tracing
    return statistics.median(gaps), comp.image.shape[0]


def time_forward(size: int) -> float:
    import tensorflow as tf

    from compositor.harmonizers.vgg19 import CONTENT_LAYERS, STYLE_LAYERS
    from compositor.nst import network

    comp = composite_at(size)
    ex = network.extractor("vgg19", network.resolve_weights("vgg19"), tuple(dict.fromkeys(CONTENT_LAYERS + STYLE_LAYERS)))
    x = tf.constant(comp.image[None].astype(np.float32))
    fwd = tf.function(lambda t: ex(t))
    fwd(x)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        out = fwd(x)
        _ = [v.numpy() for v in out.values()]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_demo() -> float:
    exe = Path(sys.executable).with_name("compositor")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(exe), "compose", "samples/coffee.png", "samples/chelsea.png", "--at", "110,225,0.3",
               "--backend", "vgg19", "-o", tmp, "-q"]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--optimizers", default="adam,lbfgs")
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print()
    print("| size (long side) | image | forward pass s (baseline) | optimizer | s / iteration | iteration / forward | 2000 steps (extrapolated) |")
    print("|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        fwd = time_forward(size)
        for opt in args.optimizers.split(","):
            per_step, h = time_steps(size, args.steps, opt)
            print(f"| {size} | {size}x{h} | {fwd:.3f} | {opt} | {per_step:.3f} | {per_step / fwd:.1f}x | {per_step * 2000 / 60:.0f} min |",
                  flush=True)
    if not args.no_demo:
        print()
        print("| demo (scripts/demo.sh's compose, default settings) | seconds |")
        print("|---|---|")
        print(f"| compose coffee cup onto chelsea, vgg19 | {time_demo():.1f} |")


if __name__ == "__main__":
    main()
