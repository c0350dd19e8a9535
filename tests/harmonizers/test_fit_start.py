"""vgg19 fit mode's starting point: the edge gain alone, the edge gain followed by a partial
histogram match to the ring (``histogram``), or learned mode's correction (``start=learned``).
The fit starts from that correction and is held toward it. Real VGG19 weights, small images."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from compositor import api, metrics
from compositor.harmonizers.boundary import edge_then_match
from compositor.types import Composite


@pytest.fixture(scope="module")
def shifted():
    """A coloured photo of grass with a disc given a camera's gain and gamma: the truth is known."""
    grass = cv2.resize(skimage.data.grass(), (200, 150), interpolation=cv2.INTER_AREA).astype(np.float32)
    truth = np.clip(np.stack([0.8 * grass, 0.95 * grass + 10, 0.5 * grass], -1), 0, 255).astype(np.uint8)
    mask = np.zeros(truth.shape[:2], np.float32)
    cv2.circle(mask, (100, 75), 35, 1.0, -1)
    x = truth.astype(np.float32) / 255.0
    moved = np.clip(1.3 * x ** np.array([0.8, 1.0, 1.3], np.float32), 0, 1) * 255.0
    image = np.clip(truth * (1 - mask[..., None]) + moved * mask[..., None] + 0.5, 0, 255).astype(np.uint8)
    return Composite(image=image, mask=mask), truth


@pytest.mark.slow
def test_fit_from_the_histogram_match(shifted):
    comp, truth = shifted
    result = api.harmonize(comp, "vgg19", boundary=0.8, histogram=0.1)
    start, stats = edge_then_match(comp.image, comp.mask, 0.8, 0.1)
    assert result.stats["start"] == stats
    err = metrics.fmse(result.image, truth, comp.mask)
    assert err < 0.5 * metrics.fmse(comp.image, truth, comp.mask)
    # held toward its start: the fitted gains stay near 1 and the result near the start
    assert np.allclose(result.stats["gain"], 1.0, atol=0.15)
    assert metrics.fmse(result.image, start, comp.mask) < metrics.fmse(comp.image, start, comp.mask)
    outside = comp.mask == 0
    assert np.array_equal(result.image[outside], comp.image[outside])


@pytest.mark.slow
def test_fit_from_learned_mode(shifted):
    comp, truth = shifted
    learned = api.harmonize(comp, "vgg19", mode="learned")
    result = api.harmonize(comp, "vgg19", start="learned")
    assert result.stats["start"]["g"] == learned.stats["g"]
    assert metrics.fmse(result.image, learned.image, comp.mask) < metrics.fmse(comp.image, learned.image, comp.mask)
