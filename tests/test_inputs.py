"""The library's arguments, checked in one place (``compositor.inputs``), through every entry point.

Masks and images of every dtype, shape and range are either normalised (so the result is the
one the canonical form gives) or refused with one ``InputError`` naming the argument; paths,
arrays and PIL images are accepted wherever an image or a sticker goes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import api, inputs
from compositor.errors import CompositorError, UsageError
from compositor.paste import Placement
from compositor.types import Composite, Sticker

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CLASSICAL = ["none", "reinhard", "boundary", "poisson"]


@pytest.fixture(scope="module")
def scene():
    """chelsea.png with a red block pasted in it, and the block's 0/1 float mask."""
    img = np.asarray(Image.open(SAMPLES / "chelsea.png").convert("RGB")).copy()
    mask = np.zeros(img.shape[:2], np.float32)
    mask[100:180, 150:270] = 1.0
    img[100:180, 150:270] = (200, 30, 30)
    return img, mask


def one_sentence(exc: BaseException, *words) -> str:
    text = str(exc)
    assert isinstance(exc, inputs.InputError) and isinstance(exc, UsageError), type(exc)
    assert "\n" not in text and text.endswith("."), text
    for w in words:
        assert str(w) in text, f"{w!r} not in {text!r}"
    return text


# ----------------------------------------------------------------------------- masks


def mask_forms(mask01: np.ndarray) -> dict[str, np.ndarray]:
    """The same binary mask in every dtype a caller may hold it in."""
    b = mask01 > 0
    return {
        "bool": b, "uint8 0/1": b.astype(np.uint8), "uint8 0/255": b.astype(np.uint8) * 255,
        "uint16 0/65535": b.astype(np.uint16) * 65535, "uint16 0/1": b.astype(np.uint16),
        "int64 0/255": b.astype(np.int64) * 255, "int32 0/1": b.astype(np.int32),
        "float64 0/1": b.astype(np.float64), "float16 0/1": b.astype(np.float16),
        "HxWx1 uint8": (b.astype(np.uint8) * 255)[..., None], "PIL L": Image.fromarray(b.astype(np.uint8) * 255),
        "PIL 1": Image.fromarray(b), "PIL I;16": Image.fromarray(b.astype(np.uint16) * 65535),
    }


@pytest.mark.parametrize("backend", CLASSICAL)
def test_harmonize_gives_the_same_result_for_every_mask_dtype(scene, backend):
    """A uint8 0/255 mask in a Composite was used as is (object error 99-147 against the 0/1
    mask, poisson changing the background by up to 62): now every form gives the 0/1 result."""
    img, mask = scene
    reference = api.harmonize(Composite(img, mask), backend).image
    for name, form in mask_forms(mask).items():
        out = api.harmonize(Composite(img, form), backend).image
        assert np.array_equal(out, reference), f"{backend} with a {name} mask"


def test_load_composite_normalises_every_mask_dtype(scene):
    """A 16-bit mask through load_composite ended with a maximum of 257; now each is 0..1."""
    img, mask = scene
    for name, form in mask_forms(mask).items():
        comp = api.load_composite(img, form)
        assert comp.mask.dtype == np.float32 and comp.mask.max() == 1.0, name
        assert np.array_equal(comp.mask, mask), name


def test_a_float_mask_a_hair_outside_0_1_is_clipped(scene):
    """A float mask resized with area averaging reaches 1.0000001: clipped, not refused (the
    benchmark's resized masks were refused before this slack)."""
    img, mask = scene
    bumped = mask * np.float32(1.0000001) - (mask == 0) * np.float32(1e-7)
    assert bumped.max() > 1 and bumped.min() < 0
    comp = api.load_composite(img, bumped)
    assert comp.mask.min() == 0 and comp.mask.max() == 1
    assert np.array_equal(api.harmonize(Composite(img, bumped), "reinhard").image,
                          api.harmonize(Composite(img, mask), "reinhard").image)


def test_soft_masks_are_scaled_by_their_dtypes_full_range(scene):
    img, _ = scene
    ramp = np.tile(np.linspace(0, 1, img.shape[1], dtype=np.float32), (img.shape[0], 1))
    for form, expected in (((ramp * 255).round().astype(np.uint8), np.round(ramp * 255) / 255),
                           ((ramp * 65535).round().astype(np.uint16), np.round(ramp * 65535) / 65535),
                           (ramp.astype(np.float64), ramp)):
        got = api.load_composite(img, form).mask
        assert np.allclose(got, expected, atol=1e-6), form.dtype


@pytest.mark.parametrize("bad, words", [
    ("float 0/255", ("composite.mask", "0..255", "within 0..1")),
    ("nan", ("composite.mask", "NaN")),
    ("negative", ("composite.mask", "-1")),
    ("int 0/1000", ("composite.mask", "0..1000")),
    ("rgb", ("composite.mask", "HxW")),
    ("small", ("composite.mask", "226x150", "451x300")),
    ("complex", ("composite.mask", "complex")),
    ("list", ("composite.mask", "list")),
])
def test_harmonize_refuses_a_mask_it_cannot_read(scene, bad, words):
    img, mask = scene
    value = {"float 0/255": mask * 255, "nan": np.where(mask > 0, np.nan, 0), "negative": mask - 1,
             "int 0/1000": (mask * 1000).astype(np.int32), "rgb": np.dstack([mask] * 3),
             "small": mask[::2, ::2], "complex": mask.astype(np.complex64), "list": mask.tolist()}[bad]
    with pytest.raises(inputs.InputError) as info:
        api.harmonize(Composite(img, value), "reinhard")
    one_sentence(info.value, *words)


@pytest.mark.parametrize("value, words", [
    (np.zeros((300, 451), np.uint8), ("empty",)),
    (np.full((300, 451), 255, np.uint8), ("whole image",)),
])
def test_load_composite_refuses_an_empty_or_full_mask_array(scene, value, words):
    with pytest.raises(inputs.InputError) as info:
        api.load_composite(scene[0], value)
    one_sentence(info.value, "mask", *words)


# ----------------------------------------------------------------------------- images


def image_forms(img: np.ndarray) -> dict[str, object]:
    """The same RGB picture in the forms a caller may hold it in."""
    return {
        "uint16": img.astype(np.uint16) * 257, "float32 0..1": img.astype(np.float32) / 255,
        "float64 0..1": img / 255.0, "int64": img.astype(np.int64), "RGBA opaque": np.dstack(
            [img, np.full(img.shape[:2], 255, np.uint8)]), "non-contiguous": np.asfortranarray(img),
        "PIL RGB": Image.fromarray(img), "PIL RGBA": Image.fromarray(img).convert("RGBA"),
    }


def test_every_entry_point_takes_every_image_form(scene, tmp_path, monkeypatch):
    """Paths, PIL images and arrays of any dtype: each entry point works on the same pixels."""
    img, mask = scene
    Image.fromarray(img).save(tmp_path / "img.png")
    seen = []

    class Spy:  # a cutter that keeps the pixels it is given (GrabCut's own randomness aside)
        name = "spy"

        def cut(self, image, settings):
            seen.append(image)
            return [Sticker(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]), "s", (0, 0, 1, 1), 1, "spy")]

    import dataclasses
    Spy.Settings = dataclasses.make_dataclass("Settings", [], frozen=True)
    real_load = api.plugins.load
    monkeypatch.setattr(api.plugins, "load", lambda kind, name: Spy if name == "spy" else real_load(kind, name))
    ref_comp = api.load_composite(img, mask)
    sticker = Sticker(np.full((30, 40, 4), 200, np.uint8), "s", (0, 0, 40, 30), 1.0, "test")
    ref_paste = api.paste(img, [(sticker, 100, 100)])
    forms = {"path": tmp_path / "img.png", "str path": str(tmp_path / "img.png"), **image_forms(img)}
    for name, form in forms.items():
        assert np.array_equal(api.load_composite(form, mask).image, ref_comp.image), name
        api.cut(form, "spy")
        assert seen[-1].dtype == np.uint8 and np.array_equal(seen[-1], img), name
        assert np.array_equal(api.paste(form, [(sticker, 100, 100)]).image, ref_paste.image), name
        assert np.array_equal(api.harmonize(Composite(form, mask), "none").image, img), name


def test_grey_images_are_read_as_grey_rgb(scene):
    img, mask = scene
    grey = img[..., 1]
    for form in (grey, grey[..., None], Image.fromarray(grey)):
        comp = api.load_composite(form, mask)
        assert comp.image.shape == img.shape and np.array_equal(comp.image[..., 0], grey)


@pytest.mark.parametrize("bad, words", [
    ("float 0..255", ("0..255", "within 0..1")),
    ("nan", ("NaN",)),
    ("int -5..250", ("-5..250", "0..255")),
    ("bool", ("mask, not an image",)),
    ("4-d", ("shape",)),
    ("2 channels", ("shape",)),
    ("empty", ("no pixels",)),
    ("None", ("None",)),
    ("number", ("int",)),
    ("empty path", ("empty",)),
])
def test_every_entry_point_refuses_an_image_it_cannot_read(scene, bad, words):
    img, mask = scene
    value = {"float 0..255": img.astype(np.float32), "nan": np.full(img.shape, np.nan),
             "int -5..250": img.astype(np.int16) - 5, "bool": img > 0, "4-d": img[None],
             "2 channels": img[..., :2], "empty": img[:0], "None": None, "number": 3, "empty path": ""}[bad]
    if bad == "int -5..250":
        value[0, 0, 0], value[0, 0, 1] = -5, 250
        value = np.clip(value, -5, 250)
    calls = {
        "photo": lambda: api.cut(value, "grabcut"),
        "background": lambda: api.paste(value, [SAMPLES / "coffee.png"]),
        "image": lambda: api.load_composite(value, mask),
        "composite.image": lambda: api.harmonize(Composite(value, mask), "none"),
        "compose photo": lambda: api.compose(value, img, method="grabcut", backend="none"),
        "compose background": lambda: api.compose(SAMPLES / "coffee.png", value, method="grabcut", backend="none"),
    }
    for what, call in calls.items():
        with pytest.raises(inputs.InputError) as info:
            call()
        one_sentence(info.value, *words, what.split()[-1] if bad != "empty path" else "")


# ----------------------------------------------------------------------------- stickers and placements


def test_paste_takes_sticker_paths_arrays_and_pil_images(scene, tmp_path):
    """paste(img, [('cup.png', 100, 100)]) raised AttributeError: 'str' object has no attribute 'rgba'."""
    img, _ = scene
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[5:35, 5:55, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "cup.png")
    reference = api.paste(img, [(api.read_sticker(tmp_path / "cup.png"), 100, 100)]).image
    for form in (tmp_path / "cup.png", str(tmp_path / "cup.png"), rgba, Image.fromarray(rgba),
                 rgba.astype(np.float32) / 255):
        for item in ((form, 100, 100), [form, 100, 100], Placement(form, 100, 100),
                     {"sticker": form, "x": 100, "y": 100}):
            assert np.array_equal(api.paste(img, [item]).image, reference), (type(form), type(item))
    centred = api.paste(img, [tmp_path / "cup.png"]).image  # a bare sticker: centred
    assert np.array_equal(centred, api.paste(img, [(tmp_path / "cup.png", 225.5, 150)]).image)
    opaque = api.paste(img, [(rgba[..., :3], 100, 100)])  # RGB: an opaque rectangle
    assert opaque.mask.sum() == 40 * 60


@pytest.mark.parametrize("where", ["50%,90%", "120,80,0.5", "50%,95%,40%,0,bottom", "30%,60%,60px,20",
                                   "200px,150,1.5,0,feet", "60%,50%,35%,center"])
def test_placement_tuples_read_as_the_command_line(tmp_path, where):
    """A tuple (sticker, x, y[, size[, degrees]][, anchor]) places as ``paste STICKER@X,Y...``
    does: the same text, parsed by the command line, gives the same composite, pixel for pixel."""
    from compositor import cli

    rgba = np.zeros((60, 40, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[4:56, 6:34, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "s.png")
    shutil.copy(SAMPLES / "chelsea.png", tmp_path / "bg.png")
    assert cli.main(["paste", str(tmp_path / "bg.png"),
                     f"{tmp_path / 's.png'}@{where}", "-o", str(tmp_path / "cli.png"),
                     "--mask-out", str(tmp_path / "m.png")]) == 0
    values = [float(v) if v.replace(".", "").isdigit() else v for v in where.split(",")]  # numbers as numbers
    comp = api.paste(tmp_path / "bg.png", [(tmp_path / "s.png", *values)])
    assert np.array_equal(comp.image, np.asarray(Image.open(tmp_path / "cli.png").convert("RGB")))
    text = api.paste(tmp_path / "bg.png", [(tmp_path / "s.png", *where.split(","))])  # or all as text
    assert np.array_equal(text.image, comp.image)


@pytest.mark.parametrize("item, words", [
    (("STICKER", 10, 10, "half"), ("scale", "'half'")),
    (("STICKER", 10, 10, "40 percent"), ("size must be a scale (0.5) or a height", "'40 percent'")),
    (("STICKER", "50%", 10, [2]), ("size", "[2]")),
    (("STICKER", 10, 10, 0.5, 0, "top"),
     ("sticker 1: anchor (a placement tuple's sixth value) must be centre or bottom", "received 'top'")),
    (("STICKER", 10, 10, 0.5, 0, "bottom", "x"), ("(sticker, x, y[, size[, degrees]][, anchor])", "7 values")),
    (("STICKER", "left", 10), ("x", "'left'")),
    (("STICKER", [10], 10), ("x", "[10]")),
    ({"sticker": "STICKER", "anchor": "top"}, ("anchor", "'top'")),
    ({"sticker": "STICKER", "height": True}, ("height", "True")),
    (("STICKER", 10, 10, 0.5, True), ("rotation", "True")),
    (("STICKER", 10, 10, -1), ("scale", "positive")),
    (("STICKER", 10, 10, float("nan")), ("scale",)),
    (("STICKER", 1, 2, 3, 4, 5), ("anchor", "received 5")),
    ((None, 10, 10), ("sticker 1", "None")),
    ((42, 10, 10), ("sticker 1", "int")),
    (({"sticker": "STICKER", "colour": 1}), ("colour",)),
    (("missing.png", 10, 10), ("missing.png", "no such file")),
    ((np.zeros((5, 5, 4), np.uint8), 10, 10), ("transparent",)),
])
def test_paste_refuses_a_placement_it_cannot_use(scene, item, words):
    """paste(img, [(st, 10, 10, '0.5')]) raised a TypeError from a comparison."""
    img, _ = scene
    sticker = Sticker(np.full((4, 4, 4), 255, np.uint8), "s", (0, 0, 4, 4), 1.0, "test")
    if isinstance(item, dict):
        item = {k: (sticker if v == "STICKER" else v) for k, v in item.items()}
    else:
        item = tuple(sticker if isinstance(v, str) and v == "STICKER" else v for v in item)
    with pytest.raises(CompositorError) as info:  # an InputError, or the file's own error
        api.paste(img, [item])
    text = str(info.value)
    assert "\n" not in text and (isinstance(info.value, UsageError) or "no such file" in text), text
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"


@pytest.mark.parametrize("stickers", ["cup.png", None, [], 3])
def test_paste_refuses_a_sticker_list_that_is_not_one(scene, stickers):
    with pytest.raises(inputs.InputError) as info:
        api.paste(scene[0], stickers)
    one_sentence(info.value, "stick")


@pytest.mark.parametrize("call, words", [
    (lambda img, m: api.harmonize(None), ("composite", "None", "load_composite")),
    (lambda img, m: api.harmonize(img), ("composite", "uint8 array")),
    (lambda img, m: api.harmonize((img, m)), ("composite", "tuple")),
    (lambda img, m: api.harmonize(Composite(img, m), backend=None), ("backend", "None")),
    (lambda img, m: api.harmonize(Composite(img, m), progress=object()), ("progress", "update")),
    (lambda img, m: api.cut(img, method=["grabcut"]), ("method",)),
    (lambda img, m: api.load_composite(img, None), ("mask", "None")),
    (lambda img, m: api.load_composite(img, 0.5), ("mask", "float")),
    (lambda img, m: api.compose(SAMPLES / "coffee.png", img, x=10, y="up"), ("y", "'up'")),
    (lambda img, m: api.compose(SAMPLES / "coffee.png", img, scale=0), ("scale", "positive")),
    (lambda img, m: api.compose(SAMPLES / "coffee.png", img, cut_settings=[("box", 1)]), ("cut_settings",)),
    (lambda img, m: api.compose(SAMPLES / "coffee.png", img, background_file=5), ("background_file", "int")),
    # a height that is not positive, as a scale that is not: an InputError (it was a bare UsageError)
    (lambda img, m: api.paste(img, [(np.full((4, 4, 4), 255, np.uint8), 1, 1, "0px")]), ("height", "positive")),
    (lambda img, m: api.paste(img, [{"sticker": np.full((4, 4, 4), 255, np.uint8), "height": "-5%"}]),
     ("sticker 1: height must be positive", "'-5%'")),
    (lambda img, m: api.compose(SAMPLES / "coffee.png", img, height=0), ("height", "positive")),
])
def test_api_misuse_gets_one_clear_exception(scene, call, words):
    """harmonize(None) and harmonize(ndarray) raised AttributeError ... 'image'."""
    img, mask = scene
    with pytest.raises(inputs.InputError) as info:
        call(img, mask)
    one_sentence(info.value, *words)


def test_compose_refuses_a_background_file_it_cannot_read(scene, tmp_path):
    """A background_file that names no file was ignored: the jpeg step then estimated the quality
    from the pixels instead of reading the file's tables, without a word."""
    img, _ = scene
    with pytest.raises(CompositorError) as info:
        api.compose(SAMPLES / "coffee.png", img, backend="none", finish={"match": "jpeg"},
                    background_file=tmp_path / "typo.jpg")
    assert str(info.value) == f"{tmp_path / 'typo.jpg'}: no such file.", info.value  # the file's own sentence


def test_input_error_is_also_a_type_and_value_error():
    """Python callers may catch the built-in kinds; front ends catch UsageError (exit 2, HTTP 4xx)."""
    assert issubclass(inputs.InputError, TypeError) and issubclass(inputs.InputError, ValueError)
    assert inputs.InputError("x").exit_code == 2
