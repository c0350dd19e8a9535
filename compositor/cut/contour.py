"""The largest closed edge contour, filled and refined by GrabCut."""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import CompositorError
from ..types import Box, Sticker
from .base import CutSettings, Cutter
from .boxes import pad_box, within
from .refine import grabcut
from .spectral import saliency_score, spectral_residual_saliency
from .sticker import make_sticker


def edge_contours(rgb: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Filled outer contours of Canny edges (thresholds from the median), largest first."""
    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    med = float(np.median(gray))
    edges = cv2.Canny(gray, int(max(0, 0.66 * med)), int(min(255, 1.33 * med)))
    # close gaps of 1% of the long side, but at most a quarter of the short side: on a very elongated
    # image (8x4000) a wider kernel would merge everything into one blob that fills the image
    k = max(3, min(int(0.01 * max(rgb.shape[:2])), min(rgb.shape[:2]) // 4) | 1)
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    area_min = min_area * gray.size
    contours = [c for c in contours if cv2.contourArea(c) >= area_min]
    return sorted(contours, key=cv2.contourArea, reverse=True)


class ContourCutter(Cutter):
    """The largest closed Canny contour (``all``: every one), filled and refined by GrabCut."""

    name = "contour"

    def run(self, image: np.ndarray, settings: CutSettings, box: Box | None) -> list[Sticker]:
        region, x0, y0 = within(image, box)
        contours = edge_contours(region, settings.min_area)
        if not contours:
            raise CompositorError("no closed contour was found; give --box X,Y,W,H or try --method grabcut.")
        saliency = spectral_residual_saliency(image)
        stickers = []
        for contour in contours if settings.all else contours[:1]:
            hint = np.zeros(image.shape[:2], np.uint8)
            cv2.drawContours(hint, [contour + np.array([x0, y0])], -1, 1, thickness=cv2.FILLED)
            x, y, w, h = cv2.boundingRect(contour)
            rect = pad_box((x + x0, y + y0, w, h), image.shape, 0.1)
            mask = grabcut(image, rect, hint=hint.astype(bool), iterations=settings.iterations,
                           method=self.name)
            stickers.append(make_sticker(image, mask, label="object", score=saliency_score(saliency, mask),
                                         method=self.name, feather=settings.feather))
        return stickers
