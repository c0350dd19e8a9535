"""Fixtures shared by several test modules."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.imageio import read_mask, read_rgb
from compositor.types import Sticker

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="session")
def cup() -> Sticker:
    """The coffee cup (with saucer and spoon) cut from coffee.png by its hand-made mask."""
    photo = read_rgb(SAMPLES / "coffee.png")
    mask = read_mask(SAMPLES / "masks" / "coffee_cup.png")
    x, y, w, h = cv2.boundingRect((mask > 0).astype(np.uint8))
    alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)
    rgba = np.dstack([photo, alpha])[y:y + h, x:x + w]
    return Sticker(rgba=rgba, label="cup", source_box=(x, y, w, h), score=1.0, method="reference-mask")
