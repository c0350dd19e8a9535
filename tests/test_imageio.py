"""compositor.imageio: the bad-input contract and the pixel-mode conversions.

Every bad file gives one CompositorError whose message names the file; every mode the
module promises is converted (values checked, not just shapes); writes are atomic.
All inputs are generated in tmp_path; nothing here needs TensorFlow.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import imageio
from compositor.errors import CompositorError, UsageError

READERS = [imageio.read_rgb, imageio.read_rgba, imageio.read_mask]
READER_IDS = ["read_rgb", "read_rgba", "read_mask"]


# ----------------------------------------------------------------------------- helpers

def _save(im: Image.Image, path: Path, **kw) -> Path:
    im.save(path, **kw)
    return path


def _noise(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header declares width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _files(folder: Path) -> set[str]:
    """Every entry under ``folder``, hidden ones (``.name.part``) included."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_one_sentence(exc: BaseException, *names: object) -> str:
    msg = str(exc)
    assert "\n" not in msg, f"not one line: {msg!r}"
    assert msg.rstrip().endswith((".", ")")), f"not a sentence: {msg!r}"
    for name in names:
        assert str(name) in msg, f"{name} not named in {msg!r}"
    return msg


# ----------------------------------------------------------------------------- bad files

def _missing(tmp: Path) -> Path:
    return tmp / "missing.png"


def _folder(tmp: Path) -> Path:
    (tmp / "folder.png").mkdir()
    return tmp / "folder.png"


def _zero_bytes(tmp: Path) -> Path:
    (tmp / "empty.png").write_bytes(b"")
    return tmp / "empty.png"


def _text_as_png(tmp: Path) -> Path:
    (tmp / "notes.png").write_text("this is not a picture\n")
    return tmp / "notes.png"


def _truncated_png(tmp: Path) -> Path:
    full = _save(Image.fromarray(_noise()), tmp / "full.png").read_bytes()
    (tmp / "cut.png").write_bytes(full[: len(full) // 2])
    return tmp / "cut.png"


def _png_header_only(tmp: Path) -> Path:
    full = _save(Image.fromarray(_noise()), tmp / "full.png").read_bytes()
    (tmp / "head.png").write_bytes(full[:40])  # signature + IHDR, then nothing
    return tmp / "head.png"


def _truncated_jpeg(tmp: Path) -> Path:
    full = _save(Image.fromarray(_noise()), tmp / "full.jpg", quality=90).read_bytes()
    (tmp / "cut.jpg").write_bytes(full[: len(full) // 2])
    return tmp / "cut.jpg"


def _corrupt_png_data(tmp: Path) -> Path:
    data = bytearray(_save(Image.fromarray(_noise()), tmp / "full.png").read_bytes())
    start = data.index(b"IDAT") + 4
    for i in range(start + 10, start + 60):
        data[i] ^= 0xFF
    (tmp / "flipped.png").write_bytes(bytes(data))
    return tmp / "flipped.png"


def _bomb(tmp: Path) -> Path:
    (tmp / "bomb.png").write_bytes(_bomb_png(100_000, 100_000))  # 10 gigapixels declared in ~80 bytes
    return tmp / "bomb.png"


def _name_too_long(tmp: Path) -> Path:
    return tmp / ("x" * 300 + ".png")


BAD_FILES = {
    "missing": (_missing, "no such file"),
    "folder": (_folder, "folder"),
    "zero-byte": (_zero_bytes, "empty"),
    "text-named-png": (_text_as_png, "not an image"),
    "truncated-png": (_truncated_png, "truncated"),
    "png-header-only": (_png_header_only, ("truncated", "not an image")),
    "truncated-jpeg": (_truncated_jpeg, "truncated"),
    "corrupt-png-data": (_corrupt_png_data, "corrupt"),
    "decompression-bomb": (_bomb, "limit"),
    "name-too-long": (_name_too_long, "too long"),
}


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_error_naming_the_file(tmp_path, reader, case):
    make, problem = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(CompositorError) as info:
        reader(path)
    msg = assert_one_sentence(info.value, path)
    assert any(word in msg for word in ((problem,) if isinstance(problem, str) else problem)), msg
    assert info.value.exit_code == 1  # a failure, not a usage error


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
@pytest.mark.parametrize("size", [(40, 30), (100, 100)], ids=["just-over-limit", "over-twice-the-limit"])
def test_pixel_limit_from_environment(tmp_path, monkeypatch, reader, size):
    # 1200 px is between the limit and twice it (Pillow warns), 10000 px is past twice it (Pillow raises)
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "1000")
    path = _save(Image.new("L", size, 200), tmp_path / "big.png")
    with pytest.raises(CompositorError) as info:
        reader(path)
    msg = assert_one_sentence(info.value, path)
    assert "1,000" in msg and "COMPOSITOR_MAX_PIXELS" in msg
    assert Image.MAX_IMAGE_PIXELS != 1000  # Pillow's global is restored


def test_pixel_limit_is_inclusive(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "1000")
    path = _save(Image.new("L", (40, 25), 200), tmp_path / "exact.png")
    assert imageio.read_rgb(path).shape == (25, 40, 3)


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_bad_pixel_limit_setting_is_a_usage_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", value)
    path = _save(Image.new("L", (4, 4)), tmp_path / "a.png")
    with pytest.raises(UsageError) as info:
        imageio.read_rgb(path)
    assert_one_sentence(info.value, "COMPOSITOR_MAX_PIXELS", value)


# ----------------------------------------------------------------------------- modes

def test_mode_L(tmp_path):
    p = _save(Image.fromarray(np.array([[0, 128, 255]], np.uint8)), tmp_path / "l.png")
    assert imageio.read_rgb(p).tolist() == [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]
    assert imageio.read_rgba(p)[..., 3].tolist() == [[255, 255, 255]]
    np.testing.assert_allclose(imageio.read_mask(p), [[0, 128 / 255, 1]], atol=1e-6)


def test_mode_LA(tmp_path):
    la = np.array([[[10, 255], [200, 0], [100, 128]]], np.uint8)
    p = _save(Image.fromarray(la, "LA"), tmp_path / "la.png")
    assert imageio.read_rgba(p).tolist() == [[[10, 10, 10, 255], [200, 200, 200, 0], [100, 100, 100, 128]]]
    # over white: 100 * 128/255 + 255 * 127/255 = 177.2
    assert imageio.read_rgb(p).tolist() == [[[10, 10, 10], [255, 255, 255], [177, 177, 177]]]
    np.testing.assert_allclose(imageio.read_mask(p), [[1, 0, 128 / 255]], atol=1e-6)  # by alpha


def _palette_image() -> Image.Image:
    im = Image.new("P", (3, 1))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    im.putdata([0, 1, 2])
    return im


def test_mode_P_without_transparency(tmp_path):
    p = _save(_palette_image(), tmp_path / "p.png")
    assert Image.open(p).mode == "P"
    assert imageio.read_rgb(p).tolist() == [[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]
    assert imageio.read_rgba(p)[..., 3].tolist() == [[255, 255, 255]]


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_mode_P_with_transparency(tmp_path, ext):
    p = _save(_palette_image(), tmp_path / f"pt.{ext}", transparency=1)
    assert Image.open(p).mode == "P"
    assert imageio.read_rgba(p).tolist() == [[[255, 0, 0, 255], [0, 255, 0, 0], [0, 0, 255, 255]]]
    assert imageio.read_rgb(p).tolist() == [[[255, 0, 0], [255, 255, 255], [0, 0, 255]]]  # green hidden -> white
    assert imageio.read_mask(p).tolist() == [[1.0, 0.0, 1.0]]


def test_mode_RGBA_composited_over_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128], [0, 0, 255, 64]]], np.uint8)
    p = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png")
    assert imageio.read_rgba(p).tolist() == rgba.tolist()
    rgb = imageio.read_rgb(p)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    # opaque red stays, transparent red becomes white, half-transparent black becomes mid grey
    assert rgb.tolist() == [[[255, 0, 0], [255, 255, 255], [127, 127, 127], [191, 191, 255]]]


def test_mode_1(tmp_path):
    p = _save(Image.fromarray(np.array([[True, False, True]])), tmp_path / "one.png")
    assert Image.open(p).mode == "1"
    assert imageio.read_rgb(p).tolist() == [[[255, 255, 255], [0, 0, 0], [255, 255, 255]]]
    assert imageio.read_mask(p).tolist() == [[1.0, 0.0, 1.0]]


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_mode_I16(tmp_path, ext):
    p = _save(Image.fromarray(np.array([[0, 32896, 65535, 257]], np.uint16)), tmp_path / f"i16.{ext}")
    assert Image.open(p).mode.startswith("I")
    assert imageio.read_rgb(p).tolist() == [[[0, 0, 0], [128, 128, 128], [255, 255, 255], [1, 1, 1]]]
    assert imageio.read_rgba(p)[..., 3].tolist() == [[255, 255, 255, 255]]
    np.testing.assert_allclose(imageio.read_mask(p), [[0, 128 / 255, 1, 1 / 255]], atol=1e-6)


def test_mode_I16_big_endian(tmp_path):
    im = Image.frombytes("I;16B", (3, 1), np.array([0, 32896, 65535], ">u2").tobytes())
    p = _save(im, tmp_path / "i16b.tif")
    assert imageio.read_rgb(p).tolist() == [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]


def test_mode_I32(tmp_path):
    p = _save(Image.fromarray(np.array([[0, 128, 255]], np.int32)), tmp_path / "i32.tif")
    assert Image.open(p).mode == "I"
    assert imageio.read_rgb(p)[..., 0].tolist() == [[0, 128, 255]]


@pytest.mark.parametrize("values", [[0.0, 0.5, 1.0], [0.0, 128.0, 255.0]], ids=["unit-range", "byte-range"])
def test_mode_F(tmp_path, values):
    p = _save(Image.fromarray(np.array([values], np.float32)), tmp_path / "f.tif")
    assert Image.open(p).mode == "F"
    assert imageio.read_rgb(p).tolist() == [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]
    # a mask keeps the float file's own precision (0.5 stays 0.5, not 128/255)
    np.testing.assert_allclose(imageio.read_mask(p), [np.array(values) / values[-1]], atol=1e-6)


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_mode_CMYK(tmp_path, ext):
    im = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    im.paste((0, 0, 0, 255), (0, 0, 4, 8))  # left half: full black
    p = _save(im, tmp_path / f"cmyk.{ext}")
    assert Image.open(p).mode == "CMYK"
    rgb = imageio.read_rgb(p).astype(int)
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_allclose(rgb[4, 6], [255, 0, 0], atol=8)
    np.testing.assert_allclose(rgb[4, 1], [0, 0, 0], atol=8)
    assert (imageio.read_rgba(p)[..., 3] == 255).all()


@pytest.mark.parametrize("orientation, corner", [(3, "bottom-right"), (6, "top-right"), (8, "bottom-left")])
def test_exif_orientation_is_applied(tmp_path, orientation, corner):
    a = np.zeros((24, 40, 3), np.uint8)
    a[:8, :8] = (255, 0, 0)  # a red block in the stored top-left corner
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    p = _save(im, tmp_path / f"o{orientation}.jpg", exif=exif.tobytes(), quality=100)
    for reader in (imageio.read_rgb, imageio.read_rgba):
        out = reader(p)
        assert out.shape[:2] == ((40, 24) if orientation in (6, 8) else (24, 40))
        h, w = out.shape[:2]
        at = {"top-left": (2, 2), "top-right": (2, w - 3), "bottom-left": (h - 3, 2), "bottom-right": (h - 3, w - 3)}
        for name, (y, x) in at.items():
            r, g, b = (int(v) for v in out[y, x, :3])
            if name == corner:
                assert r > 200 and g < 60 and b < 60, f"{name} should be red: {(r, g, b)}"
            else:
                assert r < 60, f"{name} should be black: {(r, g, b)}"
    assert imageio.read_mask(p).shape == ((40, 24) if orientation in (6, 8) else (24, 40))


def test_mode_LAB(tmp_path):
    p = _save(Image.new("LAB", (4, 2), (128, 128, 128)), tmp_path / "lab.tif")  # L* 50, neutral
    assert Image.open(p).mode == "LAB"
    np.testing.assert_allclose(imageio.read_rgb(p).astype(int), np.full((2, 4, 3), 119), atol=2)
    np.testing.assert_allclose(imageio.read_mask(p), np.full((2, 4), 119 / 255), atol=2 / 255)


@pytest.mark.parametrize("reader", READERS, ids=READER_IDS)
def test_mode_pillow_cannot_convert(tmp_path, monkeypatch, reader):
    p = _save(Image.new("RGB", (4, 4)), tmp_path / "odd.png")

    def convert(self, mode=None, *args, **kwargs):
        raise ValueError(f"conversion from {self.mode} to {mode} not supported")

    monkeypatch.setattr(Image.Image, "convert", convert)
    with pytest.raises(CompositorError) as info:
        reader(p)
    assert "not supported" in assert_one_sentence(info.value, p)


def test_16bit_rgb_png(tmp_path):
    import cv2

    arr = np.zeros((2, 2, 3), np.uint16)
    arr[0, 0] = (65535, 32896, 0)
    cv2.imwrite(str(tmp_path / "rgb16.png"), arr[..., ::-1])
    rgb = imageio.read_rgb(tmp_path / "rgb16.png")
    assert rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 128, 0]


# ----------------------------------------------------------------------------- masks

def _mask_png(tmp: Path, name: str, pixels: np.ndarray) -> Path:
    return _save(Image.fromarray(pixels), tmp / name)


def test_mask_size_mismatch(tmp_path):
    m = np.zeros((30, 40), np.uint8)
    m[5:10, 5:10] = 255
    p = _mask_png(tmp_path, "m.png", m)
    with pytest.raises(UsageError) as info:
        imageio.read_mask(p, (30, 41), image_path="comp.png")
    msg = assert_one_sentence(info.value, p, "40x30", "41x30", "comp.png")
    assert "same size" in msg
    assert info.value.exit_code == 2


@pytest.mark.parametrize("fill, word", [(0, "empty"), (255, "whole image"), (1, "whole image")])
def test_mask_with_nothing_to_harmonize(tmp_path, fill, word):
    p = _mask_png(tmp_path, "m.png", np.full((30, 40), fill, np.uint8))
    with pytest.raises(UsageError) as info:
        imageio.read_mask(p, (30, 40))
    assert word in assert_one_sentence(info.value, p)
    # without a shape the same file is just read
    assert imageio.read_mask(p).shape == (30, 40)


def test_fully_transparent_rgba_mask_is_empty(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = 255
    p = _mask_png(tmp_path, "m.png", rgba)
    with pytest.raises(UsageError) as info:
        imageio.read_mask(p, (30, 40))
    assert "empty" in assert_one_sentence(info.value, p)


def test_rgba_mask_is_read_by_its_alpha(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere: the colour says nothing
    rgba[:10, :, 3] = 255
    rgba[10, :, 3] = 128
    p = _mask_png(tmp_path, "m.png", rgba)
    m = imageio.read_mask(p, (30, 40))
    assert m.dtype == np.float32
    assert (m[:10] == 1).all() and (m[11:] == 0).all()
    np.testing.assert_allclose(m[10], 128 / 255, atol=1e-6)


def test_opaque_rgba_mask_is_read_by_its_colour(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[5:15, 5:15, :3] = 255
    m = imageio.read_mask(_mask_png(tmp_path, "m.png", rgba), (30, 40))
    assert m[5:15, 5:15].min() == 1.0 and m.sum() == 100


def test_16bit_mask(tmp_path):
    m16 = np.zeros((30, 40), np.uint16)
    m16[:10] = 65535
    m16[10, :] = 32896
    m = imageio.read_mask(_mask_png(tmp_path, "m16.png", m16), (30, 40))
    assert m.dtype == np.float32 and 0.0 <= m.min() and m.max() <= 1.0
    assert (m[:10] == 1).all() and (m[11:] == 0).all()
    np.testing.assert_allclose(m[10], 128 / 255, atol=1e-6)


def test_colour_mask_is_read_by_luminance(tmp_path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[5:15, 5:15] = (255, 255, 255)
    rgb[20:25, 20:25] = (255, 0, 0)
    m = imageio.read_mask(_mask_png(tmp_path, "m.png", rgb), (30, 40))
    assert m[5:15, 5:15].min() == 1.0
    np.testing.assert_allclose(m[22, 22], 76 / 255, atol=1 / 255)  # ITU-R 601 luma of pure red
    assert m[0, 0] == 0


# ----------------------------------------------------------------------------- writing

def _image() -> np.ndarray:
    return _noise(20, 30)


@pytest.mark.parametrize("name", ["out.xyz", "out", "out.json"])
def test_write_unknown_extension_is_a_usage_error(tmp_path, name):
    with pytest.raises(UsageError) as info:
        imageio.write_image(tmp_path / name, _image())
    assert_one_sentence(info.value, tmp_path / name)
    assert _files(tmp_path) == set()


@pytest.mark.parametrize("ext", ["jpg", "jpeg", "bmp"])
def test_write_rgba_where_alpha_would_be_lost_is_a_usage_error(tmp_path, ext):
    with pytest.raises(UsageError) as info:
        imageio.write_image(tmp_path / f"s.{ext}", np.zeros((4, 4, 4), np.uint8))
    assert "alpha" in assert_one_sentence(info.value, tmp_path / f"s.{ext}")
    assert _files(tmp_path) == set()


@pytest.mark.parametrize("ext", ["png", "tif", "webp"])
def test_write_then_read_keeps_rgba(tmp_path, ext):
    rgba = np.dstack([_image(), np.tile(np.arange(0, 256, 256 / 30).astype(np.uint8), (20, 1))])
    p = tmp_path / f"s.{ext}"
    imageio.write_image(p, rgba)
    if ext != "webp":  # lossy by default
        np.testing.assert_array_equal(imageio.read_rgba(p), rgba)
    assert _files(tmp_path) == {p.name}


def test_write_mask_round_trip(tmp_path):
    mask = np.zeros((20, 30), np.float32)
    mask[5:10, 5:10] = 1.0
    mask[0, 0] = 0.5
    imageio.write_mask(tmp_path / "m.png", mask)
    back = imageio.read_mask(tmp_path / "m.png", (20, 30))
    np.testing.assert_allclose(back, mask, atol=1 / 255)


def _failing_save(exc: BaseException):
    def save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial data")  # something reached the disk before the failure
        raise exc
    return save


@pytest.mark.parametrize("exc, expected", [
    (OSError(28, "No space left on device"), CompositorError),
    (RuntimeError("encoder crashed"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, exc, expected):
    monkeypatch.setattr(Image.Image, "save", _failing_save(exc))
    target = tmp_path / "out.png"
    with pytest.raises(expected) as info:
        imageio.write_image(target, _image())
    if expected is CompositorError:
        assert "No space left" in assert_one_sentence(info.value, target)
    assert _files(tmp_path) == set(), "a partial or temporary file was left behind"


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    imageio.write_image(target, _image())
    before = target.read_bytes()
    monkeypatch.setattr(Image.Image, "save", _failing_save(OSError(5, "Input/output error")))
    with pytest.raises(CompositorError):
        imageio.write_image(target, np.zeros((5, 5, 3), np.uint8))
    assert target.read_bytes() == before
    assert _files(tmp_path) == {"out.png"}


def test_write_where_a_file_is_in_the_way(tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "out.png"
    with pytest.raises(CompositorError) as info:
        imageio.write_image(target, _image())
    assert_one_sentence(info.value, target)
    assert _files(tmp_path) == {"afile"}


def test_write_onto_a_folder(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(CompositorError) as info:
        imageio.write_image(tmp_path / "out.png", _image())
    assert_one_sentence(info.value, tmp_path / "out.png")
    assert _files(tmp_path) == {"out.png"}  # the folder, and no temporary file


def test_write_json_is_atomic(tmp_path, monkeypatch):
    imageio.write_json(tmp_path / "a.json", {"p": tmp_path, "n": np.int64(3), "t": (1, 2), "a": np.arange(2)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"p": str(tmp_path), "n": 3, "t": [1, 2], "a": [0, 1]}
    with pytest.raises(TypeError):
        imageio.write_json(tmp_path / "b.json", {"x": object()})
    assert _files(tmp_path) == {"a.json"}


def test_check_outputs(tmp_path):
    (tmp_path / "in.png").write_bytes(b"x")
    with pytest.raises(UsageError) as info:
        imageio.check_outputs([tmp_path / "in.png"], [tmp_path / "sub" / ".." / "in.png"])
    assert_one_sentence(info.value, "in.png")
    with pytest.raises(UsageError):
        imageio.check_outputs([], [tmp_path / "a.png", str(tmp_path / "a.png")])
    imageio.check_outputs([tmp_path / "in.png", None], [tmp_path / "out.png", None])


def test_reads_a_path_given_as_str(tmp_path):
    p = _save(Image.fromarray(_image()), tmp_path / "s.png")
    np.testing.assert_array_equal(imageio.read_rgb(str(p)), _image())


@pytest.mark.parametrize("mode, value", [("L", 1), ("L", 255), ("I;16", 1), ("I;16", 65535), ("1", 1)])
def test_a_mask_of_zeros_and_one_value_is_binary(tmp_path, mode, value):
    """0/1, 0/255, 0/65535 (16-bit) masks all mean background/object."""
    raw = np.zeros((4, 6), np.uint16 if mode == "I;16" else np.uint8)
    raw[1:3, 2:5] = value
    im = Image.fromarray(raw.astype(bool)) if mode == "1" else Image.fromarray(raw)
    assert im.mode == mode
    mask = imageio.read_mask(_save(im, tmp_path / "m.png"), (4, 6))
    assert mask.dtype == np.float32 and mask.tolist() == (raw > 0).astype(np.float32).tolist()


def test_a_soft_mask_keeps_its_levels(tmp_path):
    raw = np.array([[0, 1, 128, 255]], np.uint8)
    mask = imageio.read_mask(_save(Image.fromarray(raw), tmp_path / "m.png"))
    np.testing.assert_allclose(mask, raw / 255.0, atol=1e-6)
    raw16 = np.array([[0, 100, 200]], np.uint16)
    mask16 = imageio.read_mask(_save(Image.fromarray(raw16), tmp_path / "m16.png"), (1, 3))
    np.testing.assert_allclose(mask16, raw16 / 65535.0, atol=1e-7)
    assert (mask16 > 0).tolist() == [[False, True, True]]  # not "empty"
    # a uniform half-opacity mask stays half: only 1 and full scale are binary conventions
    half = np.zeros((2, 3), np.uint8)
    half[0, :2] = 128
    np.testing.assert_allclose(imageio.read_mask(_save(Image.fromarray(half), tmp_path / "h.png")), half / 255.0)


def test_write_all_is_all_or_nothing(tmp_path):
    """If one file of a set fails, the others (new or replacing old ones) are not written."""
    old = tmp_path / "a.png"
    old.write_bytes(b"old")
    (tmp_path / "b.json").mkdir()
    img = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(CompositorError, match="b.json"):
        imageio.write_all([(old, lambda: imageio.write_image(old, img)),
                           (tmp_path / "n.png", lambda: imageio.write_image(tmp_path / "n.png", img)),
                           (tmp_path / "b.json", lambda: imageio.write_json(tmp_path / "b.json", {}))])
    assert old.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.json"]
    imageio.write_all([(old, lambda: imageio.write_image(old, img))])
    assert imageio.read_rgb(old).shape == (2, 2, 3)


_LIMITED_WRITE = """
import sys
from compositor import imageio
from compositor.errors import CompositorError
try:
    imageio.write_image(sys.argv[2], imageio.read_rgb(sys.argv[1]))
except CompositorError as exc:
    print(exc)
    sys.exit(1)
"""


def _file_size_limit(limit: int):
    import resource

    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif", ".bmp"])
def test_a_full_disk_never_leaves_a_truncated_image(tmp_path, ext):
    """A file-size limit (as a full disk) stops the write part-way: the writer says so
    and leaves nothing, for every format (JPEG used to be cut short and reported written)."""
    import subprocess
    import sys

    photo = Path(__file__).resolve().parents[1] / "samples" / "chelsea.png"  # its JPEG is 50 KB
    target = tmp_path / f"out{ext}"
    done = subprocess.run([sys.executable, "-c", _LIMITED_WRITE, str(photo), str(target)], capture_output=True,
                          text=True, timeout=60, preexec_fn=_file_size_limit(20480))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.startswith(f"{target}: could not write the file"), done.stdout
    assert _files(tmp_path) == set(), "a truncated or temporary file was left behind"


def test_an_image_the_encoder_refuses_is_one_sentence_and_leaves_nothing(tmp_path):
    """WebP cannot hold an image over 16383 px wide: the encoder's refusal names the file, and
    neither a temporary file nor an open descriptor is left behind."""
    import os

    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(CompositorError, match=r"x\.webp: could not encode the file as webp"):
            imageio.write_image(tmp_path / "x.webp", np.zeros((2, 17000, 3), np.uint8))
    assert os.listdir(tmp_path) == [] and len(os.listdir("/proc/self/fd")) == fds


def test_numpy_scalars_go_to_json(tmp_path):
    imageio.write_json(tmp_path / "a.json", {"ok": np.bool_(True), "n": np.int64(3), "x": np.float32(1.5)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"ok": True, "n": 3, "x": 1.5}


def test_a_file_the_system_will_not_read_is_not_called_corrupt(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "p.png"
    Image.new("RGB", (4, 4)).save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(CompositorError) as info:
        imageio.read_rgb(path)
    assert str(info.value) == f"{path}: cannot read the file (Permission denied)."


def test_a_mask_is_never_written_lossily(tmp_path):
    with pytest.raises(UsageError, match="losslessly"):
        imageio.write_mask(tmp_path / "m.jpg", np.zeros((4, 4), np.float32))
    assert list(tmp_path.iterdir()) == []
    imageio.write_mask(tmp_path / "m.png", np.ones((4, 4), np.float32))
    assert np.asarray(Image.open(tmp_path / "m.png")).min() == 255
