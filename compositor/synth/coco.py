"""COCO annotation geometry from masks: boxes, polygons and uncompressed RLE."""
from __future__ import annotations

import cv2
import numpy as np

from ..ops.geometry import bbox


def mask_box(mask: np.ndarray) -> list[int] | None:
    """[x, y, w, h] of the mask's nonzero pixels (a COCO bbox), or None when it has none."""
    box = bbox(mask)
    return None if box is None else list(box)


def polygons(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[list[float]]:
    """COCO polygons (x1, y1, x2, y2, ...) of the mask's outer contours, at least 3 points
    each; ``offset`` (x, y) is added to every point (for a mask cropped out of the image)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE,
                                   offset=tuple(int(v) for v in offset))
    out = []
    for c in contours:
        if len(c) >= 3:
            out.append([float(v) for v in c.reshape(-1, 2).ravel()])
        elif len(c) > 0:  # a 1-2 pixel sliver: its pixel square(s)
            x, y, w, h = cv2.boundingRect(c)
            out.append([float(x), float(y), float(x + w), float(y), float(x + w), float(y + h), float(x), float(y + h)])
    return out


def rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE: run lengths in column-major order, starting with a (maybe empty) run of 0."""
    flat = np.asarray(mask, bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(segmentation: dict) -> np.ndarray:
    """The boolean mask an uncompressed COCO RLE (as ``rle`` makes it) stands for."""
    h, w = segmentation["size"]
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for count in segmentation["counts"]:
        flat[pos:pos + count] = value
        pos += count
        value = not value
    return flat.reshape((h, w), order="F")
