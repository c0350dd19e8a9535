"""Colour operations: CIE Lab, and moving a region's Lab mean and spread (Reinhard et al.
2001), the transfer behind the reinhard harmonizer, the benchmark's perturbations and the
training recipe.

Colours are RGB (uint8, or float on the 0..255 scale) in, Lab float32 out.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (any shape ending in 3) -> CIE Lab float32 (L 0..100, a and b about -127..127)."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def toward(mean: np.ndarray, spread: np.ndarray, target_mean: np.ndarray, target_spread: np.ndarray,
           strength: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, spread) moved ``strength`` of the way toward (``target_mean``, ``target_spread``):
    0 keeps them, 1 takes the targets'."""
    return mean + strength * (target_mean - mean), spread + strength * (target_spread - spread)


def lab_transfer(lab_pixels: np.ndarray, mean: np.ndarray, scale: np.ndarray, target_mean: np.ndarray,
                 channels: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """RGB float32 (0..255, clipped) of ``lab_pixels`` (..., 3) with each of ``channels`` moved:
    ``(value - mean) * scale + target_mean`` (per channel), the other channels kept, L clipped
    to 0..100. The arithmetic keeps the dtype of ``lab_pixels``."""
    ch = list(channels)
    moved = lab_pixels.copy()
    moved[..., ch] = (lab_pixels[..., ch] - mean[ch]) * scale[ch] + target_mean[ch]
    moved[..., 0] = np.clip(moved[..., 0], 0.0, 100.0)
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0, 0, 255)
