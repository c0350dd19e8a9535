"""Gram matrices and losses against hand-computed and NumPy references."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # TensorFlow's start-up



@pytest.fixture(scope="module")
def tf():
    """TensorFlow, imported when a test here first runs (not when the suite is collected)."""
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def losses(tf):
    from compositor.nst import losses

    return losses


def test_gram_matches_hand_computed(tf, losses):
    # 2x2 positions, 2 channels: F rows are positions (1,2), (3,4), (5,6), (7,8)
    f = np.array([[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]], np.float32)
    g = losses.gram(tf.constant(f), normalize=False).numpy()[0]
    # sum over positions of outer products: [[1+9+25+49, 2+12+30+56], [.., 4+16+36+64]]
    np.testing.assert_allclose(g, [[84, 100], [100, 120]])
    np.testing.assert_allclose(losses.gram(tf.constant(f)).numpy()[0], np.array([[84, 100], [100, 120]]) / 4)


def test_style_loss_matches_gatys_formula(tf, losses):
    rng = np.random.default_rng(1)
    s = rng.normal(size=(1, 6, 5, 4)).astype(np.float32)
    x = rng.normal(size=(1, 6, 5, 4)).astype(np.float32)
    fs, fx = s.reshape(-1, 4), x.reshape(-1, 4)
    n, c = fs.shape
    want = np.sum((fs.T @ fs - fx.T @ fx) ** 2) / (4 * c**2 * n**2)
    got = losses.style_layer_loss(losses.gram(tf.constant(s)), tf.constant(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_content_and_tv_loss(tf, losses):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1, 3, 4, 2)).astype(np.float32)
    b = rng.normal(size=(1, 3, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(losses.content_loss(tf.constant(a), tf.constant(b)).numpy(), np.sum((a - b) ** 2), rtol=1e-5)
    want_tv = np.sum(np.diff(a, axis=1) ** 2) + np.sum(np.diff(a, axis=2) ** 2)
    np.testing.assert_allclose(losses.total_variation(tf.constant(a)).numpy(), want_tv, rtol=1e-5)
    assert losses.style_layer_loss(losses.gram(tf.constant(a)), tf.constant(a)).numpy() == 0.0
