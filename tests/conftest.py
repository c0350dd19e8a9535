"""Fixtures shared by several test modules."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.imageio import read_mask, read_rgb
from compositor.paste import Placement, paste
from compositor.types import Composite, Sticker

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

BLOCKABLE = ("tensorflow", "keras", "tensorflow_hub")


@pytest.fixture(autouse=True)
def _no_import_left_blocked():
    """A test that blocks an import (sys.modules[name] = None) must undo it (monkeypatch.setitem),
    or every later test in the process finds TensorFlow missing."""
    before = {name: sys.modules.get(name, "absent") for name in BLOCKABLE}
    yield
    left = [name for name in BLOCKABLE if sys.modules.get(name, "absent") is None and before[name] is not None]
    if left:
        for name in left:  # so the tests after this one are not failed by it too
            if before[name] == "absent":
                del sys.modules[name]
            else:
                sys.modules[name] = before[name]
        pytest.fail(f"the test left the import of {', '.join(left)} blocked in sys.modules "
                    "(use monkeypatch.setitem(sys.modules, ...))")


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
