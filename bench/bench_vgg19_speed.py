"""Seconds per composite for the default vgg19 backend at 1024 px (long side).

Run:  .venv/bin/python bench/bench_vgg19_speed.py

Each built-in benchmark case (objects under 30% of the image) is upscaled to a long
side of 1024 px and harmonized once to warm up, then timed over 3 runs (median),
beside the `boundary` and `none` backends measured in the same run.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    from compositor import api, bench
    from compositor.harmonize.base import resize
    from compositor.types import Composite

    cases = bench.builtin_cases(per_case=1, families=["camera"])
    print("| case | size | object | vgg19 s (median of 3) | boundary s | none s |")
    print("|---|---|---|---|---|---|")
    all_vgg = []
    for case in cases:
        h, w = case.composite.image.shape[:2]
        scale = 1024 / max(h, w)
        size = (round(w * scale), round(h * scale))
        comp = Composite(resize(case.composite.image, size), (resize(case.composite.mask, size) > 0.5).astype("float32"))
        times = {}
        for backend in ("vgg19", "boundary", "none"):
            api.harmonize(comp, backend)  # warm-up: model load and tracing happen once per process
            runs = []
            for _ in range(3):
                t = time.perf_counter()
                api.harmonize(comp, backend)
                runs.append(time.perf_counter() - t)
            times[backend] = statistics.median(runs)
        all_vgg.append(times["vgg19"])
        print(f"| {case.name} | {size[0]}x{size[1]} | {float((comp.mask > 0.5).mean()):.3f} | {times['vgg19']:.2f} | "
              f"{times['boundary']:.3f} | {times['none']:.4f} |", flush=True)
    print(f"\nvgg19 at 1024 px: median {statistics.median(all_vgg):.2f} s, max {max(all_vgg):.2f} s per composite")


if __name__ == "__main__":
    main()
