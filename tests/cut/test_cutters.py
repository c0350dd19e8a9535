"""Cutters on real sample photos, checked against hand-made reference regions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compositor import api
from compositor.errors import UsageError
from compositor.imageio import read_mask, read_rgb

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REFS = json.loads((SAMPLES / "masks" / "reference_polygons.json").read_text())


def full_mask(sticker, shape) -> np.ndarray:
    out = np.zeros(shape[:2], bool)
    x, y, w, h = sticker.source_box
    out[y:y + h, x:x + w] = sticker.rgba[..., 3] >= 128
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def box_iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


@pytest.mark.parametrize("method, threshold", [("grabcut", 0.9), ("saliency", 0.8)])
def test_automatic_cut_matches_hand_reference(method, threshold):
    photo = read_rgb(SAMPLES / "coffee.png")
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    sticker = api.cut(photo, method)[0]
    assert iou(full_mask(sticker, photo.shape), reference) >= threshold


@pytest.mark.parametrize("name, mask, box, threshold", [
    ("coffee.png", "coffee_cup.png", (55, 5, 450, 395), 0.85),
    # the cat fills the frame; a box that leaves out the background on the right is enough
    ("chelsea.png", "chelsea_cat.png", (0, 0, 380, 300), 0.9),
])
def test_cut_with_box_matches_hand_reference(name, mask, box, threshold):
    photo = read_rgb(SAMPLES / name)
    reference = read_mask(SAMPLES / "masks" / mask) > 0.5
    sticker = api.cut(photo, "grabcut", box=box)
    assert iou(full_mask(sticker[0], photo.shape), reference) >= threshold


def test_contour_cut_finds_the_cup():
    photo = read_rgb(SAMPLES / "coffee.png")
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    sticker = api.cut(photo, "contour", box=(55, 5, 450, 395))[0]
    found = full_mask(sticker, photo.shape)
    # the contour proposal finds at least the cup: most of what it cuts is crockery
    assert (found & reference).sum() / found.sum() >= 0.9
    assert iou(found, reference) >= 0.3


def test_sticker_is_tight_rgba_with_soft_edge():
    sticker = api.cut(SAMPLES / "coffee.png", "grabcut", feather=2.0)[0]
    a = sticker.rgba[..., 3]
    assert sticker.rgba.dtype == np.uint8 and sticker.rgba.shape[2] == 4
    assert a[0].any() and a[-1].any() and a[:, 0].any() and a[:, -1].any(), "cropped tightly"
    soft = ((a > 0) & (a < 255)).sum()
    assert soft > 0.5 * (a == 255).sum() ** 0.5, "the edge is soft, not binary"
    x, y, w, h = sticker.source_box
    assert (w, h) == (a.shape[1], a.shape[0])


def test_face_cascade_finds_the_astronaut():
    photo = read_rgb(SAMPLES / "astronaut.png")
    from compositor.cut.cascade import detect

    (box, score), *_ = detect(photo, "face")
    assert box_iou(box, REFS["astronaut_face"]["box"]) >= 0.6
    stickers = api.cut(photo, "cascade", cascade="face")
    assert stickers[0].label == "face"
    x, y, w, h = stickers[0].source_box
    # the head sticker covers the face box found by hand
    fx, fy, fw, fh = REFS["astronaut_face"]["box"]
    assert x <= fx + 10 and y <= fy + 10 and x + w >= fx + fw - 10 and y + h >= fy + fh - 10


def test_all_returns_each_object():
    photo = read_rgb(SAMPLES / "coffee.png")
    stickers = api.cut(photo, "saliency", all=True)
    assert len(stickers) >= 1
    assert all(s.rgba.shape[2] == 4 for s in stickers)


@pytest.mark.parametrize("box, match", [((700, 10, 50, 50), "outside"), ((10, 10, 0, 20), "no area")])
def test_exception_bad_box(box, match):
    with pytest.raises(UsageError, match=match):
        api.cut(SAMPLES / "coffee.png", "grabcut", box=box)


def test_exception_unknown_cascade():
    with pytest.raises(UsageError, match="unknown cascade"):
        api.cut(SAMPLES / "astronaut.png", "cascade", cascade="dogface")
