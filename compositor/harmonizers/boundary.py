"""``boundary``: a per-channel gain taken from the colour ratio across the object's edge, then
optionally a partial match of the object's colour distribution to the ring around it.

The median of log(object) - log(background) over pairs of neighbouring pixels on the
edge (``compositor.seam``) estimates how the object's colours were scaled relative to
the scene; the object is divided by that ratio raised to ``strength``. Then, with
``histogram`` > 0, each RGB channel of the object is moved that fraction of the way to a
quantile match of the background ring around it; with ``zones`` > 0, the object's
shadows, mid-tones and highlights (its L quantiles 1/6, 1/2, 5/6) are moved that fraction of
the way to the ring's. A classical, fast baseline (no TensorFlow) and the starting point of
the vgg19 fit mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..ops.regions import auto_ring_width, ring_mask
from ..ops.geometry import bbox, grow
from ..plugins import setting
from ..seam import boundary_log_ratio
from ..types import Composite
from ..ops.pixels import to_uint8
from .base import Harmonizer, Output, Progress

QUANTILES = np.linspace(0.0, 1.0, 65)
ZONES = np.array([1 / 6, 1 / 2, 5 / 6])
#: quantiles are taken over at most this many pixels (an even stride through them): the same
#: distribution to well under a grey level, in a fraction of the time on a large object
SAMPLE = 20_000


def _thin(values: np.ndarray) -> np.ndarray:
    step = max(1, len(values) // SAMPLE)
    return values[::step]


@dataclass(frozen=True, kw_only=True)
class BoundarySettings:
    """How much of the colour ratio across the object's edge is taken back, and how far the object's
    colour distribution then moves toward the ring around it."""

    strength: float = setting(0.4, "fraction of the measured edge ratio taken back (0: none; 1: all; less than "
                                   "all, since part of the ratio is the object's own contrast)", bounds=(0, 1))
    histogram: float = setting(0.0, "after the gain: fraction of the way each RGB channel of the object moves to a "
                                    "histogram match of the background ring around it (0: none)", bounds=(0, 1))
    zones: float = setting(0.0, "after that: fraction of the way the object's shadows, mid-tones and highlights "
                                "(L) move to the ring's (0: none)", bounds=(0, 1))


def _match_channel(values: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``values`` mapped through the quantile match of ``source``'s distribution onto ``target``'s."""
    src = np.quantile(source, QUANTILES)
    src = np.maximum.accumulate(src + np.arange(len(QUANTILES)) * 1e-4)  # strictly increasing for interp
    return np.interp(values, src, np.quantile(target, QUANTILES))


def edge_then_match(image: np.ndarray, mask: np.ndarray, strength: float, histogram: float = 0.0,
                    zones: float = 0.0) -> tuple[np.ndarray, dict]:
    """The composite (RGB uint8) with the object (``mask``, soft) divided by ``strength`` of its edge
    ratio, then moved ``histogram`` of the way to a per-channel histogram match of its ring and
    ``zones`` of the way to the ring's L zones (see the module docstring); (RGB uint8, stats).
    Only the box around the object and its ring is worked on."""
    ratio = boundary_log_ratio(image, mask)
    gain = np.exp(-strength * ratio)
    stats = {"edge_log_ratio": [round(float(v), 5) for v in ratio], "gain": [round(float(v), 4) for v in gain]}
    region = mask > 0.5
    if not region.any():
        region = mask > 0
    H, W = mask.shape
    width = auto_ring_width(region)
    x0, y0, x1, y1 = grow(bbox(mask > 0), width + 1, (W, H))
    box = (slice(y0, y1), slice(x0, x1))
    x = image[box].astype(np.float32)
    w = mask[box].astype(np.float32)[..., None]
    y = np.clip(x * gain.astype(np.float32), 0, 255)
    ring = ring_mask(mask[box] > 0, width)
    if (histogram > 0 or zones > 0) and ring.sum() >= 16:
        core = region[box]
        ref = _thin(x[ring])
        if histogram > 0:
            inside = _thin(y[core])
            matched = np.stack([_match_channel(y[..., c], inside[:, c], ref[:, c]) for c in range(3)], -1)
            y = y + histogram * (matched.astype(np.float32) - y)
        if zones > 0:
            lab_y = cv2.cvtColor(np.clip(y, 0, 255) / 255.0, cv2.COLOR_RGB2Lab)
            ring_l = cv2.cvtColor(ref[None] / 255.0, cv2.COLOR_RGB2Lab)[0, :, 0]
            ours, theirs = np.quantile(_thin(lab_y[core][:, 0]), ZONES), np.quantile(ring_l, ZONES)
            ours = np.maximum.accumulate(ours + np.arange(3) * 1e-3)
            lab_y[..., 0] = np.clip(lab_y[..., 0] + zones * np.interp(lab_y[..., 0], ours, theirs - ours), 0, 100)
            y = cv2.cvtColor(lab_y, cv2.COLOR_Lab2RGB) * 255.0
            stats["zone_shift_l"] = [round(float(v), 3) for v in zones * (theirs - ours)]
        stats.update(histogram=histogram, zones=zones)
    out = image.copy()
    out[box] = to_uint8(x * (1.0 - w) + np.clip(y, 0, 255) * w)
    return out, stats


class BoundaryHarmonizer(Harmonizer):
    """Divides the object's colours by a share of the colour ratio measured across its edge (``seam``),
    then, optionally, moves them part of the way to the ring's distribution."""

    name = "boundary"
    Settings = BoundarySettings

    def run(self, composite: Composite, settings: BoundarySettings, progress: Progress, region) -> Output:
        image, stats = edge_then_match(composite.image, composite.mask, settings.strength, settings.histogram,
                                       settings.zones)
        return Output(image, stats)
