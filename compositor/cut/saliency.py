"""Salient regions (spectral residual) each refined by GrabCut; ``all`` keeps every region."""
from __future__ import annotations

import numpy as np

from ..errors import CompositorError
from ..types import Box, Sticker
from .base import CutSettings, Cutter
from .boxes import only_inside, pad_box
from .refine import grabcut
from .spectral import salient_regions, saliency_score, spectral_residual_saliency
from .sticker import make_sticker


class SaliencyCutter(Cutter):
    """Spectral-residual salient regions, each refined by GrabCut (``all``: every region)."""

    name = "saliency"

    def run(self, image: np.ndarray, settings: CutSettings, box: Box | None) -> list[Sticker]:
        saliency = only_inside(spectral_residual_saliency(image), box)
        regions = salient_regions(saliency, settings.min_area)
        if not regions:
            raise CompositorError("no salient object was found; give --box X,Y,W,H or try --method grabcut.")
        if not settings.all:
            regions = regions[:1]
        hint = saliency > np.quantile(saliency, 0.5)
        stickers = []
        for region, _ in regions:
            mask = grabcut(image, pad_box(region, image.shape, 0.15), hint=hint, iterations=settings.iterations,
                           method=self.name)
            stickers.append(make_sticker(image, mask, label="object", score=saliency_score(saliency, mask),
                                         method=self.name, feather=settings.feather))
        return stickers
