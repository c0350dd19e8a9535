"""The edge colour ratio and the boundary backend."""
from __future__ import annotations

import numpy as np
import pytest

from compositor import api
from compositor.errors import UsageError
from compositor.seam import boundary_log_ratio, boundary_pairs
from compositor.types import Composite


def scaled_square(gain=(1.2, 1.0, 0.8)):
    rng = np.random.default_rng(0)
    truth = np.clip(120 + rng.normal(0, 3, (60, 80, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((60, 80), np.float32)
    mask[20:40, 25:55] = 1
    image = truth.astype(np.float64)
    image[mask > 0] *= np.asarray(gain)
    return Composite(np.clip(image + 0.5, 0, 255).astype(np.uint8), mask), truth


def test_pairs_are_neighbours_across_the_edge():
    comp, _ = scaled_square()
    inside, outside = boundary_pairs(comp.mask)
    assert len(inside) == 2 * (20 + 30) - 4
    assert np.all(comp.mask[inside[:, 0], inside[:, 1]] == 1) and np.all(comp.mask[outside[:, 0], outside[:, 1]] == 0)
    assert np.abs(inside - outside).sum(1).max() <= 2


def test_ratio_measures_the_gain():
    comp, _ = scaled_square()
    np.testing.assert_allclose(np.exp(boundary_log_ratio(comp.image, comp.mask)), [1.2, 1.0, 0.8], atol=0.04)


@pytest.mark.parametrize("strength, close", [(1.0, True), (0.0, False)])
def test_boundary_backend_takes_the_gain_back(strength, close):
    comp, truth = scaled_square()
    result = api.harmonize(comp, "boundary", strength=strength)
    inside = comp.mask > 0
    err = np.abs(result.image[inside].astype(int) - truth[inside]).mean()
    assert (err < 3) == close, err
    outside = comp.mask == 0
    assert np.array_equal(result.image[outside], comp.image[outside])


def test_exception_empty_mask():
    comp, _ = scaled_square()
    with pytest.raises(UsageError, match="mask must mark an object"):
        api.harmonize(Composite(comp.image, np.zeros_like(comp.mask)), "boundary")
