"""Quality numbers for harmonized images.

With a reference (the real photo, iHarmony4 protocol), on the 0..255 scale:
``mse`` and ``psnr`` over the whole image, ``fmse`` over the object's pixels only,
``bmse`` over a band either side of the object's edge (the seam), ``ssim``.

Without a reference, what harmonization is for:
``color_gap``: CIE Lab distance between the mean colour of the object and of a ring of
background around it, plus the gap between their standard deviations;
``seam_ratio``: gradient energy on the object's boundary divided by the gradient energy
in bands just inside and just outside it (about 1 when no seam shows; larger when the
edge stands out).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .ops.colour import lab
from .ops.regions import auto_ring_width, dilate, ring_mask


def _f(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error between two images of the same shape (their own scale, 0..255 for uint8)."""
    return float(np.mean((_f(a) - _f(b)) ** 2))


def fmse(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """MSE between ``a`` and ``b`` over the object's pixels (mask > 0.5), averaged over
    channels; NaN when the mask is empty."""
    region = np.asarray(mask) > 0.5
    if not region.any():
        return float("nan")
    return float(np.mean((_f(a)[region] - _f(b)[region]) ** 2))


def edge_band(mask: np.ndarray, width: int = 3) -> np.ndarray:
    """Pixels within ``width`` px of the object's edge (``mask`` > 0.5), on either side: bool HxW."""
    region = np.asarray(mask) > 0.5
    outer = dilate(region, width)
    inner = ~dilate(~region, width)
    return outer & ~inner


def bmse(a: np.ndarray, b: np.ndarray, mask: np.ndarray, width: int = 3) -> float:
    """MSE between ``a`` and ``b`` over the seam: the ``edge_band`` of ``mask``, ``width`` px either
    side; NaN when the mask has no edge."""
    band = edge_band(mask, width)
    if not band.any():
        return float("nan")
    return float(np.mean((_f(a)[band] - _f(b)[band]) ** 2))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for the 0..255 scale; infinite for identical images."""
    m = mse(a, b)
    return float("inf") if m == 0 else 10.0 * math.log10(255.0 ** 2 / m)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (scikit-image) of two RGB HxWx3 images on the 0..255 scale; 1 when equal."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(a), np.asarray(b), channel_axis=2, data_range=255))


def color_gap(image: np.ndarray, mask: np.ndarray, ring_width: int | None = None) -> dict[str, float]:
    """Lab mean distance (delta E 1976) and std gap between the object (``mask`` > 0.5) of an
    RGB image and a background ring ``ring_width`` px wide (default ``auto_ring_width``):
    {"color_gap", "contrast_gap"}, NaN when either region is empty."""
    region = np.asarray(mask) > 0.5
    ring = ring_mask(region, ring_width or auto_ring_width(region))
    if not region.any() or not ring.any():
        return {"color_gap": float("nan"), "contrast_gap": float("nan")}
    L = lab(image)
    obj, bg = L[region].astype(np.float64), L[ring].astype(np.float64)
    return {"color_gap": float(np.linalg.norm(obj.mean(0) - bg.mean(0))),
            "contrast_gap": float(np.linalg.norm(obj.std(0) - bg.std(0)))}


def seam_ratio(image: np.ndarray, mask: np.ndarray, width: int = 2, offset: int = 6) -> float:
    """Gradient energy on the object's edge band (``width`` px) over the energy in bands ``offset`` px
    inside and outside it, for an RGB image and its mask; NaN when there is no edge."""
    region = np.asarray(mask) > 0.5
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    energy = gx * gx + gy * gy
    edge = edge_band(region, width)
    grown, shrunk = dilate(region, offset), ~dilate(~region, offset)
    near = (edge_band(grown, width) & ~region) | (edge_band(shrunk, width) & region)
    if not edge.any() or not near.any():
        return float("nan")
    return float(energy[edge].mean() / max(energy[near].mean(), 1e-6))


def with_reference(result: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The scores against the real photo ``truth``: {"mse", "fmse", "bmse", "psnr", "ssim"}."""
    return {"mse": mse(result, truth), "fmse": fmse(result, truth, mask), "bmse": bmse(result, truth, mask),
            "psnr": psnr(result, truth), "ssim": ssim(result, truth)}


def no_reference(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The scores without a reference: {"color_gap", "contrast_gap", "seam_ratio"}."""
    return {**color_gap(image, mask), "seam_ratio": seam_ratio(image, mask)}


# --------------------------------------------------------------------------- cut quality


def cut_iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of ``alpha > 0.5`` and the reference mask (bool); 1 when both are empty."""
    pred, ref = np.asarray(alpha) > 0.5, np.asarray(truth, bool)
    union = int((pred | ref).sum())
    return 1.0 if union == 0 else float((pred & ref).sum()) / union


def cut_mae(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute difference between the soft alpha (0..1) and the reference mask (0 or 1)."""
    return float(np.mean(np.abs(np.asarray(alpha, np.float64) - np.asarray(truth, bool))))


def boundary_f(alpha: np.ndarray, truth: np.ndarray, tolerance: float = 0.0075) -> float:
    """Boundary F-measure (as DAVIS scores contours), 0..1: the edges of ``alpha > 0.5`` and of the
    reference mask ``truth``, matched within ``tolerance`` times the image diagonal (at least 1 px);
    1 when neither has an edge."""
    pred, ref = np.asarray(alpha) > 0.5, np.asarray(truth, bool)
    H, W = ref.shape
    d = max(1.0, tolerance * math.hypot(H, W))

    def edge(m: np.ndarray) -> np.ndarray:
        m8 = m.astype(np.uint8)
        # the image frame is not an edge: outside the image counts as more of the same (as DAVIS does)
        return m & ~cv2.erode(m8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE).astype(bool)

    ep, er = edge(pred), edge(ref)
    if not ep.any() and not er.any():
        return 1.0
    if not ep.any() or not er.any():
        return 0.0
    near_ref = cv2.distanceTransform((~er).astype(np.uint8), cv2.DIST_L2, 3) <= d
    near_pred = cv2.distanceTransform((~ep).astype(np.uint8), cv2.DIST_L2, 3) <= d
    precision = float((ep & near_ref).sum()) / ep.sum()
    recall = float((er & near_pred).sum()) / er.sum()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
