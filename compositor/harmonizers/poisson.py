"""``poisson``: Poisson image editing (Pérez et al. 2003) of the object back onto the composite.

Solved by SciPy's sine transform (``ops.poisson.poisson_clone``; ``solver=opencv`` uses
``cv2.seamlessClone``): the object is cloned back onto the composite so that its
gradients are kept while its colours meet the background around it. Cloning the
composite onto itself would change nothing (its own gradient field reproduces it
exactly, seam included), so the two images are prepared the way Poisson cloning needs
them: the *source* is the object's pixels, extended smoothly outward past its edge; the
*destination* is the composite with the object's pixels filled in from the background
around them (the background behind the object, estimated; ``ops.poisson.fill``). The
clone region is the object (``mask > 0``) grown by ``dilate`` px. The work is done on a
crop around the object, padded by reflection where the crop meets the image border, so
an object touching any border or corner is handled like any other; the result is
blended back through the clone region with a ``feather`` px soft edge, so pixels away
from the object are returned unchanged. A classical baseline: fast (no TensorFlow) and
deterministic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import UsageError
from ..ops.regions import dilate, ellipse
from ..ops.geometry import bbox
from ..ops.poisson import fill, poisson_clone
from ..plugins import setting
from ..types import Composite
from ..ops.pixels import to_uint8
from .base import Harmonizer, Output, Progress

POISSON_MODES = ("normal", "mixed")
POISSON_SOLVERS = ("dst", "opencv")


def _clip_box(x: int, y: int, w: int, h: int, W: int, H: int) -> list[int]:
    """(x, y, w, h) clipped to a W x H image."""
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    return [int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))]


@dataclass(frozen=True, kw_only=True)
class PoissonSettings:
    """Cloning mode, solver, and the region the clone is blended back through."""

    mode: str = setting("normal", "cloning mode: normal (the object's gradients) or mixed (the stronger of the "
                                  "object's and the background's gradients at each pixel)", POISSON_MODES)
    dilate: int = setting(5, "px the object region (mask > 0) is grown by to make the clone region",
                          bounds=(0, 200))
    feather: float = setting(2.0, "px of soft edge when the result is blended back through the clone region",
                              bounds=(0, 100))
    solver: str = setting("dst", "dst: SciPy's discrete sine transform, on a rectangle grown to a size the FFT is "
                                 "fast for; opencv: cv2.seamlessClone (same equations, slower; its mixed mode "
                                 "compares gradients its own way)", POISSON_SOLVERS)


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
