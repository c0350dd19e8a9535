"""GrabCut inside a box; without a box, inside an automatic saliency proposal."""
from __future__ import annotations

import numpy as np

from ..types import Box, Sticker
from .base import CutSettings, Cutter
from .boxes import pad_box
from .refine import grabcut
from .spectral import salient_regions, saliency_score, spectral_residual_saliency
from .sticker import make_sticker

#: Fraction of the image kept as certain background when the object fills much of the frame.
EDGE_MARGIN = 0.02
#: A salient region larger than this fraction of the image means the photo is "of" the object.
LARGE_OBJECT = 0.25


def propose(rgb: np.ndarray, saliency: np.ndarray, min_area: float):
    """A box around the salient regions (padded), and the pixels that suggest the object."""
    H, W = rgb.shape[:2]
    regions = salient_regions(saliency, min_area)
    if regions:
        best = regions[0][1]
        chosen = [b for b, s in regions if s >= 0.25 * best]
        x0 = min(b[0] for b in chosen)
        y0 = min(b[1] for b in chosen)
        x1 = max(b[0] + b[2] for b in chosen)
        y1 = max(b[1] + b[3] for b in chosen)
        box = pad_box((x0, y0, x1 - x0, y1 - y0), rgb.shape, 0.15)
    else:
        box = (0, 0, W, H)
    if box[2] * box[3] > LARGE_OBJECT * W * H:  # the object dominates: GrabCut learns the background from a thin frame
        m = max(1, int(EDGE_MARGIN * max(H, W)))
        mx, my = min(m, max(1, W // 8)), min(m, max(1, H // 8))  # an elongated image keeps most of its short side
        box = (mx, my, max(1, W - 2 * mx), max(1, H - 2 * my))
    hint = saliency > np.quantile(saliency, 0.5)
    return box, hint


class GrabCutCutter(Cutter):
    """GrabCut (Rother et al. 2004) seeded by a box, or by a spectral-residual saliency proposal."""

    name = "grabcut"

    def run(self, image: np.ndarray, settings: CutSettings, box: Box | None) -> list[Sticker]:
        saliency = spectral_residual_saliency(image)
        hint = None
        if box is None:
            box, hint = propose(image, saliency, settings.min_area)
        mask = grabcut(image, box, hint=hint, iterations=settings.iterations, method=self.name)
        return [make_sticker(image, mask, label="object", score=saliency_score(saliency, mask),
                             method=self.name, feather=settings.feather)]
