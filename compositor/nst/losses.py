"""Gram matrices and the neural-style losses (Gatys et al. 2016, in the Keras example's scaling).

All functions take NHWC float tensors and know nothing about image sizes beyond their
arguments.
"""
from __future__ import annotations

from .._tf import quiet_import

quiet_import()
import tensorflow as tf  # noqa: E402


def gram(features: tf.Tensor, normalize: bool = True) -> tf.Tensor:
    """G = F^T F over spatial positions, per batch item: (N, H, W, C) -> (N, C, C).

    With ``normalize`` the sum is divided by the number of positions H*W, so images of
    different sizes give comparable Grams.
    """
    features = tf.cast(features, tf.float32)
    g = tf.einsum("bijc,bijd->bcd", features, features)
    if normalize:
        shape = tf.shape(features)
        g = g / tf.cast(shape[1] * shape[2], tf.float32)
    return g


def style_layer_loss(style_gram: tf.Tensor, generated_features: tf.Tensor) -> tf.Tensor:
    """sum((G_s - G_g)^2) / (4 C^2 N^2) with unnormalized Grams and N = H*W positions: a scalar
    tensor, from the style's position-normalized Gram (C, C) and the generated image's
    activations (1, H, W, C).

    Computed with position-normalized Grams, for which the N^2 cancels; it is the same
    number when both images have the same size and stays meaningful when they differ.
    """
    channels = tf.cast(tf.shape(generated_features)[-1], tf.float32)
    g = gram(generated_features, normalize=True)
    return tf.reduce_sum(tf.square(style_gram - g)) / (4.0 * channels * channels)


def content_loss(content_features: tf.Tensor, generated_features: tf.Tensor) -> tf.Tensor:
    """Sum of squared differences of the activations (same shape): a scalar tensor."""
    return tf.reduce_sum(tf.square(tf.cast(generated_features, tf.float32) - tf.cast(content_features, tf.float32)))


def total_variation(image: tf.Tensor) -> tf.Tensor:
    """Sum of squared differences between neighbouring pixels of ``image`` (NHWC, 0..255 scale):
    a scalar tensor."""
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_sum(tf.square(dy)) + tf.reduce_sum(tf.square(dx))
