"""Spectral-residual saliency (Hou & Zhang 2007): the map, its salient regions, and how much
more salient an object is than the rest (a cut's score).

Pixels in are RGB uint8; maps are float32 HxW in [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np

from ..types import Box

#: A Lab channel (8-bit) spanning at most this many levels is flat: a grey photo's a and b, or their rounding noise.
FLAT_CHANNEL_LEVELS = 2


def spectral_residual_saliency(rgb: np.ndarray, width: int = 128) -> np.ndarray:
    """Saliency map in [0, 1] at the image's size (Hou & Zhang 2007, per Lab channel).

    A channel with no variation (the a and b of a grey photo) has nothing salient in it and
    contributes nothing: its spectrum is all DC, and the residual of an all-DC spectrum is a
    spike at pixel (0, 0) that would swamp the other channels. A grey photo's map is therefore
    its lightness map. All-zero when the image is flat.
    """
    H, W = rgb.shape[:2]
    height = max(8, round(H * width / W))
    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    total = np.zeros((height, width), np.float32)
    for c in range(3):
        if int(np.ptp(lab[..., c])) <= FLAT_CHANNEL_LEVELS:
            continue
        spectrum = np.fft.fft2(lab[..., c].astype(np.float32))
        log_amp = np.log(np.abs(spectrum) + 1e-8)
        residual = log_amp - cv2.blur(log_amp.astype(np.float32), (3, 3), borderType=cv2.BORDER_REPLICATE)
        sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
        total += sal.astype(np.float32)
    total = cv2.GaussianBlur(total, (0, 0), sigmaX=width / 40)
    total -= total.min()
    if total.max() > 0:
        total /= total.max()
    return cv2.resize(total, (W, H), interpolation=cv2.INTER_LINEAR)


def salient_regions(saliency: np.ndarray, min_area: float) -> list[tuple[Box, float]]:
    """Connected regions above an Otsu threshold of the saliency map: (box, score) best first."""
    sal8 = (saliency * 255).astype(np.uint8)
    _, binary = cv2.threshold(sal8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary)
    area_min = min_area * saliency.size
    regions = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < area_min:
            continue
        score = float(saliency[labels == i].sum() / saliency.sum())
        regions.append(((int(x), int(y), int(w), int(h)), score))
    return sorted(regions, key=lambda r: -r[1])


def saliency_score(saliency: np.ndarray, mask: np.ndarray) -> float:
    """How much more salient the object is than the rest, in [0, 1]."""
    inside = float(saliency[mask].mean()) if mask.any() else 0.0
    outside = float(saliency[~mask].mean()) if (~mask).any() else 0.0
    return float(np.clip(inside - outside, 0.0, 1.0))
