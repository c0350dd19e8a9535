"""Benchmark: cut quality and speed per method against hand-drawn masks.

Run:  .venv/bin/python bench/bench_cut.py --cases ../shared/data/duts-te-dev [--limit 150]
          [--methods grabcut,u2net,u2net:refine=matting,u2net:refine=none] [--json out.json]

CASES is any folder with ``images/STEM.(jpg|png)`` and ``masks/STEM.png`` (nonzero = object),
e.g. DUTS-TE. Each method cuts every photo automatically (no box), in this process; the
sticker's alpha is placed back on the photo and scored against the mask:

- IoU of alpha > 0.5 with the mask; the share of photos below IoU 0.3 (a failed cut);
- MAE of the soft alpha (0..1) against the mask;
- boundary F: the two edges matched within 0.75% of the image diagonal;
- s/photo: wall-clock seconds of the cut call (the photo already decoded), after one
  warm-up cut that loads the model.

A photo the cutter finds nothing in scores as an empty cut (IoU 0) and is counted in
"no object". With --limit N, the first N photos by name are used, and the table says so.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import common  # noqa: E402 (bench/, on the path above)

DEFAULT_METHODS = "grabcut,u2net,u2net:refine=matting,u2net:refine=none"


def parse_method(spec: str) -> tuple[str, dict[str, str]]:
    """``name`` or ``name:key=value,key=value``."""
    name, _, rest = spec.partition(":")
    settings = dict(item.split("=", 1) for item in rest.split(";") if "=" in item) if rest else {}
    return name, settings


def run_method(spec: str, pairs, read) -> dict:
    from compositor import api
    from compositor.cut.sticker import stickers_alpha
    from compositor.errors import CompositorError
    from compositor.metrics import boundary_f, cut_iou, cut_mae

    name, settings = parse_method(spec)
    first = read(pairs[0][0])
    try:
        api.cut(first, name, **settings)  # warm-up: loads the model, imports, compiles
    except CompositorError:
        pass
    ious, maes, bfs, seconds, empty = [], [], [], [], 0
    for photo, mask_path in pairs:
        image, truth = read(photo), read(mask_path, mask=True)
        t0 = time.perf_counter()
        try:
            alpha = stickers_alpha(api.cut(image, name, **settings), image.shape)
        except CompositorError:
            alpha = np.zeros(image.shape[:2], np.float32)
            empty += 1
        seconds.append(time.perf_counter() - t0)
        ious.append(cut_iou(alpha, truth))
        maes.append(cut_mae(alpha, truth))
        bfs.append(boundary_f(alpha, truth))
    ious_a = np.array(ious)
    return {"method": spec, "photos": len(pairs), "mean_iou": float(ious_a.mean()),
            "below_0.3": float(np.mean(ious_a < 0.3)), "mae": float(np.mean(maes)),
            "boundary_f": float(np.mean(bfs)), "s_per_photo": float(np.mean(seconds)), "no_object": empty}


def main(argv: list[str] | None = None) -> int:
    parser = common.parser(__doc__)
    common.add_cases(parser, limit=None, limit_help="score only the first N photos by name")
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help="comma-separated; NAME or NAME:KEY=VALUE;KEY=VALUE (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    import cv2

    from compositor.imageio import read_rgb

    def read(path: Path, mask: bool = False) -> np.ndarray:
        if mask:
            m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if m is None:
                raise SystemExit(f"bench_cut: {path}: not a readable mask image.")
            return m > 127
        return read_rgb(path)

    pairs = common.cases(args.cases, "bench_cut")
    total = len(pairs)
    if args.limit is not None:
        pairs = pairs[:max(1, args.limit)]
    subset = f"the first {len(pairs)} of {total} photos by name" if len(pairs) < total else f"all {total} photos"
    print(f"cut benchmark: {args.cases} ({subset}); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPU(s); automatic cuts (no box), in-process")
    rows = []
    header = f"| {'method':<28} | mean IoU | below IoU 0.3 | MAE   | boundary F | s/photo | no object |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for spec in args.methods.split(","):
        row = run_method(spec.strip(), pairs, read)
        rows.append(row)
        print(f"| {row['method']:<28} | {row['mean_iou']:8.3f} | {row['below_0.3'] * 100:12.1f}% | "
              f"{row['mae']:.3f} | {row['boundary_f']:10.3f} | {row['s_per_photo']:7.2f} | {row['no_object']:9d} |",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cases": str(args.cases), "subset": subset, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
