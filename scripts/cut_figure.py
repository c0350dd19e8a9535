"""Build docs/cut_edges.png: stickers cut from the samples, old automatic cut (GrabCut) beside
the new default (u2net), each pasted on a contrasting colour, with an enlarged crop of its edge.

Run:  .venv/bin/python scripts/cut_figure.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor import api  # noqa: E402
from compositor.imageio import read_mask, read_rgb, write_image  # noqa: E402

#: (label, photo, cut settings, contrasting colour)
CUTS = [
    ("cup", "coffee.png", {}, (40, 90, 220)),
    ("cat", "chelsea.png", {}, (30, 160, 60)),
    ("astronaut", "astronaut.png", {}, (250, 200, 40)),
    ("helmet (box)", "astronaut.png", {"box": (270, 330, 242, 182)}, (200, 40, 200)),
    ("cup on green", "cup-on-green", {}, (250, 250, 250)),
]
TILE = 220
ZOOM = 4


def source(name: str) -> np.ndarray:
    if name != "cup-on-green":
        return read_rgb(ROOT / "samples" / name)
    photo = read_rgb(ROOT / "samples" / "coffee.png")
    alpha = cv2.GaussianBlur(read_mask(ROOT / "samples" / "masks" / "coffee_cup.png"), (0, 0), 2.0)[..., None]
    return np.clip(alpha * photo + (1 - alpha) * np.array([0, 255, 0], np.float32) + 0.5, 0, 255).astype(np.uint8)


def on_colour(rgba: np.ndarray, colour) -> np.ndarray:
    a = rgba[..., 3:].astype(np.float32) / 255
    return np.clip(a * rgba[..., :3] + (1 - a) * np.array(colour, np.float32) + 0.5, 0, 255).astype(np.uint8)


def fit(img: np.ndarray, side: int, colour) -> np.ndarray:
    h, w = img.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.empty((side, side, 3), np.uint8)
    tile[:] = colour
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    return tile


def edge_crop(rgba: np.ndarray, colour, side: int) -> np.ndarray:
    """An enlarged square around the soft-edge pixel nearest the middle of the sticker's left
    half (edges on the photo's border, where the sticker is cut off, are passed over)."""
    alpha = rgba[..., 3]
    h, w = alpha.shape
    half = side // (2 * ZOOM)
    soft = (alpha > 20) & (alpha < 235)
    soft[:half], soft[h - half:], soft[:, :half], soft[:, w - half:] = False, False, False, False
    ys, xs = np.nonzero(soft)
    if ys.size:
        i = int(np.argmin((ys - h / 2) ** 2 + (xs - w / 4) ** 2))
        cy, cx = int(ys[i]), int(xs[i])
    else:
        cy, cx = h // 2, w // 2
    padded = np.pad(on_colour(rgba, colour), ((half, half), (half, half), (0, 0)), mode="edge")
    crop = padded[cy:cy + 2 * half, cx:cx + 2 * half]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_NEAREST)


def main() -> None:
    columns = []
    for label, name, settings, colour in CUTS:
        image = source(name)
        cells = []
        for method in ("grabcut", "u2net"):
            sticker = api.cut(image, method, **settings)[0]
            cells += [fit(on_colour(sticker.rgba, colour), TILE, colour), edge_crop(sticker.rgba, colour, TILE)]
            print(f"{label}: {method} box {sticker.source_box}")
        gap = np.full((6, TILE, 3), 255, np.uint8)
        columns.append(np.concatenate([cells[0], gap, cells[1], gap * 0 + 128, cells[2], gap, cells[3]], axis=0))
    vgap = np.full((columns[0].shape[0], 8, 3), 255, np.uint8)
    figure = np.concatenate([c for col in columns for c in (col, vgap)][:-1], axis=1)
    write_image(ROOT / "docs" / "cut_edges.png", figure)
    print(ROOT / "docs" / "cut_edges.png")


if __name__ == "__main__":
    main()
