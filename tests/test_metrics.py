"""compositor.metrics against values worked out by hand on tiny synthetic images.

The bands use a 1 px width, where the structuring element is the 3x3 cross: a pixel is
in the edge band when it or one of its four neighbours is object and one is background.
"""
from __future__ import annotations

import numpy as np
import pytest

from compositor.metrics import bmse, boundary_f, color_gap, edge_band, seam_ratio


def square_mask(size: int = 20, lo: int = 5, hi: int = 15) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[lo:hi, lo:hi] = 1.0
    return mask


def test_edge_band_of_a_square():
    band = edge_band(square_mask(), width=1)
    # the square's 36 perimeter pixels and the 4 x 10 pixels beside its sides (not its corners)
    assert band.sum() == 36 + 40
    assert band[5, 5] and band[4, 5] and not band[4, 4] and not band[9, 9]


def test_bmse_counts_only_the_seam_band():
    a = np.zeros((20, 20, 3), np.uint8)
    b = a.copy()
    b[8:12, 8:12] = 50  # well inside the object: not in the band
    assert bmse(a, b, square_mask(), width=1) == 0.0
    b[5:15, 4] = 6  # the 10 pixels left of the square, in the band: 10 px x 3 channels of 6^2 over 76 px x 3
    assert bmse(a, b, square_mask(), width=1) == pytest.approx(10 * 36 / 76)
    assert np.isnan(bmse(a, b, np.zeros((20, 20), np.float32), width=1))


def test_seam_ratio_of_a_step_on_a_ramp():
    # columns 10..29 are the object, 100 levels brighter than a ramp of 2 levels per column
    x = np.arange(40)
    row = 2 * x + 100 * ((x >= 10) & (x < 30))
    image = np.repeat(np.repeat(row[None, :, None], 40, axis=0), 3, axis=2).astype(np.uint8)
    mask = np.zeros((40, 40), np.float32)
    mask[:, 10:30] = 1.0
    # Sobel x is 4 x (I[x+1] - I[x-1]): 4 x 104 at columns 9 and 10, 4 x -96 at 29 and 30
    # (the edge band), 4 x 4 on the ramp (the bands 3 px inside and outside: 6, 7, 12, 13, 26, 27, 32, 33)
    edge = (2 * 416 ** 2 + 2 * 384 ** 2) / 4
    near = 16 ** 2
    assert seam_ratio(image, mask, width=1, offset=3) == pytest.approx(edge / near)
    # no step, no seam: the ramp alone has the same energy everywhere
    flat = np.repeat(np.repeat((2 * x)[None, :, None], 40, axis=0), 3, axis=2).astype(np.uint8)
    assert seam_ratio(flat, mask, width=1, offset=3) == pytest.approx(1.0)


def test_color_gap_of_flat_and_checkered_objects():
    mask = square_mask()
    image = np.zeros((20, 20, 3), np.uint8)
    image[mask > 0] = 255  # a white object on black: Lab L 100 against 0, a = b = 0
    gap = color_gap(image, mask, ring_width=3)
    assert gap["color_gap"] == pytest.approx(100.0, abs=0.01)
    assert gap["contrast_gap"] == pytest.approx(0.0, abs=0.01)
    # half of the object white, half black: mean L 50, standard deviation 50; the ring is flat black
    checker = (np.add.outer(np.arange(20), np.arange(20)) % 2 == 0) & (mask > 0)
    image = np.zeros((20, 20, 3), np.uint8)
    image[checker] = 255
    gap = color_gap(image, mask, ring_width=3)
    assert gap["color_gap"] == pytest.approx(50.0, abs=0.01)
    assert gap["contrast_gap"] == pytest.approx(50.0, abs=0.01)
    empty = color_gap(image, np.zeros((20, 20), np.float32), ring_width=3)
    assert np.isnan(empty["color_gap"]) and np.isnan(empty["contrast_gap"])


def test_boundary_f_does_not_count_the_image_frame_as_an_edge():
    """An object touching the frame has edges only where it meets the background: a prediction
    whose one edge is 10 px off (the tolerance here is 1.5 px) scores 0, the exact one 1."""
    truth = np.zeros((100, 100), bool)
    truth[50:] = True
    shifted = np.zeros((100, 100), bool)
    shifted[60:] = True
    assert boundary_f(shifted.astype(np.float32), truth) == 0.0
    assert boundary_f(truth.astype(np.float32), truth) == 1.0
    assert boundary_f(np.ones((100, 100), np.float32), np.ones((100, 100), bool)) == 1.0  # no edge in either
