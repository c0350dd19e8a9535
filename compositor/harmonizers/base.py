"""The harmonizer contract, shared helpers, and the progress protocol.

A harmonizer is a class with ``name``, a frozen keyword-only ``Settings`` dataclass
whose fields carry their help text, and
``harmonize(composite, settings, progress=None) -> Result``. It is registered in the
``compositor.harmonizers`` entry-point group. Any class with those three members works;
the built-in ones derive from ``Harmonizer``, which holds the shared opening (settings
validated, the composite checked, the run timed, the ``Result`` built) and leaves them
only ``run``.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import cv2
import numpy as np

from ..plugins import ready_settings
from ..types import Composite, Result


class Progress(Protocol):
    """What a harmonizer reports while it works; every method is optional to call."""

    snapshot_every: int

    def update(self, step: int, total: int, **info) -> None: ...

    def snapshot(self, step: int, image: np.ndarray) -> None: ...


class NoProgress:
    """The progress a harmonizer gets when nobody listens: reports nothing, takes no snapshots."""

    snapshot_every = 0

    def update(self, step: int, total: int, **info) -> None:
        pass

    def snapshot(self, step: int, image: np.ndarray) -> None:
        pass


def object_region(composite: Composite, backend: str) -> np.ndarray:
    """The binary object region (mask > 0); refuses an empty or all-object mask."""
    from ..errors import UsageError

    region = composite.mask > 0
    if not region.any():
        raise UsageError(f"{backend}: the composite's mask is empty (no nonzero pixels), so there is no object to "
                         "harmonize (the mask must mark an object).")
    if region.all():
        raise UsageError(f"{backend}: the composite's mask covers the whole image, so there is no background to "
                         "harmonize against.")
    return region


def blend_weight(mask: np.ndarray, dilate_px: int, feather_px: float) -> np.ndarray:
    """Where a harmonizer may change pixels: the object (mask > 0) grown by ``dilate_px``,
    with a soft edge of about ``feather_px``; float32 HxW in [0, 1]."""
    from ..ops.regions import dilate  # the same disc; large radii by distance transform, not a huge kernel

    weight = dilate(mask > 0, dilate_px).astype(np.float32)
    if feather_px > 0:
        weight = cv2.GaussianBlur(weight, (0, 0), sigmaX=feather_px, borderType=cv2.BORDER_REPLICATE)
    return np.maximum(weight, mask.astype(np.float32))


def check_composite(composite: Composite) -> None:
    """Refuse a composite whose image is not RGB uint8 HxWx3 (TypeError) or whose mask is
    not the image's size (ValueError): programming errors, not user input."""
    img, mask = composite.image, composite.mask
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise TypeError(f"composite.image must be RGB uint8 HxWx3, got {img.dtype} {img.shape}")
    if mask.shape != img.shape[:2]:
        raise ValueError(f"composite.mask is {mask.shape}, the image is {img.shape[:2]}")


@dataclass
class Output:
    """What ``Harmonizer.run`` returns: the image, its stats, and ``params`` to record
    (None: the settings as a dict)."""

    image: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] | None = None


class Harmonizer:
    """Base class of the built-in harmonizers.

    ``harmonize(composite, settings=None, progress=None) -> Result`` builds the default
    settings when none are given and validates them, checks the composite
    (``check_composite``; with ``needs_region``, also ``object_region``), times
    ``run(composite, settings, progress, region) -> Output`` and returns the ``Result``.
    ``region`` is the object region (mask > 0), or None when ``needs_region`` is False.

    A composite with several ``objects`` is corrected one object at a time, each against
    its own surroundings, in paste order (``harmonizers.objects``), when the backend corrects
    objects (``corrects_objects``: not a backend or mode that repaints the whole image); the
    result's stats then hold one entry per object under ``objects``.
    """

    name: ClassVar[str]
    Settings: ClassVar[type]
    #: refuse an empty or all-object mask before running
    needs_region: ClassVar[bool] = True
    #: corrects the object (rather than repainting the image): several objects are corrected one by one
    per_object: ClassVar[bool] = True

    def corrects_objects(self, settings) -> bool:
        """Whether these settings correct each object on its own (``per_object``; a backend with a
        mode that repaints the whole image says no for that mode)."""
        return self.per_object

    def harmonize(self, composite: Composite, settings=None, progress: Progress | None = None) -> Result:
        """The harmonized ``composite`` as a ``Result`` (see the class docstring)."""
        from .objects import harmonize_objects, visible

        settings = ready_settings(self.Settings, settings, self.name)
        check_composite(composite)
        region = object_region(composite, self.name) if self.needs_region else None
        progress = progress or NoProgress()
        t0 = time.perf_counter()
        if len(visible(composite.objects)) > 1 and self.corrects_objects(settings):
            regions = (lambda c: object_region(c, self.name)) if self.needs_region else (lambda c: None)
            image, stats, params = harmonize_objects(self.run, composite, settings, progress, regions)
            out = Output(image, stats, params)
        else:
            out = self.run(composite, settings, progress, region)
        seconds = time.perf_counter() - t0
        params = dataclasses.asdict(settings) if out.params is None else out.params
        return Result(image=out.image, backend=self.name, seconds=seconds, params=params, stats=out.stats)

    def run(self, composite: Composite, settings, progress: Progress, region: np.ndarray | None) -> Output:
        """The backend's own work on a checked composite with ready settings: the ``Output``."""
        raise NotImplementedError
