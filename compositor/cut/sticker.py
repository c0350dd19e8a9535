"""Stickers from cut masks: a hard mask feathered, or a soft alpha, made into a tight RGBA
sticker (cropped as ``stickers.crop_to_alpha`` crops every sticker), and stickers' alphas
placed back on the photo they were cut from.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import CompositorError
from ..ops.pixels import to_uint8
from ..stickers import crop_to_alpha
from ..types import Sticker


def make_sticker(rgb: np.ndarray, mask: np.ndarray, *, label: str, score: float, method: str, feather: float) -> Sticker:
    """Crop an RGBA sticker tightly around ``mask`` with a softened alpha edge."""
    if not mask.any():
        raise CompositorError(f"the {method} cutter found no object pixels.")
    alpha = mask.astype(np.float32)
    if feather > 0:
        # soften across the edge: half inside, half outside the hard boundary
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather, borderType=cv2.BORDER_REPLICATE)
    return sticker_from_alpha(rgb, alpha, label=label, score=score, method=method)


def sticker_from_alpha(colours: np.ndarray, alpha: np.ndarray, *, label: str = "object", score: float,
                       method: str) -> Sticker:
    """An RGBA sticker of ``colours`` (RGB uint8) with the soft ``alpha`` (float in [0, 1]),
    cropped tightly to it; its ``source_box`` is the crop's box in the photo."""
    a8 = to_uint8(np.asarray(alpha, np.float32) * 255)
    if not a8.any():
        raise CompositorError(f"the {method} cutter found no object pixels.")
    rgba, box = crop_to_alpha(np.dstack([colours, a8]))
    return Sticker(rgba=rgba, label=label, source_box=box, score=float(score), method=method)


def stickers_alpha(stickers: list[Sticker], shape: tuple[int, ...]) -> np.ndarray:
    """The stickers' alphas placed back where they were cut from: float32 HxW of the photo's ``shape``
    (the union, by maximum, where stickers overlap)."""
    alpha = np.zeros(shape[:2], np.float32)
    for s in stickers:
        x, y, w, h = s.source_box
        alpha[y:y + h, x:x + w] = np.maximum(alpha[y:y + h, x:x + w], s.alpha)
    return alpha
