"""Box geometry of the cutters: a user's box checked and clipped to the photo, the part of a
photo inside a box, and a box grown by a fraction of its size.

Boxes are (x, y, w, h) in pixels (``types.Box``).
"""
from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..ops.geometry import grow
from ..types import Box


def within(image: np.ndarray, box: Box | None) -> tuple[np.ndarray, int, int]:
    """(the part of ``image`` inside ``box``, its x and y offset); the whole image without a box."""
    if box is None:
        return image, 0, 0
    x, y, w, h = box
    return image[y:y + h, x:x + w], x, y


def check_box(box: tuple[int, ...] | None, shape: tuple[int, ...], source: str = "the image") -> Box | None:
    """Clip a user's box to the image; refuse one that misses the image or has no area."""
    if box is None:
        return None
    x, y, w, h = (int(round(v)) for v in box)
    H, W = shape[:2]
    if w <= 0 or h <= 0:
        raise UsageError(f"box {x},{y},{w},{h} has no area; width and height must be positive.")
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        raise UsageError(f"box {x},{y},{w},{h} lies outside {source}, which is {W}x{H}.")
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise UsageError(f"box {x},{y},{w},{h} covers less than 2x2 pixels of {source} ({W}x{H}); "
                         "give a box around the whole object.")
    return x0, y0, x1 - x0, y1 - y0


def pad_box(box: Box, shape, frac: float) -> Box:
    """``box`` grown by ``frac`` of its width and height on each side, clipped to ``shape``."""
    H, W = shape[:2]
    x0, y0, x1, y1 = grow(box, (int(box[2] * frac), int(box[3] * frac)), (W, H))
    return x0, y0, x1 - x0, y1 - y0


def only_inside(values: np.ndarray, box: Box | None) -> np.ndarray:
    """``values`` (HxW) with everything outside ``box`` set to 0; ``values`` itself without a box."""
    if box is None:
        return values
    x, y, w, h = box
    inside = np.zeros_like(values)
    inside[y:y + h, x:x + w] = values[y:y + h, x:x + w]
    return inside
