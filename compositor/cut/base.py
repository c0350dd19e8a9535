"""Shared pieces of the cutters: object proposals, GrabCut refinement, soft-edged stickers.

Pixels in and out are RGB uint8; BGR exists only inside the cv2 calls. A cutter is a
class with ``name``, a ``Settings`` dataclass and ``cut(image, settings) -> list[Sticker]``;
the built-in ones derive from ``Cutter``, which holds the shared opening.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from ..errors import CompositorError, UsageError
from ..ops.geometry import grow
from ..plugins import ready_settings, setting
from ..types import Box, Sticker

#: GrabCut runs on a copy whose long side is at most this many pixels (it is O(pixels)).
GRABCUT_MAX_SIDE = 640
#: ... but the copy's short side is not shrunk below this many pixels (or the image's own short side), so a
#: very elongated image (8x4000) keeps enough pixels across to tell the object from the background.
GRABCUT_MIN_SIDE = 64
#: The smallest photo side any cutter takes: an object needs background around it to be told from it.
MIN_PHOTO_SIDE = 3
#: A Lab channel (8-bit) spanning at most this many levels is flat: a grey photo's a and b, or their rounding noise.
FLAT_CHANNEL_LEVELS = 2


@dataclass(frozen=True, kw_only=True)
class CutSettings:
    """The settings every GrabCut-based cutter shares (grabcut, saliency, contour, cascade)."""

    box: tuple[int, ...] | None = setting(None, "X,Y,W,H: where the object is; without it an automatic proposal is used")
    all: bool = setting(False, "return every object found, not just the best one")
    feather: float = setting(1.5, "soft alpha edge, in px at the photo's resolution", bounds=(0, 100))
    iterations: int = setting(5, "GrabCut iterations", bounds=(1, 50))
    min_area: float = setting(0.002, "smallest object kept, as a fraction of the image area", bounds=(0, 1))

    def validate(self) -> None:
        """The box is None or X,Y,W,H (the fields' own bounds are checked by ``check_fields``)."""
        check_box_setting(self.box)


def check_box_setting(box) -> None:
    """Refuse a ``box`` setting that is not None or four numbers (X,Y,W,H)."""
    if box is not None and len(box) != 4:
        raise UsageError(f"box must be X,Y,W,H (four numbers); received {','.join(map(str, box))}.")


class Cutter:
    """Base class of the built-in cutters.

    ``cut(image, settings=None) -> list[Sticker]`` builds the default settings when none
    are given and validates them, clips the settings' ``box`` to the image
    (``check_box``; None without a box) and returns ``run(image, settings, box)``.
    """

    name: ClassVar[str]
    #: The settings dataclass; the shared ``CutSettings`` unless the cutter has its own.
    Settings: ClassVar[type] = CutSettings

    def cut(self, image: np.ndarray, settings=None) -> list[Sticker]:
        """The stickers cut from ``image`` (RGB uint8), best first (see the class docstring)."""
        settings = ready_settings(self.Settings, settings, self.name)
        h, w = image.shape[:2]
        if min(h, w) < MIN_PHOTO_SIDE:
            raise CompositorError(f"the {self.name} cutter needs a photo at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE} px, "
                             f"room for an object and background around it; received a photo {w}x{h}.")
        box = check_box(getattr(settings, "box", None), image.shape)
        return self.run(image, settings, box)

    def run(self, image: np.ndarray, settings, box: Box | None) -> list[Sticker]:
        """The cutter's own work on ready settings and a clipped ``box`` (or None): the stickers."""
        raise NotImplementedError


def within(image: np.ndarray, box: Box | None) -> tuple[np.ndarray, int, int]:
    """(the part of ``image`` inside ``box``, its x and y offset); the whole image without a box."""
    if box is None:
        return image, 0, 0
    x, y, w, h = box
    return image[y:y + h, x:x + w], x, y


def check_box(box: tuple[int, ...] | None, shape: tuple[int, ...], source: str = "the image") -> Box | None:
    """Clip a user's box to the image; refuse one that misses the image or has no area."""
    if box is None:
        return None
    x, y, w, h = (int(round(v)) for v in box)
    H, W = shape[:2]
    if w <= 0 or h <= 0:
        raise UsageError(f"box {x},{y},{w},{h} has no area; width and height must be positive.")
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        raise UsageError(f"box {x},{y},{w},{h} lies outside {source}, which is {W}x{H}.")
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise UsageError(f"box {x},{y},{w},{h} covers less than 2x2 pixels of {source} ({W}x{H}); "
                         "give a box around the whole object.")
    return x0, y0, x1 - x0, y1 - y0


def pad_box(box: Box, shape, frac: float) -> Box:
    """``box`` grown by ``frac`` of its width and height on each side, clipped to ``shape``."""
    H, W = shape[:2]
    x0, y0, x1, y1 = grow(box, (int(box[2] * frac), int(box[3] * frac)), (W, H))
    return x0, y0, x1 - x0, y1 - y0


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


def grabcut(rgb: np.ndarray, rect: Box, *, hint: np.ndarray | None = None, iterations: int = 5,
            method: str = "grabcut") -> np.ndarray:
    """GrabCut inside ``rect``; ``hint`` (HxW bool) marks pixels likely to be the object.

    Runs on a copy scaled to at most ``GRABCUT_MAX_SIDE`` px on the long side (but not below
    ``GRABCUT_MIN_SIDE`` px on the short side); returns a bool mask at the image's size.
    Pixels outside ``rect`` are background. Where the hint marks nothing inside ``rect``, the
    whole of ``rect`` may be the object (as without a hint). GrabCut learns the background
    from the pixels not marked as object, so when there are none (``rect`` covers the whole
    image and no hint leaves part of it out) this is a CompositorError naming ``method``
    (the cutter that asked) and the box.
    """
    H, W = rgb.shape[:2]
    scale = min(1.0, max(GRABCUT_MAX_SIDE / max(H, W), GRABCUT_MIN_SIDE / min(H, W)))
    size = (max(1, round(W * scale)), max(1, round(H * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    x, y, w, h = (int(round(v * scale)) for v in rect)
    x, y = min(max(0, x), size[0] - 1), min(max(0, y), size[1] - 1)
    w, h = max(1, min(w, size[0] - x)), max(1, min(h, size[1] - y))
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    mask = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    mask[y:y + h, x:x + w] = cv2.GC_PR_FGD  # as cv2.GC_INIT_WITH_RECT: everything in the box may be the object
    hinted = False
    if hint is not None:
        hint_small = cv2.resize(hint.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        inside = np.zeros_like(hint_small)
        inside[y:y + h, x:x + w] = True
        hinted = bool((hint_small & inside).any())
        if hinted:  # only the hinted pixels may be the object
            mask[inside & ~hint_small] = cv2.GC_PR_BGD
    if not np.isin(mask, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        bx, by, bw, bh = (int(v) for v in rect)
        if hinted:
            problem = f"the object it proposed fills the whole {W}x{H} image"
        elif (bx, by, bw, bh) == (0, 0, W, H):
            problem = f"the box {bx},{by},{bw},{bh} covers the whole {W}x{H} image"
        else:
            problem = f"the box {bx},{by},{bw},{bh} leaves almost none of the {W}x{H} image outside it"
        raise CompositorError(f"the {method} cutter has no background pixels to learn from: {problem}; "
                              f"give a box X,Y,W,H with a margin of background around the object.")
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    try:
        cv2.grabCut(bgr, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # not expected after the checks above; --traceback shows OpenCV's message
        raise CompositorError(f"the {method} cutter's GrabCut step failed on the {W}x{H} image.") from exc
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1:
        fg = cv2.resize(fg, (W, H), interpolation=cv2.INTER_LINEAR)
    return clean_mask(fg > 0.5)


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected part (and parts at least a fifth of its size); fill holes."""
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + np.flatnonzero(areas >= areas.max() / 5)
    m = np.isin(labels, keep).astype(np.uint8)
    # fill holes: background not connected to the border becomes object
    inv = (1 - m).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    H, W = m.shape
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    for i in range(1, n):
        if i not in border and stats[i, cv2.CC_STAT_AREA] < 0.05 * H * W:
            m[labels == i] = 1
    return m.astype(bool)


def make_sticker(rgb: np.ndarray, mask: np.ndarray, *, label: str, score: float, method: str, feather: float) -> Sticker:
    """Crop an RGBA sticker tightly around ``mask`` with a softened alpha edge."""
    if not mask.any():
        raise CompositorError(f"the {method} cutter found no object pixels.")
    alpha = mask.astype(np.float32)
    if feather > 0:
        # soften across the edge: half inside, half outside the hard boundary
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather, borderType=cv2.BORDER_REPLICATE)
    a8 = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(a8)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgba = np.dstack([rgb[y0:y1, x0:x1], a8[y0:y1, x0:x1]])
    box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    return Sticker(rgba=np.ascontiguousarray(rgba), label=label, source_box=box, score=float(score), method=method)


def stickers_alpha(stickers: list[Sticker], shape: tuple[int, ...]) -> np.ndarray:
    """The stickers' alphas placed back where they were cut from: float32 HxW of the photo's ``shape``
    (the union, by maximum, where stickers overlap)."""
    alpha = np.zeros(shape[:2], np.float32)
    for s in stickers:
        x, y, w, h = s.source_box
        alpha[y:y + h, x:x + w] = np.maximum(alpha[y:y + h, x:x + w], s.alpha)
    return alpha


def saliency_score(saliency: np.ndarray, mask: np.ndarray) -> float:
    """How much more salient the object is than the rest, in [0, 1]."""
    inside = float(saliency[mask].mean()) if mask.any() else 0.0
    outside = float(saliency[~mask].mean()) if (~mask).any() else 0.0
    return float(np.clip(inside - outside, 0.0, 1.0))
