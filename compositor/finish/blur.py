"""``blur``: the object's sharpness brought down to the photo's around it; never sharpened.

Blur is read at edges with the re-blur gradient ratio (Zhuo and Sim 2011): an edge blurred
by a Gaussian of sigma s, blurred again by ``REBLUR``, keeps a fraction
``R = |grad I| / |grad I_reblurred| = sqrt(s^2 + REBLUR^2) / s`` of its gradient, so
``s = REBLUR / sqrt(R^2 - 1)``. Taken at the edge pixels of the object (its inside, clear of
the pasted edge) and of the surroundings (a ring around it, clear of every pasted object).

The surroundings are split into ``SECTORS`` angular sectors around the object and the
sharpest sector is matched, not the ring's average: a subject in focus in front of a
defocused background usually stands on something in focus. The object is blurred by
``sqrt(s_around^2 - s_object^2)`` only where that is clearly more than nothing; its edge is
softened with it (the blur spreads the object's edge into a band outside the mask, as a
blurred photo's would).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

REBLUR = 1.5
SECTORS = 4
#: Sectors that need enough edges before the surroundings' blur is trusted.
MIN_SECTORS = 1
#: The sigma added per sigma read around the object. The re-blur ratio reads a photo's blur
#: low at its own edges (its texture is finer than a step); fitted on DUTS-TR (150 photos,
#: sigma 1..4), where it left the ratio estimate / truth at a median of 1.0.
GAIN = 1.1
#: Edge pixels a sector (or the object) needs before its blur is read.
MIN_EDGES = 12
#: The sharpest sector must read blurrier than RATIO x the object's blur + SLACK (sigma, px)
#: before the object is blurred (on DUTS-TR: 97% of photos, in focus as they are, left alone).
RATIO = 1.3
SLACK = 0.5
MAX_SIGMA = 8.0


def sigma_at_edges(gray: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sigma, ys, xs) at the edge pixels of ``gray`` (float32 crop) inside ``where`` (bool)."""
    g = gray.astype(np.float32)
    gb = cv2.GaussianBlur(g, (0, 0), REBLUR)

    def mag(x):
        gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3)
        return np.hypot(gx, gy)

    m, mb = mag(g), mag(gb)
    inside = m[where]
    if inside.size < MIN_EDGES:
        return np.zeros(0), np.zeros(0, int), np.zeros(0, int)
    hi = max(40.0, float(np.percentile(inside, 90)))
    # edge pixels: local maxima of the gradient along its direction (Canny's thinning), strong enough
    edges = cv2.Canny(np.clip(g, 0, 255).astype(np.uint8), hi * 0.5, hi, L2gradient=True) > 0
    edges &= where & (m > 0.5 * hi)
    ys, xs = np.nonzero(edges)
    R = m[ys, xs] / np.maximum(mb[ys, xs], 1e-6)
    ok = R > 1.0 + 1e-3
    s = np.full(R.shape, MAX_SIGMA, np.float64)
    s[ok] = np.minimum(MAX_SIGMA, REBLUR / np.sqrt(R[ok] ** 2 - 1.0))
    return s, ys, xs


def estimate(gray: np.ndarray, core: np.ndarray, ring: np.ndarray, alpha: np.ndarray) -> dict:
    """Blur (sigma, px) of the object (edges in ``core``) and of the sharpest sector of its
    surroundings (``ring``): {"object", "around", "sectors", "add"}; ``add`` is the Gaussian
    sigma that brings the object to its surroundings (0: leave it). The object is blurred
    only when its surroundings read clearly blurrier (``RATIO``, ``SLACK``); what is added is then
    ``GAIN`` times their blur (the object's own blur, already small, is not subtracted: on
    DUTS-TR subtracting it under-blurred)."""
    so, _, _ = sigma_at_edges(gray, core)
    sr, ys, xs = sigma_at_edges(gray, ring)
    out: dict = {"object": None, "around": None, "sectors": [], "add": 0.0,
                 "edges": {"object": int(so.size), "around": int(sr.size)}}
    if so.size < MIN_EDGES or sr.size < MIN_EDGES:
        out["reason"] = "too few edges to read the blur"
        return out
    cy, cx = (np.argwhere(alpha >= 0.5).mean(0))
    angle = np.arctan2(ys - cy, xs - cx)
    sector = ((angle + math.pi) / (2 * math.pi) * SECTORS).astype(int) % SECTORS
    medians = []
    for k in range(SECTORS):
        v = sr[sector == k]
        medians.append(round(float(np.median(v)), 3) if v.size >= MIN_EDGES else None)
    known = sorted(m for m in medians if m is not None)
    if len(known) < MIN_SECTORS:
        out.update(object=round(float(np.median(so)), 3), sectors=medians,
                   reason=f"edges in {len(known)} of {SECTORS} sectors around the object; {MIN_SECTORS} needed")
        return out
    # whether to blur: the sharpest sector must be clearly blurrier than the object; how much:
    # the second sharpest (the sharpest alone is too often a lucky few edges)
    sharpest, around = known[0], known[min(1, len(known) - 1)]
    obj = float(np.median(so))
    out.update(object=round(obj, 3), around=round(around, 3), sectors=medians)
    if sharpest > RATIO * obj + SLACK:
        out["add"] = round(min(MAX_SIGMA, GAIN * around), 3)
    return out


def apply(crop: np.ndarray, alpha: np.ndarray, others: np.ndarray, sigma: float) -> np.ndarray:
    """``crop`` (RGB uint8) with the object (``alpha``) blurred by ``sigma`` and its edge softened
    into a band outside it; pixels of other objects (``others``, their alpha) are kept."""
    if sigma <= 0:
        return crop.copy()
    f = crop.astype(np.float32)
    blurred = cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    spread = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), sigma)
    w = np.clip(np.maximum(alpha, 2.0 * spread), 0, 1) * (1.0 - np.clip(others, 0, 1))
    return np.clip(np.rint(f + w[..., None] * (blurred - f)), 0, 255).astype(np.uint8)
