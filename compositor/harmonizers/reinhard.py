"""``reinhard``: colour transfer (Reinhard et al. 2001) in CIE Lab.

The object's per-channel mean and standard deviation are moved toward those of a ring
of background around it; ``strength`` interpolates between the object's own statistics
(0) and the ring's (1). Applied through the soft mask, so the object's edge blends.
A classical baseline: small, fast (no TensorFlow) and deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..ops.colour import lab, lab_transfer, toward
from ..ops.regions import auto_ring_width, ring_mask
from ..ops.geometry import bbox
from ..plugins import setting
from ..types import Composite
from ..ops.pixels import to_uint8
from .base import Harmonizer, Output, Progress


def _stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = values.astype(np.float64)
    return values.mean(0), values.std(0)


def _round(values) -> list[float]:
    return [round(float(v), 4) for v in values]


@dataclass(frozen=True, kw_only=True)
class ReinhardSettings:
    """How far the object's Lab statistics move toward the ring around it, and which ring."""

    strength: float = setting(1.0, "0 keeps the object's colour statistics, 1 takes the background ring's",
                              bounds=(0.0, 1.0))
    ring: int = setting(0, "width in px of the background ring the target statistics come from; "
                           "0 = 0.15 x the object's bounding-box diagonal (at least 3 px)", bounds=(0, 10_000))
    preserve_luminance: bool = setting(False, "transfer only the colour (a, b), keep the object's lightness (L)")


class ReinhardHarmonizer(Harmonizer):
    """Reinhard colour transfer in Lab from the background ring to the object."""

    name = "reinhard"
    Settings = ReinhardSettings

    def run(self, composite: Composite, settings: ReinhardSettings, progress: Progress, region: np.ndarray) -> Output:
        image, mask = composite.image, composite.mask
        width = settings.ring or auto_ring_width(region)
        ring = ring_mask(region, width)
        if not ring.any():
            raise UsageError(f"reinhard: the background ring around the object is empty (ring width {width} px); "
                             "the object leaves no background beside it.")
        core = mask >= 0.5
        if not core.any():
            core = region

        # Only the object's bounding box needs converting.
        x, y, w, h = bbox(region)
        box = (slice(y, y + h), slice(x, x + w))
        obj_lab = lab(image[box])
        mu_o, sd_o = _stats(obj_lab[core[box]])
        mu_b, sd_b = _stats(_ring_lab(image, ring))
        mu_t, sd_t = toward(mu_o, sd_o, mu_b, sd_b, float(settings.strength))
        scale = np.where(sd_o > 1e-6, sd_t / np.maximum(sd_o, 1e-6), 1.0)
        channels = [1, 2] if settings.preserve_luminance else [0, 1, 2]
        rgb = lab_transfer(obj_lab.astype(np.float64), mu_o, scale, mu_t, channels)
        alpha = mask[box].astype(np.float32)[..., None]
        crop = image[box].astype(np.float32)
        blended = to_uint8(crop + alpha * (rgb - crop))
        out = image.copy()
        out[box] = np.where(alpha > 0, blended, image[box])
        stats = {
            "ring_px": int(width),
            "object_pixels": int(core.sum()),
            "ring_pixels": int(ring.sum()),
            "object_mean_lab": _round(mu_o), "object_std_lab": _round(sd_o),
            "background_mean_lab": _round(mu_b), "background_std_lab": _round(sd_b),
            "target_mean_lab": _round(mu_t), "target_std_lab": _round(sd_t),
        }
        return Output(out, stats)


def _ring_lab(image: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Lab values of the ring's pixels, converting only the ring's bounding box."""
    x, y, w, h = bbox(ring)
    sub = ring[y:y + h, x:x + w]
    return lab(image[y:y + h, x:x + w])[sub]
