"""Boxes of masks: the bounding box of a mask's nonzero pixels, and a box grown and clipped.

Boxes are (x, y, w, h) in pixels, as everywhere in the package (``types.Box``); a
clipped span is (x0, y0, x1, y1), end-exclusive, ready for slicing.
"""
from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]


def bbox(mask: np.ndarray) -> Box | None:
    """(x, y, w, h) of the nonzero pixels of ``mask`` (HxW, any dtype); None when it has none.
    The same box as ``cv2.boundingRect`` of the mask as uint8, for any dtype."""
    rows = np.flatnonzero(np.any(mask, axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(np.any(mask, axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def grow(box: Box, pad: int | tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): ``box`` (x, y, w, h) grown by ``pad`` pixels on every side (or by
    (left and right, top and bottom)) and clipped to a ``size`` (width, height) image."""
    x, y, w, h = box
    W, H = size
    dx, dy = (pad, pad) if isinstance(pad, (int, np.integer)) else pad
    return max(0, x - dx), max(0, y - dy), min(W, x + w + dx), min(H, y + h + dy)
