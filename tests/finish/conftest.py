"""Photos with objects for the finishing stage's tests: the bundled samples and their hand-made masks."""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor.imageio import read_mask, read_rgb

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _half(photo: str, mask: str) -> tuple[np.ndarray, np.ndarray]:
    """(the sample ``photo`` RGB uint8, its ``mask`` float32 0/1) at half size."""
    image, alpha = read_rgb(SAMPLES / photo), read_mask(SAMPLES / "masks" / mask)
    size = (image.shape[1] // 2, image.shape[0] // 2)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), (cv2.resize(alpha, size) >= 0.5).astype(np.float32)


@pytest.fixture(scope="session")
def coffee():
    """(photo RGB uint8, the cup's mask float32) at half size (256 x 200)."""
    return _half("coffee.png", "coffee_cup.png")


@pytest.fixture(scope="session")
def cat():
    """(photo RGB uint8, the cat's mask float32) at half size."""
    return _half("chelsea.png", "chelsea_cat.png")


def _paste_back(inside: np.ndarray, outside: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a = mask[..., None]
    return np.rint(a * inside + (1 - a) * outside).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: int) -> tuple[np.ndarray, bytes]:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), buf.getvalue()


@pytest.fixture(scope="session")
def paste_back():
    """paste_back(inside, outside, mask): ``inside`` through ``mask``, ``outside`` elsewhere."""
    return _paste_back


@pytest.fixture(scope="session")
def to_jpeg():
    """to_jpeg(img, quality) -> (decoded RGB uint8, the file's bytes), encoded by Pillow."""
    return _jpeg


@pytest.fixture(scope="session")
def floor(coffee):
    """(composite, mask): the cup, half size, standing on a plain floor below a plain wall, with
    room on every side for its shadows."""
    photo, mask = coffee
    ys, xs = np.nonzero(mask >= 0.5)
    y0, x0, y1, x1 = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
    bg = np.full((360, 420, 3), 170, np.uint8)
    bg[:70] = (140, 170, 200)
    h, w = y1 - y0, x1 - x0
    a = np.zeros(bg.shape[:2], np.float32)
    obj = np.zeros_like(bg)
    a[50:50 + h, 110:110 + w] = mask[y0:y1, x0:x1]
    obj[50:50 + h, 110:110 + w] = photo[y0:y1, x0:x1]
    return np.rint(a[..., None] * obj + (1 - a[..., None]) * bg).astype(np.uint8), a
