"""Poisson image editing (Pérez et al. 2003) and the smooth fill that prepares its inputs.

``poisson_clone`` solves the Poisson equation over a rectangle by a discrete sine
transform (SciPy); ``fill`` fills unknown pixels smoothly from known ones (push-pull).
Used by the ``poisson`` harmonizer.
"""
from __future__ import annotations

import cv2
import numpy as np

from .geometry import bbox
from .pixels import to_uint8


def fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (float32 HxWxC) with the pixels where ``known`` is False filled smoothly
    from the known ones (push-pull over a Gaussian pyramid). Known pixels are kept."""
    image = np.asarray(image, np.float32)
    weight = known.astype(np.float32)
    if weight.min() > 0:
        return image.copy()
    if weight.max() == 0:
        raise ValueError("fill: no known pixels to fill from")
    levels = [(image * weight[..., None], weight)]
    v, w = levels[0]
    while w.min() <= 0 and min(w.shape) > 1:
        v, w = cv2.pyrDown(v), cv2.pyrDown(w)
        if v.ndim == 2:
            v = v[..., None]
        levels.append((v, w))
    # The coarsest level: the weighted mean where anything is known, the global mean elsewhere.
    v, w = levels[-1]
    mean = levels[0][0].reshape(-1, image.shape[2]).sum(0) / levels[0][1].sum()
    estimate = np.where(w[..., None] > 1e-6, v / np.maximum(w, 1e-6)[..., None], mean)
    for v, w in reversed(levels[:-1]):
        up = cv2.pyrUp(estimate, dstsize=(w.shape[1], w.shape[0]))
        if up.ndim == 2:
            up = up[..., None]
        # v is colour premultiplied by the known fraction w; unknown parts come from the coarser level.
        a = np.clip(w, 0.0, 1.0)[..., None]
        estimate = np.where(a > 1e-6, v / np.maximum(a, 1e-6), 0.0) * a + up * (1.0 - a)
    return np.where(known[..., None], image, estimate).astype(np.float32)



def _fast_dst_length(n: int) -> int:
    """The smallest m >= n whose DST-I is fast: 2(m + 1) has no prime factor above 5.
    (DST-I of length m is an FFT of length 2(m + 1); a length with a large prime factor is
    many times slower, docs/PERFORMANCE.md.)"""
    from scipy.fft import next_fast_len

    length = 2 * (n + 1)
    while True:
        length = next_fast_len(length, real=True)
        if length % 2 == 0:
            return length // 2 - 1
        length += 1


def _span(lo: int, hi: int, want: int, limit: int) -> tuple[int, int]:
    """[lo, hi) grown to ``want`` long, about evenly on both sides, inside [1, limit - 1)."""
    want = max(hi - lo, min(want, limit - 2))
    lo -= (want - (hi - lo)) // 2
    hi = lo + want
    if lo < 1:
        lo, hi = 1, hi + 1 - lo
    if hi > limit - 1:
        lo, hi = max(1, lo - (hi - limit + 1)), limit - 1
    return lo, hi


def poisson_clone(src: np.ndarray, dest: np.ndarray, mask: np.ndarray, mode: str = "normal") -> np.ndarray:
    """Poisson image editing (Pérez et al. 2003): ``dest`` (HxWxC) with the pixels in a
    rectangle around ``mask`` replaced by the solution of the Poisson equation whose guidance
    field is ``src``'s gradients where ``mask`` holds (``mixed``: the stronger of ``src``'s
    and ``dest``'s, edge by edge) and ``dest``'s elsewhere, with ``dest`` as the boundary
    condition on the rectangle's border. Returns uint8.

    The discretisation is OpenCV's ``seamlessClone``: forward differences, the mask eroded
    by 3 px, the solve over the mask's bounding rectangle by a discrete sine transform.
    Here the transform is SciPy's (pocketfft) and the rectangle is grown a few pixels to a
    length the FFT is fast for, which OpenCV does not do (docs/PERFORMANCE.md)."""
    from scipy import fft

    H, W = mask.shape
    box = bbox(mask)
    # the mask 1 px inside the image (its outer frame is the boundary condition, as in OpenCV)
    if box is None:
        return dest.copy()
    x, y, w, h = box
    y0, y1 = max(1, y), min(H - 1, y + h)
    x0, x1 = max(1, x), min(W - 1, x + w)
    if y1 <= y0 or x1 <= x0:  # nothing inside the frame to solve for
        return dest.copy()
    y0, y1 = _span(y0, y1, _fast_dst_length(y1 - y0), H)
    x0, x1 = _span(x0, x1, _fast_dst_length(x1 - x0), W)
    # the solve rectangle with its 1 px frame
    S = src[y0 - 1:y1 + 1, x0 - 1:x1 + 1].astype(np.float32)
    D = dest[y0 - 1:y1 + 1, x0 - 1:x1 + 1].astype(np.float32)
    guide = cv2.erode(mask[y0 - 1:y1 + 1, x0 - 1:x1 + 1].astype(np.uint8), np.ones((3, 3), np.uint8),
                      iterations=3).astype(bool)[..., None]

    def field(axis: int) -> np.ndarray:
        gs, gd = np.diff(S, axis=axis), np.diff(D, axis=axis)  # the edge from each pixel to the next
        g = guide[:-1] if axis == 0 else guide[:, :-1]
        if mode == "mixed":
            gs = np.where(np.abs(gs) > np.abs(gd), gs, gd)
        return np.where(g, gs, gd)

    gy, gx = field(0), field(1)
    # divergence at the interior pixels, less what the known frame contributes
    div = (gx[1:-1, 1:] - gx[1:-1, :-1]) + (gy[1:, 1:-1] - gy[:-1, 1:-1])
    frame = D.copy()
    frame[1:-1, 1:-1] = 0.0
    rhs = div - (frame[:-2, 1:-1] + frame[2:, 1:-1] + frame[1:-1, :-2] + frame[1:-1, 2:])
    m, n = rhs.shape[:2]
    eig = (2.0 * np.cos(np.pi * np.arange(1, m + 1) / (m + 1)) - 2.0)[:, None] + \
          (2.0 * np.cos(np.pi * np.arange(1, n + 1) / (n + 1)) - 2.0)[None, :]
    coeffs = fft.dstn(rhs, type=1, axes=(0, 1), workers=1)
    coeffs /= eig[..., None].astype(np.float32)
    out = dest.copy()
    out[y0:y1, x0:x1] = to_uint8(fft.idstn(coeffs, type=1, axes=(0, 1), workers=1))
    return out

