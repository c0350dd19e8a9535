"""The classical harmonizers: ``none``, ``poisson`` and ``reinhard``.

They are the baselines every harmonization number is compared with, so they are
small, fast (no TensorFlow) and deterministic.

``none``
    The composite as it is.

``poisson``
    Poisson image editing (Pérez et al. 2003), solved by SciPy's sine transform
    (``poisson_clone``; ``solver=opencv`` uses ``cv2.seamlessClone``): the object is
    cloned back onto the composite so that its gradients are kept while its colours
    meet the background around it. Cloning the composite onto itself would change
    nothing (its own gradient field reproduces it exactly, seam included), so the two
    images are prepared the way Poisson cloning needs them: the *source* is the
    object's pixels, extended smoothly outward past its edge; the *destination* is the
    composite with the object's pixels filled in from the background around them (the
    background behind the object, estimated). The clone region is the object
    (``mask > 0``) grown by ``dilate`` px. The work is done on a crop around the object,
    padded by reflection where the crop meets the image border, so an object touching
    any border or corner is handled like any other; the result is blended back
    through the clone region with a ``feather`` px soft edge, so pixels away from the
    object are returned unchanged.

``reinhard``
    Colour transfer (Reinhard et al. 2001) in CIE Lab: the object's per-channel mean
    and standard deviation are moved toward those of a ring of background around it;
    ``strength`` interpolates between the object's own statistics (0) and the ring's
    (1). Applied through the soft mask, so the object's edge blends.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import UsageError
from ..plugins import check_choice, check_range, setting
from ..types import Composite
from ..masks import auto_ring_width, dilate, ellipse, lab, ring_mask
from ..ops.geometry import bbox
from .base import Harmonizer, Output, Progress, to_uint8

__all__ = ["NoneHarmonizer", "PoissonHarmonizer", "ReinhardHarmonizer", "NoneSettings", "PoissonSettings",
           "ReinhardSettings", "lab", "ring_mask", "auto_ring_width", "fill"]

POISSON_MODES = ("normal", "mixed")
POISSON_SOLVERS = ("dst", "opencv")


# ---------------------------------------------------------------------------------------
# shared helpers


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
    (DST-I of length m is an FFT of length 2(m + 1); 198 px take 9x longer than 199.)"""
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
    length the FFT is fast for; OpenCV's ``seamlessClone`` takes up to 1.7x longer on
    unlucky sizes and was a third of a poisson composite's time."""
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


def _stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = values.astype(np.float64)
    return values.mean(0), values.std(0)


def _clip_box(x: int, y: int, w: int, h: int, W: int, H: int) -> list[int]:
    """(x, y, w, h) clipped to a W x H image."""
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    return [int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))]


def _round(values) -> list[float]:
    return [round(float(v), 4) for v in values]


# ---------------------------------------------------------------------------------------
# none


@dataclass(frozen=True, kw_only=True)
class NoneSettings:
    """The ``none`` backend has no settings."""

    def validate(self) -> None:
        pass


class NoneHarmonizer(Harmonizer):
    """The composite unchanged: the baseline every harmonizer is compared with."""

    name = "none"
    Settings = NoneSettings
    needs_region = False

    def run(self, composite: Composite, settings: NoneSettings, progress: Progress, region) -> Output:
        return Output(composite.image.copy(), {"changed_pixels": 0})


# ---------------------------------------------------------------------------------------
# poisson


@dataclass(frozen=True, kw_only=True)
class PoissonSettings:
    mode: str = setting("normal", "cloning mode: normal (the object's gradients) or mixed (the stronger of the "
                                  "object's and the background's gradients at each pixel)", POISSON_MODES)
    dilate: int = setting(5, "px the object region (mask > 0) is grown by to make the clone region")
    feather: float = setting(2.0, "px of soft edge when the result is blended back through the clone region")
    solver: str = setting("dst", "dst: SciPy's discrete sine transform, on a rectangle grown to a size the FFT is "
                                 "fast for; opencv: cv2.seamlessClone (same equations, 1.2-2x slower; its mixed mode "
                                 "compares gradients its own way)", POISSON_SOLVERS)

    def validate(self) -> None:
        check_choice(self.mode, POISSON_MODES, "mode")
        check_choice(self.solver, POISSON_SOLVERS, "solver")
        check_range(self.dilate, 0, 200, "dilate", integer=True)
        check_range(self.feather, 0, 100, "feather", integer=False)


class PoissonHarmonizer(Harmonizer):
    """Poisson cloning of the object back onto the composite (SciPy sine transform or cv2.seamlessClone)."""

    name = "poisson"
    Settings = PoissonSettings

    def run(self, composite: Composite, settings: PoissonSettings, progress: Progress, region: np.ndarray) -> Output:
        image, mask = composite.image, composite.mask
        H, W = mask.shape
        d = settings.dilate
        soft = int(math.ceil(4 * settings.feather))

        # A crop around the object, with room for the dilation, the feather and OpenCV's
        # own margins; where it would leave the image it is padded by reflection instead.
        x, y, w, h = bbox(region)
        margin = d + soft + 8
        x0, y0, x1, y1 = x - margin, y - margin, x + w + margin, y + h + margin
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
        top, bottom, left, right = cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1

        crop = image[cy0:cy1, cx0:cx1].astype(np.float32)
        c_region = region[cy0:cy1, cx0:cx1]
        c_mask = mask[cy0:cy1, cx0:cx1]
        # The object's own pixels, less a 1 px rim (anti-aliased edge pixels carry the old
        # background, whose gradients would otherwise be kept as a speckled outline).
        core = c_mask >= 0.5
        inner = cv2.erode(core.astype(np.uint8), ellipse(1), borderType=cv2.BORDER_REPLICATE).astype(bool)
        core = inner if inner.any() else (core if core.any() else c_region)
        # Destination: the composite with the object (and its anti-aliased rim) filled in
        # from the background; source: the object's pixels extended outward past its edge.
        hole = dilate(c_region, 1)
        if hole.all():  # background at most 1 px thick: fill from all of it, rim included
            hole = c_region
        if hole.all():
            raise UsageError("poisson: the mask covers the whole region around the object, so there is no "
                             "background to clone into.")
        dest = to_uint8(fill(crop, ~hole))
        src = to_uint8(fill(crop, core))

        def pad(a: np.ndarray, border: int) -> np.ndarray:
            return cv2.copyMakeBorder(a, top, bottom, left, right, border, value=0)

        src_p = pad(src, cv2.BORDER_REFLECT)
        dest_p = pad(dest, cv2.BORDER_REFLECT)
        clone = dilate(pad(c_region.astype(np.uint8), cv2.BORDER_CONSTANT).astype(bool), d)
        clone_u8 = clone.astype(np.uint8) * 255
        # seamlessClone places the mask's bounding box centred on `center`; with this centre
        # the destination ROI is exactly the source ROI (checked in the tests).
        bx, by, bw, bh = cv2.boundingRect(clone_u8)
        if settings.solver == "opencv":
            center = (bx + bw // 2, by + bh // 2)
            flag = cv2.NORMAL_CLONE if settings.mode == "normal" else cv2.MIXED_CLONE
            cloned = cv2.seamlessClone(src_p, dest_p, clone_u8, center, flag)
        else:
            cloned = poisson_clone(src_p, dest_p, clone, settings.mode)
        ph, pw = clone.shape
        cloned = cloned[top:ph - bottom, left:pw - right].astype(np.float32)
        c_clone = clone[top:ph - bottom, left:pw - right]

        # Blend back through the clone region (soft edge), so pixels away from it keep their values.
        weight = c_clone.astype(np.float32)
        if settings.feather > 0:
            weight = cv2.GaussianBlur(weight, (0, 0), sigmaX=settings.feather, borderType=cv2.BORDER_REPLICATE)
        weight = np.maximum(weight, c_mask.astype(np.float32))
        blended = to_uint8(crop + weight[..., None] * (cloned - crop))
        out_crop = np.where((weight > 0)[..., None], blended, image[cy0:cy1, cx0:cx1])
        out = image.copy()
        out[cy0:cy1, cx0:cx1] = out_crop

        # (outside the crop nothing changed)
        changed = np.any(out_crop != image[cy0:cy1, cx0:cx1], axis=2)
        diff = np.abs(out_crop.astype(np.int16) - image[cy0:cy1, cx0:cx1].astype(np.int16))
        stats = {
            "clone_box": _clip_box(bx - left + cx0, by - top + cy0, bw, bh, W, H),
            "padded_tblr": [int(top), int(bottom), int(left), int(right)],
            "clone_pixels": int(c_clone.sum()),
            "changed_pixels": int(changed.sum()),
            "mean_abs_change_in_object": round(float(diff[c_region].mean()), 4),
        }
        return Output(out, stats)


# ---------------------------------------------------------------------------------------
# reinhard


@dataclass(frozen=True, kw_only=True)
class ReinhardSettings:
    strength: float = setting(1.0, "0 keeps the object's colour statistics, 1 takes the background ring's")
    ring: int = setting(0, "width in px of the background ring the target statistics come from; "
                           "0 = 0.15 x the object's bounding-box diagonal (at least 3 px)")
    preserve_luminance: bool = setting(False, "transfer only the colour (a, b), keep the object's lightness (L)")

    def validate(self) -> None:
        check_range(self.strength, 0.0, 1.0, "strength", integer=False)
        check_range(self.ring, 0, 10_000, "ring", integer=True)
        if not isinstance(self.preserve_luminance, (bool, np.bool_)):
            raise UsageError(f"preserve_luminance must be true or false; received {self.preserve_luminance!r}.")


class ReinhardHarmonizer(Harmonizer):
    """Reinhard colour transfer in Lab from the background ring to the object."""

    name = "reinhard"
    Settings = ReinhardSettings

    def run(self, composite: Composite, settings: ReinhardSettings, progress: Progress, region: np.ndarray) -> Output:
        image, mask = composite.image, composite.mask
        width = settings.ring or auto_ring_width(region)
        ring = ring_mask(region, width)
        if not ring.any():
            raise UsageError(f"reinhard: the background ring around the object is empty (ring width {width} px); "
                             "the object leaves no background beside it.")
        core = mask >= 0.5
        if not core.any():
            core = region

        # Only the object's bounding box needs converting.
        x, y, w, h = bbox(region)
        box = (slice(y, y + h), slice(x, x + w))
        obj_lab = lab(image[box])
        mu_o, sd_o = _stats(obj_lab[core[box]])
        mu_b, sd_b = _stats(_ring_lab(image, ring))
        s = float(settings.strength)
        mu_t = mu_o + s * (mu_b - mu_o)
        sd_t = sd_o + s * (sd_b - sd_o)
        scale = np.where(sd_o > 1e-6, sd_t / np.maximum(sd_o, 1e-6), 1.0)
        channels = [1, 2] if settings.preserve_luminance else [0, 1, 2]
        moved = obj_lab.astype(np.float64).copy()
        for c in channels:
            moved[..., c] = (moved[..., c] - mu_o[c]) * scale[c] + mu_t[c]
        moved[..., 0] = np.clip(moved[..., 0], 0.0, 100.0)
        rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB)
        rgb = np.clip(rgb, 0.0, 1.0) * 255.0
        alpha = mask[box].astype(np.float32)[..., None]
        crop = image[box].astype(np.float32)
        blended = to_uint8(crop + alpha * (rgb - crop))
        out = image.copy()
        out[box] = np.where(alpha > 0, blended, image[box])
        stats = {
            "ring_px": int(width),
            "object_pixels": int(core.sum()),
            "ring_pixels": int(ring.sum()),
            "object_mean_lab": _round(mu_o), "object_std_lab": _round(sd_o),
            "background_mean_lab": _round(mu_b), "background_std_lab": _round(sd_b),
            "target_mean_lab": _round(mu_t), "target_std_lab": _round(sd_t),
        }
        return Output(out, stats)


def _ring_lab(image: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Lab values of the ring's pixels, converting only the ring's bounding box."""
    x, y, w, h = bbox(ring)
    sub = ring[y:y + h, x:x + w]
    return lab(image[y:y + h, x:x + w])[sub]
