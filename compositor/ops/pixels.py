"""Pixel conversions shared by the harmonizers and the ops."""
from __future__ import annotations

import numpy as np


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``image`` (any real dtype, 0..255 scale) rounded and clipped to uint8."""
    return np.clip(np.asarray(image, np.float32) + 0.5, 0, 255).astype(np.uint8)
