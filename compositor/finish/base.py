"""What every finishing step shares: one object's regions in the picture and its crop.

A finishing step looks at one object at a time: its pixels (``core``: alpha >= 0.5, less a
margin so the pasted edge itself is not read as the object's texture) and the photo around
it (``ring``: a band outside the object that leaves out every pasted object and the pasted
edge). Both are bool HxW arrays of the crop ``box`` (x0, y0, x1, y1), so the work is done on
the object's neighbourhood only, whatever the size of the picture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..ops.regions import dilate
from ..ops.geometry import bbox, grow


@dataclass(frozen=True)
class Region:
    """One object's neighbourhood: ``box`` (x0, y0, x1, y1) in the picture; in the crop, its
    alpha (float32), its ``core`` and its ``ring`` (bool), and the union of every object's
    alpha (float32), which no step may alter but the steps that change the object itself."""

    box: tuple[int, int, int, int]
    alpha: np.ndarray
    core: np.ndarray
    ring: np.ndarray
    union: np.ndarray

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The crop of ``image`` (HxW or HxWxC) this region covers."""
        x0, y0, x1, y1 = self.box
        return image[y0:y1, x0:x1]


def ring_width(mask: np.ndarray) -> int:
    """How far the surroundings reach: a quarter of the object's bounding-box diagonal, 8..96 px."""
    _, _, w, h = bbox(mask >= 0.5) or (0, 0, 1, 1)
    return int(min(96, max(8, round(0.25 * math.hypot(w, h)))))


def region(alpha: np.ndarray, union: np.ndarray, *, margin: int = 3, pad: int | None = None) -> Region | None:
    """The ``Region`` of the object whose alpha is ``alpha`` (float32 HxW) among all objects
    (``union``, their combined alpha); None when the object has no pixel at alpha >= 0.5.
    ``margin`` px either side of the object's edge belong to neither core nor ring; ``pad``
    (default: the ring's width) is how far the crop reaches beyond the object."""
    solid = alpha >= 0.5
    box = bbox(solid)
    if box is None:
        return None
    width = ring_width(alpha)
    H, W = alpha.shape
    x0, y0, x1, y1 = grow(box, (pad if pad is not None else width) + margin + 2, (W, H))
    a = alpha[y0:y1, x0:x1].astype(np.float32)
    u = np.maximum(union[y0:y1, x0:x1].astype(np.float32), a)
    s = a >= 0.5
    core = ~dilate(~s, margin) & s
    if core.sum() < 16:
        core = s
    anything = u > 0.02
    ring = grow_fast(s, width + margin) & ~dilate(anything, margin)
    return Region((x0, y0, x1, y1), a, core, ring, u)


def grow_fast(mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` (bool) grown by about ``px`` px: exact up to 16 px, beyond that a disc dilation
    at a reduced scale (the ring's outer edge need not be exact, and a large exact dilation of
    a large crop is the slowest thing here)."""
    if px <= 16:
        return dilate(mask, px)
    k = int(math.ceil(px / 8))
    H, W = mask.shape
    small = cv2.resize(mask.astype(np.uint8), (max(1, -(-W // k)), max(1, -(-H // k))), interpolation=cv2.INTER_AREA) > 0
    grown = dilate(small, int(round(px / k)))
    return cv2.resize(grown.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool) | mask


def scaled(image: np.ndarray, reg: Region, side: int, margin: int) -> tuple[np.ndarray, Region, float]:
    """``image`` and ``reg`` scaled down (INTER_AREA) so that the object's longer side is at most
    ``side`` px: (canvas, its region, the scale factor <= 1); ``region.crop(canvas)`` is the
    object's crop at that scale (at scale 1, the canvas is ``image`` and the region ``reg``)."""
    _, _, w, h = bbox(reg.alpha >= 0.5)
    f = min(1.0, side / max(w, h))
    if f >= 1.0:
        return image, reg, 1.0
    crop = reg.crop(image)
    size = (max(8, round(crop.shape[1] * f)), max(8, round(crop.shape[0] * f)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    a = cv2.resize(reg.alpha, size, interpolation=cv2.INTER_AREA)
    u = cv2.resize(reg.union, size, interpolation=cv2.INTER_AREA)
    sub = region(a, u, margin=margin, pad=10**6)
    return (small, sub, f) if sub is not None else (image, reg, 1.0)


def gray(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601, as JPEG uses) of an RGB array, float32 on the 0..255 scale."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32) if rgb.dtype == np.uint8 \
        else (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


def rng_for(seed: int, index: int, step: str) -> np.random.Generator:
    """The random generator of one step on one object: the same (seed, object, step), the same numbers."""
    return np.random.default_rng([int(seed), int(index), sum(map(ord, step))])
