"""A picture of real composites (no ground truth): composite | vgg19 learned | vgg19 fit (the default).

Run:  .venv/bin/python bench/real_grid.py --cases ../shared/data/real-composites -n 12 -o out/real-grid.png

Takes the first ``-n`` composites of the folder in name order (``NAME.jpg|png`` with
``NAME_mask.png``; not chosen by how they turn out), each scaled to ``--width`` px per
tile. The picture is written outside the repository: such folders are usually not
licensed for redistribution. Per composite it prints the Lab colour gap between the object
and the background around it and the seam ratio (compare's numbers) for each column.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLUMNS = (("composite", None, {}), ("vgg19 learned", "vgg19", {"mode": "learned"}), ("vgg19 fit (default)", "vgg19", {"mode": "fit"}))


def label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((22, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", required=True)
    p.add_argument("-n", type=int, default=12)
    p.add_argument("--width", type=int, default=300)
    p.add_argument("-o", "--output", default="out/real-grid.png")
    args = p.parse_args()
    from compositor import api, metrics
    from compositor.imageio import read_mask, read_rgb, write_image
    from compositor.types import Composite

    folder = Path(args.cases)
    names = sorted(m.name[: -len("_mask.png")] for m in folder.glob("*_mask.png"))[: args.n]
    rows = []
    print("| composite | " + " | ".join(f"{c[0]} colour gap / seam" for c in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name in names:
        path = next(p for p in (folder / f"{name}.jpg", folder / f"{name}.png") if p.exists())
        image = read_rgb(path)
        mask = read_mask(folder / f"{name}_mask.png", image.shape[:2], image_path=path)
        comp = Composite(image=image, mask=mask)
        tiles, cells = [], []
        for title, backend, settings in COLUMNS:
            out = image if backend is None else api.harmonize(comp, backend, **settings).image
            h, w = out.shape[:2]
            tile = cv2.resize(out, (args.width, round(h * args.width / w)), interpolation=cv2.INTER_AREA)
            tiles.append(label(tile, f"{name[:28]}: {title}" if backend is None else title))
            cells.append(f"{metrics.color_gap(out, mask)['color_gap']:.1f} / {metrics.seam_ratio(out, mask):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        rows.append(np.hstack(tiles))
    width = max(r.shape[1] for r in rows)
    grid = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_image(args.output, grid)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
