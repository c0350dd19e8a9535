"""GrabCut refinement shared by the cutters: a working copy of the photo, GrabCut run from an
initial mask at that size and brought back to the photo's, GrabCut inside a box (with an
optional hint), and the cleaning that keeps the main object.

Pixels in are RGB uint8; BGR exists only inside the cv2 call. Masks out are bool HxW.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import CompositorError
from ..types import Box

#: GrabCut runs on a copy whose long side is at most this many pixels (it is O(pixels)).
GRABCUT_MAX_SIDE = 640
#: ... but the copy's short side is not shrunk below this many pixels (or the image's own short side), so a
#: very elongated image (8x4000) keeps enough pixels across to tell the object from the background.
GRABCUT_MIN_SIDE = 64


def working_copy(rgb: np.ndarray, min_side: int = GRABCUT_MIN_SIDE) -> tuple[np.ndarray, float]:
    """(the copy GrabCut runs on, its scale): ``rgb`` area-averaged down to at most
    ``GRABCUT_MAX_SIDE`` px on the long side, but not below ``min_side`` px on the short side
    (0: no floor); the photo itself (scale 1) when it is small enough."""
    H, W = rgb.shape[:2]
    scale = min(1.0, max(GRABCUT_MAX_SIDE / max(H, W), min_side / min(H, W)))
    if scale >= 1:
        return rgb, 1.0
    size = (max(1, round(W * scale)), max(1, round(H * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def run_grabcut(small: np.ndarray, mask: np.ndarray, iterations: int, size: tuple[int, int],
                method: str = "grabcut") -> np.ndarray:
    """GrabCut on the working copy ``small`` (RGB) from the initial ``mask`` (cv2.GC_* labels
    at its size, updated in place), the object brought back to ``size`` (width, height):
    bool HxW. A failure inside OpenCV is a CompositorError naming the cutter ``method``."""
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models with k-means on OpenCV's per-thread random generator: reset it
    # (seed 0 is the state a new thread starts in), so a photo's cut does not depend on the cuts
    # made before it in the same process (a folder, a worker, the server)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # not expected after the callers' checks; --traceback shows OpenCV's message
        W, H = size
        raise CompositorError(f"the {method} cutter's GrabCut step failed on the {W}x{H} image.") from exc
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if (fg.shape[1], fg.shape[0]) != tuple(size):
        fg = cv2.resize(fg, size, interpolation=cv2.INTER_LINEAR)
    return fg > 0.5


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
    small, scale = working_copy(rgb)
    size = (small.shape[1], small.shape[0])
    x, y, w, h = (int(round(v * scale)) for v in rect)
    x, y = min(max(0, x), size[0] - 1), min(max(0, y), size[1] - 1)
    w, h = max(1, min(w, size[0] - x)), max(1, min(h, size[1] - y))
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
    return clean_mask(run_grabcut(small, mask, iterations, (W, H), method))


def main_parts(areas: np.ndarray) -> np.ndarray:
    """Which parts (by their ``areas``) make the main object: the largest, and those at least a
    fifth of its size. Bool, one per part."""
    areas = np.asarray(areas)
    return areas >= areas.max() / 5


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Keep the largest connected part (and parts at least a fifth of its size); fill holes."""
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    keep = 1 + np.flatnonzero(main_parts(stats[1:, cv2.CC_STAT_AREA]))
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
