"""A global colour correction of the object, fitted with VGG19 feature statistics.

The object's pixels go through a per-channel gain and gamma,
``y_c = clip(exp(g_c) * x_c ** exp(k_c))`` with x in 0..1, the six numbers ``theta``
fitted so that the object's Gram statistics at shallow VGG layers (colour, local
contrast) come closer to those of the background right around it, held back by a
prior that pulls theta to the identity. A correction of this shape cannot alter the
object's structure or texture, only its colour and tone, the way a mismatched camera
or light would have changed them; and since it is a per-pixel function it is applied
to the full-resolution image, so no detail is lost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from .._tf import quiet_import

quiet_import()
import tensorflow as tf  # noqa: E402


def apply(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The correction ``theta`` (6 numbers) on RGB values ``x`` in 0..1 (NumPy, any shape ending
    in 3); returns the corrected values, same shape, in 0..1."""
    g, k = np.asarray(theta[:3], np.float32), np.asarray(theta[3:6], np.float32)
    return np.clip(np.exp(g) * np.power(np.clip(x, 1e-6, 1.0), np.exp(k)), 0.0, 1.0)


def _apply_tf(theta: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    g, k = theta[:3], theta[3:6]
    return tf.clip_by_value(tf.exp(g) * tf.pow(tf.clip_by_value(x, 1e-6, 1.0), tf.exp(k)), 0.0, 1.0)


def masked_gram(features: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """Gram matrix of ``features`` (1,h,w,C) over the positions weighted by ``weight`` (1,h,w,1)."""
    f = tf.cast(features, tf.float32)
    w = tf.image.resize(weight, tf.shape(f)[1:3], method="area")
    g = tf.einsum("bijc,bijd->bcd", f * w, f)
    return g / (tf.reduce_sum(w) + 1e-6)


@dataclass
class Fit:
    """What ``fit`` returns: the fitted ``theta``, the loss per step, and how many steps ran."""

    theta: np.ndarray
    history: list[float]
    steps: int


_STEPS: dict = {}


def _step_function(extractor, layers: tuple[str, ...]):
    """One Adam step on theta, traced once per process for any crop size."""
    key = (id(extractor), layers)
    if key in _STEPS:
        return _STEPS[key]
    img = tf.TensorSpec([1, None, None, 3], tf.float32)
    wts = tf.TensorSpec([1, None, None, 1], tf.float32)
    vec = tf.TensorSpec([6], tf.float32)
    num = tf.TensorSpec([], tf.float32)
    grams = tuple(tf.TensorSpec([1, None, None], tf.float32) for _ in layers)

    @tf.function(input_signature=[img, wts, wts, grams, vec, vec, vec, vec, num, num, num, num])
    def step(x, w_obj, w_blend, targets, theta, centre, m, v, t, prior, chroma, lr):
        with tf.GradientTape() as tape:
            tape.watch(theta)
            corrected = x * (1.0 - w_blend) + _apply_tf(theta, x) * w_blend
            feats = extractor(corrected * 255.0)
            terms = []
            for layer, target in zip(layers, targets):
                diff = masked_gram(feats[layer], w_obj) - target
                terms.append(tf.reduce_sum(tf.square(diff)) / (tf.reduce_sum(tf.square(target)) + 1e-6))
            delta = theta - centre
            gains, gammas = delta[:3], delta[3:6]
            hue = tf.reduce_sum(tf.square(gains - tf.reduce_mean(gains))) + \
                tf.reduce_sum(tf.square(gammas - tf.reduce_mean(gammas)))
            loss = tf.add_n(terms) / len(layers) + prior * (tf.reduce_sum(tf.square(delta)) + chroma * hue)
        g = tape.gradient(loss, theta)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * tf.square(g)
        m_hat = m / (1.0 - tf.pow(0.9, t))
        v_hat = v / (1.0 - tf.pow(0.999, t))
        return loss, theta - lr * m_hat / (tf.sqrt(v_hat) + 1e-7), m, v

    _STEPS[key] = step
    return step


def fit(extractor, crop: np.ndarray, obj: np.ndarray, ref: np.ndarray, blend: np.ndarray, *, layers: tuple[str, ...],
        prior: float, steps: int, learning_rate: float, tolerance: float, chroma: float = 0.0,
        centre: np.ndarray | None = None, callback=None) -> Fit:
    """Fit theta on a crop (RGB 0..1 float32 HxWx3) with Adam, at most ``steps`` steps of
    ``learning_rate``; returns a ``Fit``.

    ``obj`` and ``ref`` (HxW in [0, 1]) weight the positions whose statistics are
    compared (the object, and the background it should agree with); ``blend`` is where
    the correction is applied. Stops early when the loss changes by less than
    ``tolerance`` (relative) over 5 steps. ``chroma`` adds to the prior on the channels'
    differences from each other (hue shifts) beyond the prior on every parameter.
    ``centre`` (6 numbers, default the identity) is where theta starts and what the
    prior holds it to. ``callback(step, loss, theta)`` is called after every step.
    """
    x = tf.constant(crop[None], tf.float32)
    w_obj = tf.constant(obj[None, ..., None], tf.float32)
    w_ref = tf.constant(ref[None, ..., None], tf.float32)
    w_blend = tf.constant(blend[None, ..., None], tf.float32)
    ref_feats = extractor(x * 255.0)
    targets = tuple(masked_gram(ref_feats[l], w_ref) for l in layers)
    step = _step_function(extractor, layers)
    start = tf.constant(np.zeros(6) if centre is None else np.asarray(centre), tf.float32)
    theta, m, v = start, tf.zeros(6, tf.float32), tf.zeros(6, tf.float32)
    history: list[float] = []
    for k in range(1, steps + 1):
        loss, theta, m, v = step(x, w_obj, w_blend, targets, theta, start, m, v, tf.constant(float(k)),
                                 tf.constant(float(prior)), tf.constant(float(chroma)),
                                 tf.constant(float(learning_rate)))
        history.append(float(loss))
        if callback:
            callback(k, history[-1], theta)
        if k > 5 and abs(history[-6] - history[-1]) <= tolerance * abs(history[-6]):
            break
    return Fit(theta=theta.numpy(), history=history, steps=len(history))
