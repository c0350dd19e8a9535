"""``noise``: the photo's grain added where the object lacks it; the photo is never denoised.

The grain is read with the weak-texture patch method of Liu, Tanaka and Okutomi (2013):
among the 7x7 patches of a region, those whose gradient energy a noise of the current
estimate could explain (the 99th percentile of its gamma law) are kept, and the noise
variance is the smallest eigenvalue of their covariance; the two steps repeat until the
estimate settles. Per RGB channel.

Where the photo shows it, the grain depends on brightness: the weak-texture patches are
split by their mean into ``LEVELS`` groups, each gets its own estimate, and a line
``var = a + b * level`` is fitted; it is kept when it explains the groups clearly better
than a constant. Where the eigenvalues are far from flat (``FLAT``), what was read is
texture, not grain, and nothing is added. The object gets Gaussian noise, seeded, of variance
``var_around(level) - var_object(level)`` wherever that is positive; nothing is removed.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ops.regions import dilate

PATCH = 7
#: Grain is matched only where it reads as grain: at least this share of the weak-texture
#: patches' 49 eigenvalues near the noise variance (a flat spectrum). Texture that passes for
#: noise (foliage, fur) reads 0.13-0.37 around in-focus objects of DUTS-TR photos; Gaussian
#: noise of sigma 3..12 added to them 0.36 (5th percentile) to 0.71 (median).
FLAT = 0.35
LEVELS = 4
#: A brightness dependence is kept when the line leaves less than FIT of the constant's
#: squared residual and rises by more than RISE x the mean variance across the levels seen.
#: (On DUTS-TR, 80 photos, looser values moved the signal-dependent median by < 0.02 and made
#: the constant case worse.)
FIT = 0.35
RISE = 0.5
#: Most patches read per region (a regular subsample beyond).
MAX_PATCHES = 2000
#: Noise is added only where the surroundings' sigma exceeds RATIO x the object's + SLACK
#: (0..255 scale): photos as they are show some difference between object and background
#: (on DUTS-TR 150 photos, this left 96% of them untouched).
RATIO = 1.25
SLACK = 0.6


#: The 99th percentile of the gamma law of a 7x7 noise patch's gradient energy, per unit of
#: noise variance (Liu et al. 2013: shape N^2/2, scale 2 tr(Dh'Dh + Dv'Dv) / N^2, tr = 168):
#: scipy.stats.gamma.ppf(0.99, 24.5, scale=336 / 49), written out so that importing SciPy's
#: statistics (over a second) is not paid on the first call; a test checks it.
TAU = 256.8667690576394


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


def flatness(p: np.ndarray, var: float) -> float:
    """The share of the 49 eigenvalues of the patches' covariance within 1.5 x ``var``: near 1 for
    white noise, small where texture is read as noise."""
    ev = np.linalg.eigvalsh(np.cov(p, rowvar=False))
    return float(np.mean(ev <= 1.5 * max(var, 1e-6)))


def weak_patches(p: np.ndarray, iterations: int = 4) -> tuple[float, np.ndarray]:
    """(noise variance, which patches are weak-textured) of the patches ``p`` (n, 49)."""
    tex = _texture(p)
    keep = np.ones(len(p), bool)
    var = _min_eig(p)
    for _ in range(iterations):
        new = tex < TAU * var
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
    sig, a_s, b_s, n, total, flat = [], [], [], 0, 0, []
    for c in range(3):
        p = patches(rgb[..., c].astype(np.float32), where)
        if len(p) < 4 * PATCH * PATCH:
            return None
        var, keep = weak_patches(p)
        n, total = int(keep.sum()), len(p)
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
                if B > 0 and resid_line < FIT * resid_const and B * np.ptp(lv) > RISE * max(np.mean(vs), 1.0):
                    a, b = float(A), float(B)
        flat.append(flatness(weak, var))
        sig.append(math.sqrt(var))
        a_s.append(a)
        b_s.append(b)
    return {"sigma": [round(s, 3) for s in sig], "a": [round(v, 3) for v in a_s], "b": [round(v, 5) for v in b_s],
            "patches": n, "weak_share": round(n / max(total, 1), 3), "flatness": round(float(np.mean(flat)), 3)}


def variance(model: dict, levels: np.ndarray, c: int) -> np.ndarray:
    """The noise variance of ``model`` (an ``estimate``) at ``levels`` (0..255) in channel ``c``."""
    if model["b"][c] == 0:
        return np.full(levels.shape, model["sigma"][c] ** 2, np.float32)
    return np.maximum(model["a"][c] + model["b"][c] * levels, 0).astype(np.float32)


def apply(crop: np.ndarray, alpha: np.ndarray, around: dict, own: dict, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """``crop`` (RGB uint8) with noise added to the object (``alpha``) so that its grain (``own``)
    reaches ``around``'s; returns (crop, the rms sigma added per channel over the object)."""
    f = crop.astype(np.float32)
    out = f.copy()
    inside = alpha > 0
    added = []
    for c in range(3):
        lv = f[..., c][inside]
        have = variance(own, lv, c)
        want = variance(around, lv, c)
        # only where the surroundings are clearly the noisier (RATIO, SLACK in sigma)
        need = np.where(np.sqrt(want) > RATIO * np.sqrt(have) + SLACK, want - have, 0.0)
        if not need.any():
            added.append(0.0)
            continue
        n = rng.standard_normal(lv.shape, dtype=np.float32) * np.sqrt(need)
        out[..., c][inside] = lv + alpha[inside] * n
        added.append(round(float(np.sqrt(need.mean())), 3))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), added
