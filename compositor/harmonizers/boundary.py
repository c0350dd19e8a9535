"""``boundary``: a per-channel gain taken from the colour ratio across the object's edge.

The median of log(object) - log(background) over pairs of neighbouring pixels on the
edge (``compositor.seam``) estimates how the object's colours were scaled relative to
the scene; the object is divided by that ratio raised to ``strength``. A classical,
fast baseline (no TensorFlow) and the starting point of the vgg19 fit mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plugins import setting
from ..seam import boundary_log_ratio
from ..types import Composite
from ..ops.pixels import to_uint8
from .base import Harmonizer, Output, Progress


@dataclass(frozen=True, kw_only=True)
class BoundarySettings:
    """How much of the colour ratio across the object's edge is taken back."""

    strength: float = setting(0.4, "fraction of the measured edge ratio taken back (0: none; 1: all; less than "
                                   "all, since part of the ratio is the object's own contrast)", bounds=(0, 1))


class BoundaryHarmonizer(Harmonizer):
    """Divides the object's colours by a share of the colour ratio measured across its edge (``seam``)."""

    name = "boundary"
    Settings = BoundarySettings

    def run(self, composite: Composite, settings: BoundarySettings, progress: Progress, region) -> Output:
        ratio = boundary_log_ratio(composite.image, composite.mask)
        gain = np.exp(-settings.strength * ratio)
        x = composite.image.astype(np.float32)
        w = composite.mask.astype(np.float32)[..., None]
        out = x * (1.0 - w) + np.clip(x * gain.astype(np.float32), 0, 255) * w
        return Output(to_uint8(out), {"edge_log_ratio": [round(float(v), 5) for v in ratio],
                                      "gain": [round(float(v), 4) for v in gain]})
