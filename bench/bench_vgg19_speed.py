"""Seconds per composite for the vgg19 backend at 1024 px (long side), warm and as a whole command.

Run:  .venv/bin/python bench/bench_vgg19_speed.py [--runs 5] [--warm-only]

1. In-process, warm: each built-in benchmark case (camera family) is upscaled to a long
   side of 1024 px and harmonized once to warm up, then timed over ``--runs`` runs
   (median), for vgg19 in learned mode, in fit mode (the default) and in fit mode as it was
   before the histogram start (``boundary=0.4, histogram=0``), ``boundary`` and ``none``, all in
   the same run.
2. Whole command: ``compositor harmonize`` on one such 1024 px composite, a fresh
   process each time, vgg19 in learned and fit mode against ``--backend none``,
   alternated run by run; the median wall time of each and their ratios to none.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CONFIGS = (("vgg19 --mode learned", "vgg19", {"mode": "learned"}), ("vgg19 --mode fit (default)", "vgg19", {"mode": "fit"}),
           ("fit as before (boundary 0.4, histogram 0)", "vgg19", {"mode": "fit", "boundary": 0.4, "histogram": 0.0}),
           ("boundary", "boundary", {}), ("none", "none", {}))


def upscaled(case):
    from compositor.ops.resize import resize
    from compositor.types import Composite

    h, w = case.composite.image.shape[:2]
    scale = 1024 / max(h, w)
    size = (round(w * scale), round(h * scale))
    return Composite(resize(case.composite.image, size), (resize(case.composite.mask, size) > 0.5).astype("float32"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warm-only", action="store_true", help="skip the whole-command timings")
    args = p.parse_args()
    from compositor import api, bench
    from compositor.imageio import write_image, write_mask

    cases = bench.builtin_cases(per_case=1, families=["camera"])
    print(f"## In-process, warm (median of {args.runs} runs), seconds per composite\n")
    print("| case | size | object | " + " | ".join(c[0] for c in CONFIGS) + " |")
    print("|---|---|---|" + "---|" * len(CONFIGS))
    per = {c[0]: [] for c in CONFIGS}
    for case in cases:
        comp = upscaled(case)
        cells = []
        for label, backend, settings in CONFIGS:
            api.harmonize(comp, backend, **settings)  # warm-up: model load happens once per process
            runs = []
            for _ in range(args.runs):
                t = time.perf_counter()
                api.harmonize(comp, backend, **settings)
                runs.append(time.perf_counter() - t)
            per[label].append(statistics.median(runs))
            cells.append(f"{per[label][-1]:.3f}")
        h, w = comp.image.shape[:2]
        print(f"| {case.name} | {w}x{h} | {float((comp.mask > 0.5).mean()):.3f} | " + " | ".join(cells) + " |", flush=True)
    print("| **median** | | | " + " | ".join(f"**{statistics.median(v):.3f}**" for v in per.values()) + " |")
    if args.warm_only:
        return

    exe = str(Path(sys.executable).with_name("compositor"))
    with tempfile.TemporaryDirectory() as tmp:
        comp = upscaled(cases[0])
        write_image(Path(tmp) / "c.png", comp.image)
        write_mask(Path(tmp) / "m.png", comp.mask)
        commands = {"vgg19 --mode learned": ["--backend", "vgg19", "--mode", "learned"],
                    "vgg19 --mode fit": ["--backend", "vgg19", "--mode", "fit"], "none": ["--backend", "none"]}
        walls = {label: [] for label in commands}
        for i in range(args.runs + 1):
            for label, extra in commands.items():
                cmd = [exe, "harmonize", f"{tmp}/c.png", "--mask", f"{tmp}/m.png", *extra,
                       "-o", f"{tmp}/o-{len(walls[label])}-{i}.png", "-q"]
                t = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                if i:  # the first round warms the file cache
                    walls[label].append(time.perf_counter() - t)
        print(f"\n## Whole `compositor harmonize` call on {cases[0].name} at 1024 px ({args.runs} alternating runs)\n")
        print("| command | median wall s | min | max | / none (median of per-round ratios) |\n|---|---|---|---|---|")
        for label, v in walls.items():
            ratio = statistics.median(x / y for x, y in zip(v, walls["none"]))
            print(f"| {label} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
