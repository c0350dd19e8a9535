"""Benchmark: seconds per harmonize call of the magenta backend (onnx source) on a 1024 px composite.

Run:  .venv/bin/python bench/bench_magenta.py [--size 1024] [--calls 5] [--profile]

The composite is chelsea.png scaled to SIZE px on its long side with the coffee cup
(its reference mask) pasted so that it covers about 15% of the image. The ONNX
sessions are created once per process: the first magenta call (session creation
included) is reported as "cold", then the median of CALLS warm calls. The ``none`` and
``poisson`` backends are measured in the same run on the same composite (baselines).
With --profile the warm magenta time is split into its stages (from Result.stats).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def composite_at(size: int, fraction: float = 0.15):
    from compositor.ops.resize import resize
    from compositor.imageio import read_mask, read_rgb
    from compositor.paste import Placement, paste
    from compositor.types import Sticker

    bg = read_rgb(ROOT / "samples" / "chelsea.png")
    h, w = bg.shape[:2]
    scale = size / max(h, w)
    bg = resize(bg, (round(w * scale), round(h * scale)))
    photo = read_rgb(ROOT / "samples" / "coffee.png")
    mask = read_mask(ROOT / "samples" / "masks" / "coffee_cup.png")
    x, y, bw, bh = cv2.boundingRect((mask > 0).astype(np.uint8))
    alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)
    rgba = np.dstack([photo, alpha])[y:y + bh, x:x + bw]
    sticker = Sticker(rgba=rgba, label="cup", source_box=(x, y, bw, bh), score=1.0, method="reference-mask")
    # Scale the cup so its visible area is `fraction` of the background's.
    area = float((mask > 0).sum())
    k = float(np.sqrt(fraction * bg.shape[0] * bg.shape[1] / area))
    return paste(bg, [Placement(sticker, bg.shape[1] * 0.45, bg.shape[0] * 0.5, k)])


def timed(harmonizer, comp, settings, calls: int):
    """(first call s, median of the next `calls` s, the last Result)."""
    t = time.perf_counter()
    harmonizer.harmonize(comp, settings)
    first = time.perf_counter() - t
    times, results = [], []
    for _ in range(calls):
        t = time.perf_counter()
        results.append(harmonizer.harmonize(comp, settings))
        times.append(time.perf_counter() - t)
    return first, statistics.median(times), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="split the warm magenta time into stages")
    args = parser.parse_args()

    import onnxruntime

    from compositor.harmonizers.none import NoneHarmonizer
    from compositor.harmonizers.poisson import PoissonHarmonizer
    from compositor.harmonizers.magenta import MagentaHarmonizer, MagentaSettings

    comp = composite_at(args.size)
    h, w = comp.image.shape[:2]
    obj = float((comp.mask > 0).mean())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
          f"{platform.python_version()}; onnxruntime {onnxruntime.__version__}")
    print(f"composite: {w}x{h}, object {obj:.1%} of the image; {args.calls} warm calls each")
    print()

    rows = []
    cold, warm, results = timed(MagentaHarmonizer(), comp, MagentaSettings(source="onnx"), args.calls)
    box = results[-1].params["region_box"]
    rows.append(("magenta (onnx)", cold, warm, f"region {box[2]}x{box[3]} -> {results[-1].params['working_size']}"))
    for name, cls in (("none", NoneHarmonizer), ("poisson", PoissonHarmonizer)):
        first, med, _ = timed(cls(), comp, None, args.calls)
        rows.append((f"{name} (baseline)", first, med, ""))

    print("| backend | cold (first call) s | warm s (median) | note |")
    print("|---|---|---|---|")
    for name, first, med, note in rows:
        print(f"| {name} | {first:.3f} | {med:.3f} | {note} |")

    if args.profile:
        keys = ("seconds_load", "seconds_predict", "seconds_transform", "seconds_blend")
        print()
        print("| magenta stage | warm s (median) |")
        print("|---|---|")
        for k in keys:
            print(f"| {k[8:]} | {statistics.median(r.stats[k] for r in results):.3f} |")
        rest = statistics.median(r.seconds - sum(r.stats[k] for k in keys) for r in results)
        print(f"| other (style prep, crop, resize) | {rest:.3f} |")


if __name__ == "__main__":
    main()
