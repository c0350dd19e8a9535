"""The style image prepared the neural-style way (shared by vgg19's seed mode and magenta)."""
from __future__ import annotations

import cv2
import numpy as np

from ..ops.resize import at_least, resize, working_size


def prepare_style(image: np.ndarray, max_side: int = 1024, smallest: int = 1) -> np.ndarray:
    """The style image the method's way: min-max normalised to 0..255, long side capped at
    ``max_side`` (and each side stretched to at least ``smallest``), average-pooled 3x3 with
    stride 1. Float32 HxWx3."""
    img = image.astype(np.float32)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(img)
    img = resize(img, at_least(working_size(img.shape, max_side), smallest))
    return cv2.blur(img, (3, 3), borderType=cv2.BORDER_REFLECT_101)
