"""vgg19's seed mode: Gatys et al.'s neural style transfer, content = style = the composite.

The composite is the content image and, prepared the method's way (``nst.style``), also
the style image. Content loss on ``block5_conv2``; style loss on the Gram matrices of
``block1_conv1`` .. ``block5_conv1`` with equal weights summing to 1. The optimisation
starts from the composite at a working size (``max_size``); the change it makes is
upsampled to full resolution and added to the composite, everywhere (``blend=image``,
the method) or only around the object (``blend=mask``), so the output keeps the
composite's size and detail.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...nst.style import prepare_style
from ...ops.pixels import to_uint8
from ...ops.resize import at_least, resize, working_size
from ...types import Composite
from ..base import Output, Progress, blend_weight
from .settings import VGGSettings, check_finite, min_side


def run(composite: Composite, settings: VGGSettings, progress: Progress) -> Output:
    """Style-transfer the whole composite toward itself; the change blended back at full size."""
    from ...nst import network, optimize  # optimize imports TensorFlow quietly first

    weights_name = network.resolve_weights(settings.network, settings.weights)
    layers = tuple(dict.fromkeys(settings.content_layers + settings.style_layers))
    extractor = network.extractor(settings.network, weights_name, layers, settings.pooling)

    full = composite.image.astype(np.float32)
    h, w = full.shape[:2]
    smallest = min_side(layers)  # a thin or tiny image is stretched to what the network can take
    size = at_least(working_size(full.shape, settings.max_size), smallest)
    small = resize(full, size)
    style = prepare_style(composite.image, settings.style_max_size, smallest)
    content_targets, style_grams = optimize.features_for_targets(
        extractor, small, settings.content_layers, settings.style_layers, style)
    objective = optimize.Objective(
        extractor=extractor, content_targets=content_targets, style_grams=style_grams,
        content_weight=settings.content_weight, style_weight=settings.style_weight,
        tv_weight=settings.tv_weight)

    weight = blend_weight(composite.mask, settings.dilate, settings.feather)[..., None] \
        if settings.blend == "mask" else None

    def finish(result_small: np.ndarray) -> np.ndarray:
        correction = resize(result_small - small, (w, h))
        out = full + correction
        if weight is not None:
            out = full + weight * (out - full)
        return to_uint8(out)

    every = getattr(progress, "snapshot_every", 0) or 0

    def callback(step: int, loss: float, current) -> None:
        progress.update(step, settings.iterations, loss=loss)
        if every and step % every == 0:
            progress.snapshot(step, finish(current()))

    result_small, history = optimize.minimize(
        objective, small, optimizer=settings.optimizer, iterations=settings.iterations,
        learning_rate=settings.lr, callback=callback)
    check_finite(settings, history, result_small)
    image = finish(result_small)
    params = dataclasses.asdict(settings)
    params.update(weights=weights_name, learning_rate=settings.lr, working_size=list(size),
                  style_size=[style.shape[1], style.shape[0]])
    stats = {"loss_start": history[0], "loss_end": history[-1], "steps": len(history) - 1,
             "loss_history": [round(v, 6) for v in history]}
    return Output(image, stats, params)
