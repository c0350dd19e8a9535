"""Fixtures shared by several test modules."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.imageio import read_mask, read_rgb
from compositor.paste import Placement, paste
from compositor.types import Composite, Sticker

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


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    """The cat photo, RGB uint8 451x300."""
    return read_rgb(SAMPLES / "chelsea.png")


@pytest.fixture(scope="session")
def cup_on_cat(chelsea, cup) -> Composite:
    """The red cup pasted on the cat's face (451x300): a clear colour mismatch."""
    return paste(chelsea, [Placement(cup, 225, 150, 0.4)])
