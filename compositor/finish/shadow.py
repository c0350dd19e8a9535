"""``shadow``: a contact shadow where the object meets the ground, and a cast shadow on request.

Nothing here estimates the light: a cast shadow falls away from the direction the user gives
(``light``: azimuth, elevation in degrees). The shadow is a map S in [0, 1] built from the
object's mask; the background's luminance is multiplied by ``1 - opacity * S * (1 - alpha)``
(every RGB channel by the same factor, so its hue is kept), with ``alpha`` the union of every
pasted object's alpha: pixels inside an object are never changed, no pixel is ever
brightened, and none is made darker than ``1 - opacity`` times what it was (opacity is at
most 0.9: never black).

- contact: the object's lowest edge (its bottom 8% of height), blurred flat and wide and
  pulled a little below the object; darkest where the object stands.
- cast: the whole mask projected onto the ground along the light. A pixel ``h`` rows above
  the object's foot lands ``h / tan(elevation)`` away from the foot, in the direction away
  from the light (azimuth clockwise from the top of the picture: 0 = light from behind the
  scene, 90 = from the right, 180 = from the camera, 270 = from the left); depth on the
  ground is foreshortened by ``GROUND``. The shadow gets softer (its blur grows with
  ``softness``) and fainter with the distance from the foot. The contact shadow is added.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..ops.geometry import bbox

#: How much a shadow's extent in depth shrinks on the picture (a ground seen obliquely).
GROUND = 0.35
#: The longest cast shadow, in object heights (low suns would leave the picture).
MAX_LENGTH = 3.0
#: The least depth (in heights per unit of shadow length) a cast shadow keeps on the picture.
MIN_DEPTH = 0.12
KINDS = ("none", "contact", "cast")


def _blur(img: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    """Gaussian blur; large sigmas run on a downscaled copy (the same look, a fraction of the time)."""
    sy = sx if sy is None else sy
    if max(sx, sy) < 0.3:
        return img
    f = 1
    while max(sx, sy) / f > 6 and min(img.shape[:2]) // (f * 2) >= 8:
        f *= 2
    if f == 1:
        return cv2.GaussianBlur(img, (0, 0), sigmaX=sx, sigmaY=sy, borderType=cv2.BORDER_CONSTANT)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sx / f, sigmaY=sy / f, borderType=cv2.BORDER_CONSTANT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shadow_map(alpha: np.ndarray, kind: str, light: tuple[float, float] | None, softness: float) -> tuple[np.ndarray, dict]:
    """The shadow of the object whose alpha is ``alpha`` (float32 HxW): (S float32 HxW in [0, 1],
    what was used). ``kind`` is contact or cast (cast needs ``light``); ``softness`` in 0..1
    scales every blur."""
    H, W = alpha.shape
    S = np.zeros((H, W), np.float32)
    box = bbox(alpha >= 0.5)
    if box is None or kind == "none":
        return S, {}
    x, y, w, h = box
    foot = y + h  # the row below the object's lowest pixel
    soft = 0.25 + 1.5 * softness
    # contact: the bottom of the object, flattened and widened
    # a thin, tall object still stands on a patch of ground: its footprint reads at least half its height wide
    base = max(w, 0.5 * h)
    band = max(2, int(round(min(0.08 * h, 0.25 * w))))
    c_sigma = max(1.5, 0.04 * base * soft)
    pad = int(4 * c_sigma) + band + 2
    x0, x1 = max(0, x - pad), min(W, x + w + pad)
    y0, y1 = max(0, foot - band - pad), min(H, foot + pad)
    if y1 > y0 and x1 > x0:
        crop = alpha[y0:y1, x0:x1].copy()
        rows = np.arange(y0, y1)[:, None]
        crop[(rows < foot - band).repeat(crop.shape[1], 1)] = 0
        shift = max(1, band // 3)
        crop = np.roll(crop, shift, axis=0)
        crop[:shift] = 0
        c = _blur(crop, c_sigma, c_sigma * 0.4)
        if c.max() > 0:
            S[y0:y1, x0:x1] = np.clip(c / c.max() * 1.2, 0, 1)
    info: dict = {"kind": kind, "contact_sigma_px": round(c_sigma, 2)}
    if kind != "cast":
        return S, info
    az, el = light
    k = min(MAX_LENGTH, 1.0 / max(math.tan(math.radians(el)), 1e-6))
    dx = -math.sin(math.radians(az)) * k
    dy = math.cos(math.radians(az)) * k * GROUND
    if abs(dx) > 1e-6 and abs(dy) < MIN_DEPTH * k:  # a side light: the shadow keeps some depth on the ground
        dy = math.copysign(MIN_DEPTH * k, dy if dy else 1.0)
    # the affine map (x, y) -> (x + dx (foot - y), foot + dy (foot - y)) on the whole picture
    M = np.float32([[1, -dx, dx * foot], [0, -dy, foot + dy * foot]])
    length = k * h
    s0, s1 = c_sigma, c_sigma + 0.12 * soft * max(length, 1.0)
    corners = np.float32([[x, y, 1], [x + w, y, 1], [x, foot, 1], [x + w, foot, 1]]) @ M.T
    m = int(3 * s1) + 2
    X0 = int(max(0, min(corners[:, 0].min(), x) - m))
    X1 = int(min(W, max(corners[:, 0].max(), x + w) + m))
    Y0 = int(max(0, min(corners[:, 1].min(), y) - m))
    Y1 = int(min(H, max(corners[:, 1].max(), foot) + m))
    if X1 <= X0 or Y1 <= Y0:
        return S, {**info, "light": [az, el], "length_px": round(length, 1)}
    T = np.float32([[1, 0, -X0], [0, 1, -Y0]])
    Mc = (np.vstack([T, [0, 0, 1]]) @ np.vstack([M, [0, 0, 1]]) @ np.float32([[1, 0, X0], [0, 1, Y0], [0, 0, 1]]))[:2]
    src = alpha[Y0:Y1, X0:X1]
    height = np.clip((foot - np.arange(Y0, Y1, dtype=np.float32)) / max(h, 1), 0, 1)[:, None] * np.ones((1, X1 - X0), np.float32)
    size = (X1 - X0, Y1 - Y0)
    flat = cv2.warpAffine(src, Mc, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    t = cv2.warpAffine(height * src, Mc, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    near, far = _blur(flat, s0), _blur(flat, s1)
    tb = _blur(t, s0) / np.maximum(near, 1e-3)
    tb = np.clip(tb, 0, 1)
    cast = (near * (1 - tb) + far * tb) * (1 - 0.6 * tb)
    S[Y0:Y1, X0:X1] = np.maximum(S[Y0:Y1, X0:X1], np.clip(cast, 0, 1))
    return S, {**info, "light": [float(az), float(el)], "length_px": round(length, 1),
               "cast_sigma_px": [round(s0, 2), round(s1, 2)]}


def apply_shadow(image: np.ndarray, S: np.ndarray, union: np.ndarray, opacity: float) -> np.ndarray:
    """``image`` (RGB uint8) with its luminance multiplied by ``1 - opacity * S * (1 - union)``:
    darker only, never inside an object (``union`` = 1), never below ``1 - opacity``."""
    factor = 1.0 - float(opacity) * np.clip(S, 0, 1) * (1.0 - np.clip(union, 0, 1))
    touched = factor < 0.999
    if not touched.any():
        return image.copy()
    out = image.copy()
    ys, xs = np.nonzero(touched)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub = image[y0:y1, x0:x1].astype(np.float32) * factor[y0:y1, x0:x1, None]
    # rounded, then never above the original: no pixel is brightened by rounding
    darker = np.minimum(np.rint(sub), image[y0:y1, x0:x1]).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(touched[y0:y1, x0:x1, None], darker, image[y0:y1, x0:x1])
    return out
