"""Image sizes and resizing: working sizes from a cap on the long side, and the one resize
(area averaging down, bicubic up) the harmonizers, benchmarks and run caches share.

Sizes are (width, height), as OpenCV takes them.
"""
from __future__ import annotations

import cv2
import numpy as np


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height): area averaging down, bicubic up; keeps dtype."""
    w, h = size
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    shrinking = w < image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def scaled_size(w: int, h: int, side: int) -> tuple[int, int]:
    """(width, height) scaled (up or down) so the long side is ``side``."""
    scale = side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def working_size(shape: tuple[int, ...], max_side: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most ``max_side``."""
    h, w = shape[:2]
    scale = min(1.0, max_side / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def at_least(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(width, height) stretched where needed so neither is below ``side``."""
    return max(size[0], side), max(size[1], side)
