"""vgg19's fit mode (the default; ``harmonize`` is its older name): a global colour and tone
correction of the object (per-channel gain and gamma) fitted on a small crop so that the
object's VGG19 Gram statistics come closer to those of the background ring around it,
held to a starting point taken from the colour ratio across the object's edge; the
correction is applied to the full-resolution object."""
from __future__ import annotations

import dataclasses

import numpy as np

from ...ops.geometry import bbox, grow
from ...ops.pixels import to_uint8
from ...ops.regions import object_and_ring
from ...ops.resize import at_least, resize, working_size
from ...types import Composite
from ..base import Output, Progress, object_region
from .settings import VGGSettings, check_finite, min_side

NAME = "vgg19"


def run(composite: Composite, settings: VGGSettings, progress: Progress) -> Output:
    """Fit a global colour/tone correction of the object on a small crop; apply it at full size."""
    from ...nst import colour, network

    region = object_region(composite, NAME)
    weights_name = network.resolve_weights(settings.network, settings.weights)
    extractor = network.extractor(settings.network, weights_name, settings.colour_layers, settings.pooling)

    H, W = region.shape
    box = bbox(region)
    pad = int(round(settings.context * max(box[2:])))
    if settings.context > 0:
        pad = max(pad, 1)  # a one-pixel object still gets background around it
    X0, Y0, X1, Y1 = grow(box, pad, (W, H))
    start = composite.image
    if settings.start == "learned":
        from ..base import NoProgress
        from . import learned

        learned_out = learned.run(composite, settings, NoProgress())
        start, matched = learned_out.image, learned_out.stats
    elif settings.histogram > 0 or settings.zones > 0:
        # the classical correction (boundary backend) first; the fit refines it, held toward it
        from ..boundary import edge_then_match

        start, matched = edge_then_match(composite.image, composite.mask, settings.boundary, settings.histogram,
                                         settings.zones)
    crop = start[Y0:Y1, X0:X1].astype(np.float32) / 255.0
    size = at_least(working_size(crop.shape, settings.crop_size), min_side(settings.colour_layers))
    small = resize(crop, size)
    obj = resize(composite.mask[Y0:Y1, X0:X1].astype(np.float32), size)
    ring = object_and_ring(obj)[1].astype(np.float32)

    full = start.astype(np.float32) / 255.0
    weight = composite.mask.astype(np.float32)[..., None]

    def corrected(theta) -> np.ndarray:
        """The full-resolution composite with the object corrected by ``theta``."""
        return to_uint8((full * (1.0 - weight) + colour.apply(np.asarray(theta), full) * weight) * 255.0)

    every = getattr(progress, "snapshot_every", 0) or 0

    def callback(step: int, loss: float, theta) -> None:
        progress.update(step, settings.iterations, loss=loss)
        if every and step % every == 0:
            progress.snapshot(step, corrected(theta))

    from ...seam import boundary_log_ratio

    if start is composite.image:
        edge_ratio = boundary_log_ratio(composite.image, composite.mask)
        centre = np.concatenate([-settings.boundary * edge_ratio, np.zeros(3)])
    else:
        centre = np.zeros(6)
        edge_ratio = np.asarray(matched["edge_log_ratio"]) if "edge_log_ratio" in matched else \
            boundary_log_ratio(composite.image, composite.mask)
    fit = colour.fit(extractor, small, obj, ring, obj, layers=settings.colour_layers, prior=settings.prior,
                     steps=settings.iterations, learning_rate=settings.lr, tolerance=settings.tolerance,
                     chroma=settings.chroma_prior, centre=centre, callback=callback)
    check_finite(settings, fit.history, fit.theta)
    image = corrected(fit.theta)
    if every and fit.steps % every:  # the last step, when the loop stopped between snapshots
        progress.snapshot(fit.steps, image)
    params = dataclasses.asdict(settings)
    params.update(weights=weights_name, learning_rate=settings.lr, crop_box=[X0, Y0, X1 - X0, Y1 - Y0],
                  working_size=list(size))
    theta = [round(float(v), 5) for v in fit.theta]
    stats = {"loss_start": fit.history[0] if fit.history else None,
             "loss_end": fit.history[-1] if fit.history else None, "steps": fit.steps,
             "gain": [round(float(np.exp(v)), 4) for v in fit.theta[:3]],
             "gamma": [round(float(np.exp(v)), 4) for v in fit.theta[3:6]], "theta": theta,
             "edge_log_ratio": [round(float(v), 5) for v in edge_ratio],
             "loss_history": [round(v, 6) for v in fit.history]}
    if start is not composite.image:
        stats["start"] = matched
    return Output(image, stats, params)
