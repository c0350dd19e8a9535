"""The style-transfer objective and the loops that minimise it (Adam, SGD, L-BFGS).

The image being optimised is RGB float32 on a 0..255 scale and is kept inside that
range: clipped after each Adam/SGD step, bounded in L-BFGS-B.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from .._tf import quiet_import

quiet_import()
import tensorflow as tf  # noqa: E402

from . import losses

OPTIMIZERS = ("adam", "lbfgs", "sgd")


@dataclass
class Objective:
    """alpha * content + beta * sum_l w_l * style_l + tv_weight * tv."""

    extractor: object
    content_targets: dict[str, tf.Tensor]
    style_grams: dict[str, tf.Tensor]
    content_weight: float
    style_weight: float
    tv_weight: float = 0.0
    style_layer_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if not self.style_layer_weights and self.style_grams:
            w = 1.0 / len(self.style_grams)
            self.style_layer_weights = {layer: w for layer in self.style_grams}

    def parts(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The objective's terms for ``image`` (1xHxWx3, 0..255): {"total", "content", "style", "tv"}."""
        feats = self.extractor(image)
        content = tf.add_n([losses.content_loss(t, feats[l]) for l, t in self.content_targets.items()]) \
            if self.content_targets else tf.constant(0.0)
        style = tf.add_n([self.style_layer_weights[l] * losses.style_layer_loss(g, feats[l])
                          for l, g in self.style_grams.items()]) if self.style_grams else tf.constant(0.0)
        tv = losses.total_variation(image) if self.tv_weight else tf.constant(0.0)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"total": total, "content": content, "style": style, "tv": tv}


def features_for_targets(extractor, image: np.ndarray, content_layers, style_layers, style_image: np.ndarray):
    """Content activations of ``image`` at ``content_layers`` and position-normalized Grams of
    ``style_image`` at ``style_layers`` (both HxWx3, 0..255): ({layer: tensor}, {layer: Gram})."""
    c = extractor(tf.constant(image[None], tf.float32))
    s = extractor(tf.constant(style_image[None], tf.float32))
    content = {l: tf.constant(c[l]) for l in content_layers}
    grams = {l: losses.gram(s[l], normalize=True) for l in style_layers}
    return content, grams


Callback = Callable[[int, float, Callable[[], np.ndarray]], None]


def minimize(objective: Objective, start: np.ndarray, *, optimizer: str, iterations: int, learning_rate: float,
             callback: Callback | None = None) -> tuple[np.ndarray, list[float]]:
    """Optimise the image from ``start`` (HxWx3 float32, 0..255); return it and the loss per step.

    ``optimizer`` is one of ``OPTIMIZERS``, run for ``iterations`` steps. ``history[0]`` is the
    loss of ``start``; ``history[k]`` the loss after step k. ``callback(step, loss, image)`` is
    called after every step, ``image()`` giving the current image.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(optimizer)

    @tf.function
    def value_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = objective.parts(x)["total"]
        return loss, tape.gradient(loss, x)

    if optimizer == "lbfgs":
        return _minimize_lbfgs(value_and_grad, start, iterations, callback)

    import keras

    x = tf.Variable(start[None].astype(np.float32))
    opt = keras.optimizers.Adam(learning_rate) if optimizer == "adam" else keras.optimizers.SGD(learning_rate)
    history = []

    @tf.function
    def step():
        loss, g = value_and_grad(tf.convert_to_tensor(x))
        opt.apply_gradients([(g, x)])
        x.assign(tf.clip_by_value(x, 0.0, 255.0))
        return loss

    current = lambda: x.numpy()[0]  # noqa: E731
    for k in range(1, iterations + 1):
        loss = float(step())  # the loss of the image before this step's update
        history.append(loss)
        if callback:
            callback(k, loss, current)
    final_loss, _ = value_and_grad(tf.convert_to_tensor(x))
    history.append(float(final_loss))
    return current(), history


def _minimize_lbfgs(value_and_grad, start: np.ndarray, iterations: int, callback: Callback | None):
    from scipy.optimize import Bounds
    from scipy.optimize import minimize as scipy_minimize

    shape = (1,) + start.shape
    history: list[float] = []

    def fun(flat):
        loss, g = value_and_grad(tf.constant(flat.reshape(shape), tf.float32))
        if not history:
            history.append(float(loss))
        return float(loss), g.numpy().astype(np.float64).ravel()

    def on_step(intermediate_result):
        history.append(float(intermediate_result.fun))
        if callback:
            flat = intermediate_result.x
            callback(len(history) - 1, float(intermediate_result.fun),
                     lambda: flat.reshape(start.shape).astype(np.float32))

    n = start.size
    result = scipy_minimize(fun, start.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                            bounds=Bounds(np.zeros(n), np.full(n, 255.0)), callback=on_step,
                            options={"maxiter": iterations, "maxcor": 10})
    return result.x.reshape(start.shape).astype(np.float32), history
