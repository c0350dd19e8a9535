"""Colour relations across the object's edge.

``boundary_log_ratio`` pairs every object pixel on the edge with the nearest
background pixel and takes the per-channel median of log(object) - log(background).
Right at a pasted object's edge the two sides mostly see the same surface (masks
include a sliver of what surrounds the object, and real edges are soft), so this
median estimates how the object's colours were scaled relative to the scene: a
camera's exposure and white balance, or a colour transfer's shift.
"""
from __future__ import annotations

import cv2
import numpy as np

from .ops.regions import dilate


def boundary_pairs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``mask`` (object where > 0.5): (object pixels on the edge, their nearest background
    pixels) as two (N, 2) int arrays of (y, x); empty when there is no edge."""
    region = np.asarray(mask) > 0.5
    edge = region & dilate(~region, 1)
    outside = (~region).astype(np.uint8)
    if not edge.any() or not outside.any():
        return np.zeros((0, 2), int), np.zeros((0, 2), int)
    _, labels = cv2.distanceTransformWithLabels(1 - outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(outside)
    lut = np.zeros((int(labels.max()) + 1, 2), int)
    lut[labels[ys, xs]] = np.stack([ys, xs], 1)
    iy, ix = np.nonzero(edge)
    return np.stack([iy, ix], 1), lut[labels[iy, ix]]


def boundary_log_ratio(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel median of log(object) - log(background) across ``mask``'s edge in ``image``
    (RGB, 0..255): float64 (3,), zeros if there is no edge."""
    inside, outside = boundary_pairs(mask)
    if len(inside) == 0:
        return np.zeros(3)
    img = np.log(np.asarray(image, np.float64) + 1.0)
    d = img[inside[:, 0], inside[:, 1]] - img[outside[:, 0], outside[:, 1]]
    return np.median(d, axis=0)
