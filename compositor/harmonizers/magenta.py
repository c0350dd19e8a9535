"""Magenta arbitrary image stylization (Ghiasi et al. 2017) as a harmonizer.

A style network turns a style image into a 100-number bottleneck; a transform network
re-renders a content image in that style. Here the style image is the composite itself
(or ``style``), prepared the seeds' way (min-max normalised, average-pooled 3x3 with
stride 1, resized to 256x256), and the content is a crop around the object: the bounding
box of ``mask > 0`` padded by ``context``. The crop is stylized at a working size (384 px
on its long side), and only the *change* the network made there is upsampled and added
to the full-resolution crop, so the composite's detail survives; the change is applied
through the object mask grown by ``dilate`` px with a ``feather`` px soft edge, so pixels
away from the object keep their values.

Two sources of the same model:

``onnx``
    Magenta's int8 TFLite pair converted to ONNX (the ``magenta-predict-onnx`` and
    ``magenta-transform-onnx`` model files), run with onnxruntime on the CPU. The
    transform network is fully convolutional (its upsampling is by scale factors), but
    the file declares its input as 384x384; the session is built from a copy whose image
    height and width are left free, so the crop is stylized at its own aspect ratio
    (384 px long side, the short side padded by reflection to a multiple of 4), as the hub
    model does. That costs time in proportion to the crop's area instead of a full
    384x384 square, and no reflected padding enters the network's instance statistics.
    ``strength`` interpolates the bottleneck between the crop's own (0) and the style's
    (1).

``hub``
    The TF Hub SavedModel (``handle``: a tfhub.dev URL or a local SavedModel folder),
    called as ``module(content, style)``; it takes any content size (``hub_size``). It
    takes a style image, not a bottleneck, so ``strength`` blends its output with the
    input instead. It predicts and transforms in one call, so its time is all in
    ``seconds_transform`` (there is no ``seconds_predict``).

``auto`` (the default) uses the hub model only when it is on disk already: ``handle`` is
a local folder, or a URL whose TF Hub cache folder exists (``$TFHUB_CACHE_DIR`` or
tensorflow_hub's default); otherwise the ONNX files. Nothing is downloaded unless the
user chose ``source=hub`` with a URL handle.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import CompositorError, UsageError
from ..ops.geometry import bbox, grow
from ..plugins import ready_settings, setting
from ..types import Composite
from . import magenta_hub, magenta_onnx
from ..ops.pixels import to_uint8
from ..ops.resize import resize
from .base import Harmonizer, Output, Progress, blend_weight
from .magenta_hub import hub_module_dir, is_url
from .magenta_onnx import PREDICT_MODEL, STYLE_SIZE, TRANSFORM_MODEL
from ..nst.style import prepare_style

DEFAULT_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
SOURCES = ("auto", "hub", "onnx")


@dataclass(frozen=True, kw_only=True)
class MagentaSettings:
    """Which copy of the Magenta model runs, on which region, and how strongly."""

    source: str = setting("auto", "which copy of the model: onnx (the offline ONNX files), hub (TF Hub SavedModel "
                                  "at --handle; may download if the handle is a URL), auto (hub only if it is "
                                  "already on disk, else onnx)", SOURCES)
    handle: str = setting(DEFAULT_HANDLE, "TF Hub handle for source hub/auto: a tfhub.dev URL or a local "
                                          "SavedModel folder",
                          path=lambda value: not is_url(value))
    style: str | None = setting(None, "style image file; none = the composite itself", path=True)
    strength: float = setting(1.0, "onnx: interpolates the style bottleneck between the object region's own "
                                   "(0) and the style's (1); hub (takes a style image, not a bottleneck): blends "
                                   "the stylized output with the input", bounds=(0.0, 1.0))
    context: float = setting(0.25, "padding around the object's bounding box, as a fraction of its long side; "
                                   "the padded box is what gets stylized", bounds=(0.0, 10.0))
    hub_size: int = setting(384, "hub source: long side in px the region is stylized at (0 = its full "
                                 "resolution, else at least 16); the onnx model is fixed at 384",
                            bounds=(0, 8192))
    dilate: int = setting(12, "px the object mask is grown by to make the region the change is applied to",
                           bounds=(0, 1000))
    feather: float = setting(6.0, "px of soft edge on that region", bounds=(0.0, 1000.0))
    seed: int = setting(0, "random seed (recorded; the method is deterministic)", bounds=(None, None))

    def validate(self) -> None:
        """The handle, the style file and hub_size's gap (0, or at least 16): what the fields cannot declare."""
        if not isinstance(self.handle, str) or not self.handle.strip():
            raise UsageError(f"handle must be a TF Hub URL or a SavedModel folder; received {self.handle!r}.")
        if self.style is not None and (not isinstance(self.style, (str, os.PathLike)) or not str(self.style).strip()):
            raise UsageError(f"style must be an image file or none; received {self.style!r}.")
        if 0 < self.hub_size < 16:
            raise UsageError(f"hub_size must be 0 (full resolution) or at least 16; received {self.hub_size}.")


def choose_source(settings: MagentaSettings) -> tuple[str, str]:
    """(source, reason): which model copy to run, and why."""
    handle = settings.handle
    if settings.source == "onnx":
        return "onnx", "source=onnx"
    if settings.source == "hub":
        if not is_url(handle) and not os.path.isdir(handle):
            raise CompositorError(f"{handle}: no such SavedModel folder (source=hub needs a TF Hub URL or a "
                                  "local SavedModel folder as --handle).")
        return "hub", f"source=hub, handle {handle}"
    if not is_url(handle):
        if os.path.isdir(handle):
            return "hub", f"auto: the handle {handle} is a local folder"
        return "onnx", f"auto: the handle {handle} is not a local folder; using the ONNX models"
    if os.getenv("TFHUB_MODEL_LOAD_FORMAT", "").upper() == "UNCOMPRESSED":
        return "onnx", "auto: TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED reads the hub model over the network; using the ONNX models"
    folder = hub_module_dir(handle)
    try:
        cached = os.path.isdir(folder) and any(os.scandir(folder))
    except OSError:
        cached = False
    if cached:
        return "hub", f"auto: {handle} is in the TF Hub cache at {folder}"
    return "onnx", f"auto: {handle} is not in the TF Hub cache ({folder}); using the ONNX models"


# ---------------------------------------------------------------------------------------
# image preparation


def style_input(image: np.ndarray) -> np.ndarray:
    """The style network's input the seeds' way: min-max normalised, average-pooled 3x3
    (stride 1), resized to 256x256. Float32 256x256x3 in 0..1."""
    prepared = prepare_style(image, STYLE_SIZE)
    square = resize(prepared, (STYLE_SIZE, STYLE_SIZE))
    return np.clip(square / 255.0, 0.0, 1.0).astype(np.float32)


def region_box(mask: np.ndarray, context: float, margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the bounding box of ``mask > 0`` padded by ``context`` x its long
    side (at least ``margin`` px), clipped to the image."""
    region = mask > 0
    if not region.any():
        raise UsageError("magenta: the composite's mask is empty (no nonzero pixels), so there is no object to harmonize.")
    H, W = mask.shape
    box = bbox(region)
    pad = max(int(round(context * max(box[2], box[3]))), margin)
    return grow(box, pad, (W, H))


# ---------------------------------------------------------------------------------------
# the harmonizer


class MagentaHarmonizer(Harmonizer):
    """Magenta arbitrary stylization of the region around the object, blended back."""

    name = "magenta"
    Settings = MagentaSettings
    needs_region = False  # region_box refuses an empty mask; an all-object mask is stylized whole

    def load(self, settings: MagentaSettings | None = None) -> None:
        """Load the model these settings use now (ONNX sessions or the TF Hub module), so
        that the first ``harmonize`` call does not; batch workers call this once at start."""
        from .. import models

        settings = ready_settings(MagentaSettings, settings, self.name)
        source, _ = choose_source(settings)
        if source == "onnx":
            magenta_onnx.onnx_session(models.locate(PREDICT_MODEL))
            magenta_onnx.onnx_session(models.locate(TRANSFORM_MODEL), free_size=True)
        else:
            magenta_hub.hub_module(settings.handle)

    def run(self, composite: Composite, settings: MagentaSettings, progress: Progress, region) -> Output:
        image, mask = composite.image, composite.mask
        H, W = mask.shape

        # The region: the object's box with context, and room for the dilation and soft edge.
        margin = settings.dilate + int(math.ceil(4 * settings.feather)) + 2
        x0, y0, x1, y1 = region_box(mask, settings.context, margin)
        source, reason = choose_source(settings)

        if settings.style is not None:
            from ..imageio import read_rgb

            style_image = read_rgb(settings.style)  # a missing or unreadable file names itself
        else:
            style_image = image
        style = style_input(style_image)

        crop = image[y0:y1, x0:x1].astype(np.float32)
        rh, rw = crop.shape[:2]
        timings: dict[str, float] = {}
        progress.update(0, 3)
        if source == "onnx":
            small, stylized, work, net = magenta_onnx.stylize(crop, style, settings.strength, timings, progress)
            blend = 1.0
        else:
            small, stylized, work = magenta_hub.stylize(crop, style, settings, timings, progress)
            net = work
            blend = float(settings.strength)

        # Only the change the network made is upsampled: full-resolution detail survives.
        t = time.perf_counter()
        change = resize(stylized - small, (rw, rh))
        weight = blend_weight(mask[y0:y1, x0:x1], settings.dilate, settings.feather)[..., None]
        out_crop = to_uint8(crop + (blend * weight) * change)
        out = image.copy()
        out[y0:y1, x0:x1] = out_crop
        timings["seconds_blend"] = time.perf_counter() - t
        progress.update(3, 3)
        every = getattr(progress, "snapshot_every", 0) or 0
        if every:
            progress.snapshot(3, out)

        region = mask > 0
        diff = np.abs(out.astype(np.int16) - image.astype(np.int16))
        params = dataclasses.asdict(settings)
        params.update(source_used=source, region_box=[int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                      working_size=list(work), network_input=list(net), style_size=[STYLE_SIZE, STYLE_SIZE],
                      style_from=str(settings.style) if settings.style is not None else "composite")
        stats = {"source": source, "source_reason": reason,
                 **{k: round(v, 4) for k, v in timings.items()},
                 "changed_pixels": int(np.any(diff > 0, axis=2).sum()),
                 "mean_abs_change_in_object": round(float(diff[region].mean()), 4)}
        return Output(out, stats, params)
