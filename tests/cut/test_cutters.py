"""Cutters on real sample photos, checked against hand-made reference regions; and on awkward
inputs: grey photos, files that are not cascades, elongated images, whole-image boxes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor import api, cli
from compositor.cut.spectral import spectral_residual_saliency
from compositor.errors import CompositorError, UsageError
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# ----------------------------------------------------------------------------- awkward inputs

#: What OpenCV's own messages look like; none of it may reach the user.
OPENCV_TEXT = re.compile(r"OpenCV\(|cv::|Assertion|empty\(\)|&&|SystemError|error: \(-")


def cli_run(argv, capsys) -> tuple[int, str]:
    """``compositor ARGV`` in-process: (exit code, stderr)."""
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return read_rgb(SAMPLES / "coffee.png")


# ----------------------------------------------------------------------------- grey photos

def test_saliency_of_a_grey_image_is_not_a_corner_spike():
    # a grey image's a and b channels are flat; they must not put the map's peak at pixel (0, 0)
    rng = np.random.default_rng(0)
    grey = rng.integers(40, 60, (120, 160), dtype=np.uint8)
    cv2.circle(grey, (100, 70), 18, 230, -1)
    sal = spectral_residual_saliency(np.dstack([grey] * 3))
    y, x = np.unravel_index(sal.argmax(), sal.shape)
    assert (x - 100) ** 2 + (y - 70) ** 2 <= 30 ** 2, f"peak at {x},{y}, not on the bright disc"
    yy, xx = np.mgrid[:120, :160]
    near = (xx - 100) ** 2 + (yy - 70) ** 2 <= 30 ** 2
    assert sal[near].mean() > 3 * sal[~near].mean() and sal[:20, :20].max() < 0.5


def test_flat_image_has_zero_saliency():
    assert not spectral_residual_saliency(np.full((60, 80, 3), 77, np.uint8)).any()


@pytest.mark.slow
def test_grey_photo_cuts_like_the_colour_photo(coffee, tmp_path):
    grey_path = tmp_path / "coffee_grey.png"
    Image.open(SAMPLES / "coffee.png").convert("L").save(grey_path)
    colour = api.cut(coffee, "grabcut")[0]
    grey = api.cut(grey_path, "grabcut")[0]
    assert grey.method == "grabcut"
    assert box_iou(grey.source_box, colour.source_box) >= 0.7, (grey.source_box, colour.source_box)
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    found = full_mask(grey, coffee.shape)
    assert (found & reference).sum() / (found | reference).sum() >= 0.75


def test_grey_photo_salient_regions_lie_on_the_cup(coffee):
    # what the saliency cutter refines: every salient region of the grey photo is on the crockery
    from compositor.cut.spectral import salient_regions

    grey = np.dstack([cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY)] * 3)
    regions = salient_regions(spectral_residual_saliency(grey), 0.002)
    cup = cv2.boundingRect((read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5).astype(np.uint8))
    assert regions
    for (x, y, w, h), _ in regions[:3]:
        cx, cy, cw, ch = cup
        inter = max(0, min(x + w, cx + cw) - max(x, cx)) * max(0, min(y + h, cy + ch) - max(y, cy))
        assert inter >= 0.9 * w * h, ((x, y, w, h), cup)
    sticker = api.cut(grey, "saliency")[0]  # it cuts (a part of) the cup, not the corner
    found = full_mask(sticker, coffee.shape)
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    assert (found & reference).sum() >= 0.8 * found.sum()


@pytest.mark.slow
def test_grey_photo_on_the_command_line(tmp_path, capsys):
    grey_path = tmp_path / "grey.png"
    Image.open(SAMPLES / "coffee.png").convert("L").save(grey_path)
    code, err = cli_run(["cut", grey_path, "-o", tmp_path / "s.png", "--iterations", "2"], capsys)
    assert code == 0, err
    assert (tmp_path / "s.png").is_file()


# ----------------------------------------------------------------------------- cascade files

@pytest.mark.parametrize("name, content", [
    ("picture.png", None),  # a real PNG
    ("notes.txt", b"not a cascade\n"),
    ("other.xml", b'<?xml version="1.0"?>\n<opencv_storage><foo>1</foo></opencv_storage>\n'),
    ("empty.xml", b""),
])
def test_file_that_is_not_a_cascade(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes((SAMPLES / "coffee.png").read_bytes() if content is None else content)
    with pytest.raises(UsageError, match="not an OpenCV cascade XML file") as info:
        api.cut(SAMPLES / "astronaut.png", "cascade", cascade=str(path))
    message = str(info.value)
    assert str(path) in message and not OPENCV_TEXT.search(message)


def test_file_that_is_not_a_cascade_on_the_command_line(tmp_path, capsys):
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes((SAMPLES / "coffee.png").read_bytes())
    code, err = cli_run(["cut", SAMPLES / "astronaut.png", "-o", tmp_path / "s.png", "--cascade", bogus], capsys)
    assert code == 2  # as an unknown cascade name: the option's value is wrong
    assert err.count("\n") == 1 and err.startswith("compositor: error: ")
    assert str(bogus) in err and "not an OpenCV cascade XML file" in err
    assert "internal error" not in err and not OPENCV_TEXT.search(err)
    assert not (tmp_path / "s.png").exists()


# ----------------------------------------------------------------------------- elongated images, whole-image boxes

@pytest.mark.slow
@pytest.mark.parametrize("size", [(8, 4000), (4000, 8)])
def test_contour_cuts_an_elongated_image(coffee, size):
    image = cv2.resize(coffee, size, interpolation=cv2.INTER_AREA)
    (sticker,) = api.cut(image, "contour", iterations=2)
    x, y, w, h = sticker.source_box
    assert sticker.method == "contour"
    assert 0 <= x and 0 <= y and x + w <= size[0] and y + h <= size[1]
    assert 0 < (sticker.rgba[..., 3] >= 128).sum() < 0.9 * size[0] * size[1], "some of the image is background"


@pytest.mark.slow
@pytest.mark.parametrize("size", [(600, 400), (8, 4000)])
def test_box_covering_the_whole_image_is_a_plain_error(coffee, size):
    image = cv2.resize(coffee, size, interpolation=cv2.INTER_AREA)
    with pytest.raises(CompositorError) as info:
        api.cut(image, "grabcut", box=(0, 0, *size), iterations=1)
    message = str(info.value)
    assert "the grabcut cutter" in message and "no background" in message
    assert f"covers the whole {size[0]}x{size[1]} image" in message
    assert not OPENCV_TEXT.search(message) and "GrabCut failed" not in message
    assert message.count(". ") == 0 and message.endswith(".")


def test_box_covering_the_whole_image_on_the_command_line(tmp_path, capsys):
    code, err = cli_run(["cut", SAMPLES / "coffee.png", "-o", tmp_path / "s.png", "--box", "0,0,600,400",
                         "--method", "grabcut", "--iterations", "1"], capsys)
    assert code == 1
    assert err.count("\n") == 1
    assert f"{SAMPLES / 'coffee.png'}: the grabcut cutter has no background" in err
    assert not OPENCV_TEXT.search(err)
