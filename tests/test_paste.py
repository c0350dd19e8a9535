"""Placement: position, scale, rotation, clipping, occlusion and alpha blending."""
from __future__ import annotations

import numpy as np
import pytest

from compositor.errors import UsageError
from compositor.paste import Placement, parse_placement, parse_where, paste, where_text
from compositor.types import Sticker


def square(size=20, colour=(255, 0, 0), soft=False) -> Sticker:
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = 255
    if soft:
        rgba[0, :, 3] = rgba[-1, :, 3] = rgba[:, 0, 3] = rgba[:, -1, 3] = 128
    return Sticker(rgba=rgba, label="square", source_box=(0, 0, size, size), score=1.0, method="test")


def bbox(mask):
    ys, xs = np.nonzero(mask > 0.5)
    return xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


BG = np.full((100, 120, 3), 40, np.uint8)


def test_position_and_scale():
    comp = paste(BG, [Placement(square(), 50, 40, 2.0)])
    x, y, w, h = bbox(comp.mask)
    assert abs(w - 40) <= 1 and abs(h - 40) <= 1
    assert abs(x + w / 2 - 50.5) <= 1 and abs(y + h / 2 - 40.5) <= 1
    assert tuple(comp.image[40, 50]) == (255, 0, 0)
    assert tuple(comp.image[5, 5]) == (40, 40, 40)
    ox, oy, ow, oh = comp.objects[0].box  # counts every touched pixel, so it holds the half-alpha box
    assert ox <= x and oy <= y and ox + ow >= x + w and oy + oh >= y + h and ow <= w + 2


def test_rotation_45_widens_the_box():
    comp = paste(BG, [Placement(square(), 60, 50, 1.0, 45)])
    _, _, w, h = bbox(comp.mask)
    assert 26 <= w <= 30 and 26 <= h <= 30  # 20 * sqrt(2) = 28.3


def test_default_is_centre():
    comp = paste(BG, [Placement(square())])
    x, y, w, h = bbox(comp.mask)
    assert abs(x + w / 2 - 60) <= 1 and abs(y + h / 2 - 50) <= 1


def test_partly_off_canvas_is_clipped():
    comp = paste(BG, [Placement(square(), 2, 2)])
    x, y, w, h = bbox(comp.mask)
    assert (x, y) == (0, 0) and w <= 13 and h <= 13


def test_entirely_off_canvas_is_refused():
    with pytest.raises(UsageError, match="entirely outside the 120x100 background"):
        paste(BG, [Placement(square(), 500, 50, name="cup.png")])


def test_occlusion_reduces_the_visible_mask():
    comp = paste(BG, [Placement(square(colour=(255, 0, 0)), 50, 50), Placement(square(colour=(0, 0, 255)), 60, 50)])
    first, second = comp.objects
    alone = (paste(BG, [Placement(square(), 50, 50)]).mask > 0.5).sum()
    assert (second.mask > 0.5).sum() == alone
    assert (first.mask > 0.5).sum() == pytest.approx(alone / 2, abs=25)  # the right half is covered
    assert tuple(comp.image[50, 55]) == (0, 0, 255)


def test_soft_edge_blends_without_dark_fringe():
    white_bg = np.full((60, 60, 3), 255, np.uint8)
    comp = paste(white_bg, [Placement(square(colour=(255, 255, 255), soft=True), 30, 30)])
    assert comp.image.min() >= 254, "premultiplied blending: white on white stays white"
    assert ((comp.mask > 0.1) & (comp.mask < 0.6)).sum() >= 60, "the half-transparent rim stays soft in the mask"


def test_parse_placement():
    assert parse_placement("a.png") == ("a.png", {})
    assert parse_placement("a.png@10,20") == ("a.png", {"x": 10.0, "y": 20.0})
    assert parse_placement("dir@x/a.png@10,20,0.5,30") == ("dir@x/a.png", {"x": 10.0, "y": 20.0, "scale": 0.5, "rotation": 30.0})
    with pytest.raises(UsageError):
        parse_placement("a.png@10")


def test_pasting_within_the_sticker_box_matches_a_whole_canvas_warp():
    """paste warps each sticker onto the box it can touch only; the result must be what
    warping it onto the whole canvas gives (up to OpenCV's 1/32 px sub-pixel rounding)."""
    import cv2

    from compositor.paste import placement_matrix

    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (37, 29, 4)).astype(np.uint8)
    rgba[..., 3] = cv2.GaussianBlur(rgba[..., 3], (0, 0), 3)
    small = rng.integers(0, 256, (5, 6, 4)).astype(np.uint8)
    small[..., 3] = 255  # opaque to its border: enlarged, its edge ramps over several pixels
    bg = rng.integers(0, 256, (100, 120, 3)).astype(np.uint8)
    cases = [(rgba, 60, 50, 1.0, 0), (rgba, 3, 95, 1.7, 30), (rgba, 118, 2, 0.6, -75), (rgba, 60, 50, 2.3, 180),
             (rgba, -10, 40, 1.0, 10), (small, 60, 50, 8.0, 0), (small, 40, 60, 6.5, 30), (small, 2, 3, 9.0, 0)]
    for pixels, x, y, scale, deg in cases:
        h, w = pixels.shape[:2]
        sticker = Sticker(rgba=pixels, label="noise", source_box=(0, 0, w, h), score=1.0, method="test")
        comp = paste(bg, [Placement(sticker, x, y, scale, deg)])
        matrix = placement_matrix(w, h, x, y, scale, deg)
        premult = pixels.astype(np.float32) / 255
        premult[..., :3] *= premult[..., 3:]
        interp = cv2.INTER_AREA if scale < 1 and deg % 360 == 0 else cv2.INTER_LINEAR
        full = cv2.warpAffine(premult, matrix, (120, 100), flags=interp, borderValue=0)
        alpha = np.clip(full[..., 3], 0, 1)
        expected = np.clip(full[..., :3] * 255 + bg * (1 - alpha[..., None]) + 0.5, 0, 255).astype(np.uint8)
        # (OpenCV quantises sub-pixel positions to 1/32 px: up to 1/32 of a step, 8 levels, can move)
        assert np.abs(comp.image.astype(int) - expected).max() <= 9, (x, y, scale, deg)
        assert np.abs(comp.mask - alpha).max() <= 0.035 and np.abs(comp.objects[0].mask - alpha).max() <= 0.035
        ys, xs = np.nonzero(alpha >= 0.5 / 255)
        ox, oy, ow, oh = comp.objects[0].box
        assert abs(ox - xs.min()) <= 1 and abs(oy - ys.min()) <= 1
        assert abs(ox + ow - 1 - xs.max()) <= 1 and abs(oy + oh - 1 - ys.max()) <= 1


def test_non_finite_position_or_rotation_is_a_usage_error():
    for x, y, deg, name in ((float("inf"), 10, 0, "x"), (10, float("nan"), 0, "y"), (10, 10, float("inf"), "rotation")):
        with pytest.raises(UsageError, match=f"square: {name} must be a finite number"):
            paste(BG, [Placement(square(), x, y, 1.0, deg, name="square")])


def test_an_object_off_the_canvas_with_only_x_given_names_where_it_was_placed():
    sticker = Sticker(rgba=np.full((10, 10, 4), 255, np.uint8), label="a", source_box=(0, 0, 10, 10), score=1.0,
                      method="test")
    with pytest.raises(UsageError, match=r"placed at \(5000, 25\) with scale 1 it lands entirely outside"):
        paste(np.zeros((50, 50, 3), np.uint8), [Placement(sticker, 5000, None)])


# --------------------------------------------------------------------------- placement the way people think


def _block(h: int = 40, w: int = 20) -> Sticker:
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    return Sticker(rgba=rgba, label="block", source_box=(0, 0, w, h), score=1.0, method="test")


@pytest.mark.parametrize("text, expected", [
    ("10,20", {"x": 10.0, "y": 20.0}),
    ("50%,90%", {"x": "50%", "y": "90%"}),
    ("120px,40", {"x": 120.0, "y": 40.0}),
    ("50%,100%,0.5", {"x": "50%", "y": "100%", "scale": 0.5}),
    ("50%,100%,300px", {"x": "50%", "y": "100%", "height": 300.0}),
    ("50%,100%,40%,15,bottom", {"x": "50%", "y": "100%", "height": "40%", "rotation": 15.0, "anchor": "bottom"}),
    ("1,2,center", {"x": 1.0, "y": 2.0, "anchor": "centre"}),
])
def test_parse_where(text, expected):
    assert parse_where(text) == expected


@pytest.mark.parametrize("text", ["1", "1,2,3,4,5,6", "a,2", "1,2,3q", "1,2,inf", "1,2,3,4,sideways", "1%%,2"])
def test_parse_where_exception(text):
    with pytest.raises(UsageError, match="placement must be|must be"):
        parse_where(text)


def test_where_text_round_trips():
    for kw in ({"x": 10.0, "y": 20.5}, {"x": "50%", "y": "100%", "height": "40%", "anchor": "bottom"},
               {"x": 3.25, "y": 4.0, "scale": 0.3333333333333333, "rotation": 12.5},
               {"x": 7.0, "y": 8.0, "height": 120.0, "rotation": -3.0}):
        text = where_text(**kw)
        back = parse_where(text)
        assert {k: v for k, v in back.items() if not (k == "scale" and v == 1.0)} == kw, text


def test_percent_and_height_resolve_against_the_background():
    bg = np.zeros((200, 400, 3), np.uint8)
    comp = paste(bg, [Placement(_block(), x="25%", y="50%", height="20%")])
    # 20% of 200 px is the block's own 40 px: scale 1; its middle pixel (9.5, 19.5) lands on
    # (100, 100), so it covers half of the pixels at either end
    assert comp.objects[0].center == (100.0, 100.0) and comp.objects[0].scale == 1.0
    assert comp.objects[0].box == (90, 80, 21, 41)
    comp = paste(bg, [Placement(_block(), x=100.5, y=100.5, height="50%")])
    assert comp.objects[0].scale == 2.5 and abs(comp.objects[0].box[3] - 100) <= 2  # bilinear edges
    comp = paste(bg, [Placement(_block(), x=100.5, y=100.5, height=80)])
    assert abs(comp.objects[0].box[2] - 40) <= 2 and abs(comp.objects[0].box[3] - 80) <= 2


def test_bottom_anchor_stands_the_object_on_the_point():
    bg = np.zeros((200, 400, 3), np.uint8)
    comp = paste(bg, [Placement(_block(), x=200, y=150, anchor="bottom")])
    x, y, w, h = comp.objects[0].box
    assert y + h - 1 == 150 and h == 40  # its bottom row on row 150
    # rotated 90 degrees CCW: its top points left, so its feet at (200, 150) are its right end
    comp = paste(bg, [Placement(_block(), x=200, y=150, rotation=90, anchor="bottom")])
    x, y, w, h = comp.objects[0].box
    assert w == 40 and x + w - 1 == 200
    # no y: standing on the background's bottom edge
    comp = paste(bg, [Placement(_block(), x="50%", anchor="bottom")])
    assert comp.objects[0].box[1] + comp.objects[0].box[3] == 200  # the last row, 199, is covered


def test_placement_exception():
    bg = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(UsageError, match="scale or a height, not both"):
        paste(bg, [Placement(_block(), scale=2.0, height=10)])
    with pytest.raises(UsageError, match="height must be positive"):
        paste(bg, [Placement(_block(), height="0%")])
    with pytest.raises(UsageError, match="anchor must be centre or bottom"):
        paste(bg, [Placement(_block(), anchor="top")])
    with pytest.raises(UsageError, match="percent"):
        paste(bg, [Placement(_block(), x="half")])
