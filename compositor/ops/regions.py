"""Regions of a mask: growing them by a disc, the ring of background around an object, and
the object-and-ring pair the harmonizers measure colours in.

Regions are bool HxW arrays.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .geometry import bbox, grow


def ellipse(px: int) -> np.ndarray:
    """A disc of radius ``px`` as OpenCV's elliptical structuring element, uint8 (2px+1)x(2px+1)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))


def dilate(region: np.ndarray, px: int) -> np.ndarray:
    """``region`` (bool) grown by ``px`` pixels (a disc); outside the image counts as empty.

    Only the region's bounding box grown by ``px`` is touched. Small radii use an
    elliptical kernel; large ones the Euclidean distance transform, whose cost does not
    grow with the radius (a large kernel's does: docs/PERFORMANCE.md)."""
    if px <= 0 or not region.any():
        return region.copy()
    H, W = region.shape
    x0, y0, x1, y1 = grow(bbox(region), px + 1, (W, H))
    sub = region[y0:y1, x0:x1].astype(np.uint8)
    if px <= 16:
        grown = cv2.dilate(sub, ellipse(px), borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    else:
        grown = cv2.distanceTransform(1 - sub, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= px
    out = np.zeros_like(region, dtype=bool)
    out[y0:y1, x0:x1] = grown
    return out


def ring_mask(region: np.ndarray, width: int) -> np.ndarray:
    """The background ring around ``region``: the region grown by ``width`` px, minus the region."""
    return dilate(region, width) & ~region


def auto_ring_width(region: np.ndarray) -> int:
    """The ring width for ``region`` (bool HxW): 15% of its bounding-box diagonal, at least 3 px."""
    _, _, w, h = bbox(region) or (0, 0, 0, 0)
    return max(3, int(round(0.15 * math.hypot(w, h))))


def object_and_ring(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(object, ring of background around it) of a soft ``mask`` (float HxW in 0..1), as bool
    arrays of its size: the object is where the mask is over 0.5 (where it is nonzero when no
    pixel is), the ring ``auto_ring_width`` wide (the rest of the image when that is empty)."""
    obj = mask > 0.5
    if not obj.any():
        obj = mask > 0
    ring = ring_mask(obj, auto_ring_width(obj))
    if not ring.any():
        ring = ~obj
    return obj, ring
