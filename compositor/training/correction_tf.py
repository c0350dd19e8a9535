"""The learned head's correction and sRGB <-> Lab written in TensorFlow, so that the training
loss is the corrected pixels' error (the NumPy inference path is ``harmonizers.learned``)."""
from __future__ import annotations

import numpy as np

from ..harmonizers import learned
from .samples import RATIO



def lab_to_rgb_tf(L):
    """CIE Lab (D65) -> sRGB in 0..1, as OpenCV's float ``COLOR_Lab2RGB`` computes it."""
    import tensorflow as tf

    l, a, b = L[..., 0], L[..., 1], L[..., 2]
    fy = (l + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def finv(f):
        return tf.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) / 7.787)

    y = tf.where(l > 7.9996, fy ** 3, l / 903.3)
    x = finv(fx) * 0.950456
    z = finv(fz) * 1.088754
    xyz = tf.stack([x, y, z], -1)
    m = tf.constant([[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556],
                     [0.055648, -0.204043, 1.057311]], tf.float32)
    rgb = tf.clip_by_value(tf.einsum("...j,ij->...i", xyz, m), 0.0, 1.0)
    return tf.where(rgb > 0.0031308, 1.055 * tf.pow(tf.maximum(rgb, 1e-8), 1 / 2.4) - 0.055, 12.92 * rgb)


def bounded_tf(raw, base=None):
    """``learned.bounded`` in TensorFlow, for a batch (N, 9)."""
    import tensorflow as tf

    raw = tf.reshape(raw, (-1, 3, 3))
    bases = base if base is not None else tuple(b for _, _, b in learned.BOUNDS.values())
    out = []
    for i, ((lo, hi, _), b) in enumerate(zip(learned.BOUNDS.values(), bases)):
        offset = float(np.log((b - lo) / (hi - b)))
        out.append(lo + (hi - lo) * tf.sigmoid(raw[:, i] + offset))
    return out


def rgb_to_lab_tf(rgb):
    """sRGB in 0..1 -> CIE Lab (D65), as OpenCV's float ``COLOR_RGB2Lab`` computes it."""
    import tensorflow as tf

    lin = tf.where(rgb > 0.04045, tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4), rgb / 12.92)
    m = tf.constant([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                     [0.019334, 0.119193, 0.950227]], tf.float32)
    xyz = tf.einsum("...j,ij->...i", lin, m) / tf.constant([0.950456, 1.0, 1.088754], tf.float32)

    def f(t):
        return tf.where(t > 0.008856, tf.pow(tf.maximum(t, 0.008856), 1 / 3), 7.787 * t + 16.0 / 116.0)

    fx, fy, fz = f(xyz[..., 0]), f(xyz[..., 1]), f(xyz[..., 2])
    y = xyz[..., 1]
    L = tf.where(y > 0.008856, 116.0 * fy - 16.0, 903.3 * y)
    return tf.stack([L, 500.0 * (fx - fy), 200.0 * (fy - fz)], -1)


def corrected_rgb_tf(raw, stats, ratio, rgb_px, base=None):
    """(N, P, 3) corrected pixels in 0..255 (``learned.correct`` in TensorFlow) from raw head outputs (N, 9),
    stats (N, 5, 3; ``STATS``), the edge log ratio (N, 3) and the object's RGB pixels (N, P, 3); the gained
    object's Lab statistics are taken over those pixels."""
    import tensorflow as tf

    s_mu, s_sd, g = bounded_tf(raw, base)
    mu_b, sd_b = stats[:, 2][:, None], stats[:, 3][:, None]
    x = tf.clip_by_value(rgb_px * tf.exp(-g * ratio)[:, None], 0.0, 255.0)
    L = rgb_to_lab_tf(x / 255.0)
    mu1 = tf.reduce_mean(L, 1, keepdims=True)
    sd1 = tf.math.reduce_std(L, 1, keepdims=True) + 1e-3
    spread = tf.clip_by_value((sd1 + s_sd[:, None] * (sd_b - sd1)) / sd1, 1 / learned.MAX_SPREAD, learned.MAX_SPREAD)
    out = (L - mu1) * spread + mu1 + s_mu[:, None] * (mu_b - mu1)
    out = tf.concat([tf.clip_by_value(out[..., :1], 0.0, 100.0), out[..., 1:]], -1)
    return lab_to_rgb_tf(out) * 255.0


def corrected(raw, data: dict[str, np.ndarray], base=None) -> np.ndarray:
    """``corrected_rgb_tf`` on cached samples."""
    return np.asarray(corrected_rgb_tf(np.asarray(raw, np.float32), data["stats"], data["stats"][:, RATIO],
                                       data["comp"], base))
