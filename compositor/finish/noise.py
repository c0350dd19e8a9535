"""``noise``: the photo's grain added where the object lacks it; the photo is never denoised.

The grain is read with the weak-texture patch method of Liu, Tanaka and Okutomi (2013):
among the 7x7 patches of a region, those whose gradient energy a noise of the current
estimate could explain (the 99th percentile of its gamma law) are kept, and the noise
variance is the smallest eigenvalue of their covariance; the two steps repeat until the
estimate settles. Per RGB channel.

Where the photo shows it, the grain depends on brightness: the weak-texture patches are
split by their mean into ``LEVELS`` groups, each gets its own estimate, and a line
``var = a + b * level`` is fitted; it is kept when it explains the groups clearly better
than a constant. The object gets Gaussian noise, seeded, of variance
``var_around(level) - var_object(level)`` wherever that is positive; nothing is removed.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops.regions import dilate

PATCH = 7
LEVELS = 4
#: Most patches read per region (a regular subsample beyond).
MAX_PATCHES = 3000
#: Noise is added only where the surroundings are this much noisier (sigma, 0..255 scale).
SLACK = 0.6


def _threshold_factor() -> float:
    from scipy.stats import gamma

    n2 = PATCH * PATCH
    tr = 2 * 2 * PATCH * (PATCH - 1)  # trace of Dh'Dh + Dv'Dv for a 7x7 patch
    return float(gamma.ppf(0.99, n2 / 2, scale=2.0 * tr / n2))


_TAU = None


def patches(channel: np.ndarray, where: np.ndarray, stride: int = 2) -> np.ndarray:
    """The 7x7 patches (n, 49) of ``channel`` (float crop) lying wholly inside ``where``."""
    r = PATCH // 2
    inner = ~dilate(~where, r) & where
    inner[:r] = inner[-r:] = False
    inner[:, :r] = inner[:, -r:] = False
    ys, xs = np.nonzero(inner[::stride, ::stride])
    ys, xs = ys * stride, xs * stride
    if ys.size > MAX_PATCHES:
        pick = np.linspace(0, ys.size - 1, MAX_PATCHES).astype(int)
        ys, xs = ys[pick], xs[pick]
    win = sliding_window_view(channel, (PATCH, PATCH))
    return win[ys - r, xs - r].reshape(-1, PATCH * PATCH).astype(np.float64)


def _texture(p: np.ndarray) -> np.ndarray:
    q = p.reshape(-1, PATCH, PATCH)
    return (np.diff(q, axis=1) ** 2).sum((1, 2)) + (np.diff(q, axis=2) ** 2).sum((1, 2))


def _min_eig(p: np.ndarray) -> float:
    """The noise variance in the patches ``p`` (n, 49): the eigenvalues of their covariance, the
    largest dropped one by one until the mean of the rest is no more than their median (Chen,
    Zhu and Heng 2015: a flat noise spectrum is what is left). The smallest eigenvalue alone,
    as in Liu et al., falls well below the noise with a few hundred patches."""
    ev = np.sort(np.maximum(np.linalg.eigvalsh(np.cov(p, rowvar=False)), 0.0))
    k = np.arange(1, len(ev) + 1)
    means = np.cumsum(ev) / k
    medians = (ev[(k - 1) // 2] + ev[k // 2]) / 2  # the median of the k smallest (sorted)
    ok = np.nonzero(means <= medians)[0]
    return float(means[ok[-1]] if ok.size else ev[0])


def weak_patches(p: np.ndarray, iterations: int = 4) -> tuple[float, np.ndarray]:
    """(noise variance, which patches are weak-textured) of the patches ``p`` (n, 49)."""
    global _TAU
    if _TAU is None:
        _TAU = _threshold_factor()
    tex = _texture(p)
    keep = np.ones(len(p), bool)
    var = _min_eig(p)
    for _ in range(iterations):
        new = tex < _TAU * var
        if new.sum() < 3 * PATCH * PATCH:
            break  # too few patches left to read a covariance: keep the last estimate
        v = _min_eig(p[new])
        done = abs(v - var) < 1e-3 * max(var, 1e-6) and (new == keep).all()
        var, keep = v, new
        if done:
            break
    return var, keep


def estimate(rgb: np.ndarray, where: np.ndarray) -> dict | None:
    """The grain of ``rgb`` (uint8 crop) inside ``where``: {"sigma": per channel, "a", "b"
    (var = a + b * level per channel, level 0..255; b is 0 when no dependence shows),
    "patches"}; None when the region holds too few patches to tell."""
    sig, a_s, b_s, n = [], [], [], 0
    for c in range(3):
        p = patches(rgb[..., c].astype(np.float32), where)
        if len(p) < 4 * PATCH * PATCH:
            return None
        var, keep = weak_patches(p)
        n = int(keep.sum())
        a, b = var, 0.0
        weak = p[keep]
        if len(weak) >= LEVELS * 3 * PATCH * PATCH // 2:
            means = weak.mean(1)
            edges = np.quantile(means, np.linspace(0, 1, LEVELS + 1))
            lv, vs = [], []
            for k in range(LEVELS):
                sel = (means >= edges[k]) & (means <= edges[k + 1])
                if sel.sum() >= PATCH * PATCH:
                    lv.append(float(means[sel].mean()))
                    vs.append(_min_eig(weak[sel]))
            if len(lv) >= 3 and np.ptp(lv) > 20:
                B, A = np.polyfit(lv, vs, 1)
                resid_line = np.mean((np.polyval([B, A], lv) - vs) ** 2)
                resid_const = np.mean((np.mean(vs) - np.asarray(vs)) ** 2)
                if B > 0 and resid_line < 0.35 * resid_const and B * np.ptp(lv) > 0.5 * max(np.mean(vs), 1.0):
                    a, b = float(A), float(B)
        sig.append(math.sqrt(var))
        a_s.append(a)
        b_s.append(b)
    return {"sigma": [round(s, 3) for s in sig], "a": [round(v, 3) for v in a_s], "b": [round(v, 5) for v in b_s],
            "patches": n}


def variance(model: dict, levels: np.ndarray, c: int) -> np.ndarray:
    """The noise variance of ``model`` (an ``estimate``) at ``levels`` (0..255) in channel ``c``."""
    if model["b"][c] == 0:
        return np.full(levels.shape, model["sigma"][c] ** 2, np.float32)
    return np.maximum(model["a"][c] + model["b"][c] * levels, 0).astype(np.float32)


def apply(crop: np.ndarray, alpha: np.ndarray, around: dict, own: dict | None, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """``crop`` (RGB uint8) with noise added to the object (``alpha``) so that its grain reaches
    ``around``'s (``own``: the object's grain, None for none); returns (crop, the sigma added
    per channel at the object's mean level)."""
    f = crop.astype(np.float32)
    out = f.copy()
    inside = alpha > 0
    added = []
    for c in range(3):
        lv = f[..., c][inside]
        need = variance(around, lv, c) - (variance(own, lv, c) if own else 0.0)
        need = np.where(need > SLACK ** 2 + 2 * SLACK * np.sqrt(variance(own, lv, c) if own else 0.0), need, 0.0)
        n = rng.standard_normal(lv.shape, dtype=np.float32) * np.sqrt(need)
        out[..., c][inside] = lv + alpha[inside] * n
        added.append(round(float(np.sqrt(need.mean())), 3))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), added
