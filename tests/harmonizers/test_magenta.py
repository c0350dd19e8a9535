"""The magenta backend with the real ONNX weights (and a tiny self-made TF Hub model) on small images."""
from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor import plugins
from compositor.cli import main
from compositor.errors import CompositorError, ModelMissingError, UsageError
from compositor.harmonizers import magenta, magenta_hub, magenta_onnx
from compositor.harmonizers.base import blend_weight
from compositor.ops.resize import resize
from compositor.harmonizers.magenta import DEFAULT_HANDLE, MagentaHarmonizer, MagentaSettings, style_input
from compositor.imageio import read_rgb, write_image, write_mask
from compositor.paste import Placement, paste
from compositor.types import Composite

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
COFFEE, ASTRONAUT = str(SAMPLES / "coffee.png"), str(SAMPLES / "astronaut.png")


# ---------------------------------------------------------------------------------------
# fixtures and measures


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path_factory, monkeypatch):
    """Every test sees an empty TF Hub cache (so `auto` means onnx unless a test says
    otherwise, whatever this machine has cached) and no hub module loaded before it."""
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path_factory.mktemp("tfhub_cache")))
    monkeypatch.delenv("TFHUB_MODEL_LOAD_FORMAT", raising=False)
    monkeypatch.setattr(magenta_hub, "_HUB_MODULES", {})


@pytest.fixture(scope="module")
def onnx_result(cup_on_cat):
    """The default run with the offline models, shared by the tests that only look at it."""
    return MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="onnx"))


def grow(region: np.ndarray, px: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(region.astype(np.uint8), k).astype(bool)


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def mean_abs(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32))[where].mean())


def colour_shift(out: np.ndarray, ref: np.ndarray, where: np.ndarray) -> float:
    """How far the object's mean Lab colour moved."""
    return float(np.linalg.norm(lab(out)[where].mean(0) - lab(ref)[where].mean(0)))


# ---------------------------------------------------------------------------------------
# the onnx path with the real weights


def test_output_shape_locality_and_change(cup_on_cat, onnx_result):
    r = onnx_result
    s = MagentaSettings()
    assert r.backend == "magenta" and r.image.dtype == np.uint8 and r.image.shape == cup_on_cat.image.shape
    core = cup_on_cat.mask >= 0.5
    assert mean_abs(r.image, cup_on_cat.image, core) > 10  # the object is restyled
    # Pixels away from the object (past the dilation and the soft edge) keep their values exactly.
    far = ~grow(cup_on_cat.mask > 0, s.dilate + int(5 * s.feather))
    assert far.sum() > 0.5 * far.size
    assert np.array_equal(r.image[far], cup_on_cat.image[far])
    x, y, w, h = r.params["region_box"]
    outside_box = np.ones(cup_on_cat.mask.shape, bool)
    outside_box[y:y + h, x:x + w] = False
    assert np.array_equal(r.image[outside_box], cup_on_cat.image[outside_box])
    # What was run is recorded, and the sidecar can hold it.
    assert r.params["source_used"] == "onnx" and r.stats["source"] == "onnx"
    assert r.params["working_size"][0] == 384 or r.params["working_size"][1] == 384
    for key in ("seconds_predict", "seconds_transform"):
        assert r.stats[key] > 0
    assert {k: r.params[k] for k in ("source", "strength", "context", "dilate", "feather", "seed", "style")} == {
        "source": "onnx", "strength": 1.0, "context": 0.25, "dilate": 12, "feather": 6.0, "seed": 0, "style": None}
    json.dumps({"params": r.params, "stats": r.stats})


def test_styles_differ_and_runs_are_deterministic(cup_on_cat, onnx_result):
    h = MagentaHarmonizer()
    core = cup_on_cat.mask >= 0.5
    a1 = h.harmonize(cup_on_cat, MagentaSettings(source="onnx", style=COFFEE)).image
    a2 = h.harmonize(cup_on_cat, MagentaSettings(source="onnx", style=COFFEE)).image
    b = h.harmonize(cup_on_cat, MagentaSettings(source="onnx", style=ASTRONAUT)).image
    assert np.array_equal(a1, a2)  # same style twice: the same pixels
    assert mean_abs(a1, b, core) > 8, mean_abs(a1, b, core)  # another style: clearly another result
    assert mean_abs(onnx_result.image, b, core) > 8  # the composite as style is a third one


def test_strength_interpolates_the_style(cup_on_cat):
    """Strength 0 re-renders the region with its own bottleneck (so it keeps its own colours,
    though the network still repaints its texture); 1 takes the style's. The object's
    colour moves monotonically with strength, and much less at 0 than at 1."""
    h = MagentaHarmonizer()
    core = cup_on_cat.mask >= 0.5
    shifts = [colour_shift(h.harmonize(cup_on_cat, MagentaSettings(source="onnx", style=ASTRONAUT, strength=s)).image,
                          cup_on_cat.image, core) for s in (0.0, 0.5, 1.0)]
    assert shifts[0] < shifts[1] < shifts[2], shifts
    assert shifts[0] < 0.5 * shifts[2], shifts


def test_full_resolution_detail_survives(cup):
    """A region larger than 384 px: only the change is upsampled, so the object keeps its
    fine detail (high-frequency structure correlates with the input's)."""
    big = paste(resize(read_rgb(SAMPLES / "chelsea.png"), (902, 600)), [Placement(cup, 450, 300, 0.8)])
    r = MagentaHarmonizer().harmonize(big, MagentaSettings(source="onnx"))
    x, y, w, h = r.params["region_box"]
    assert max(w, h) > 384
    core = big.mask >= 0.5

    def lap(img):
        return cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[core]

    assert np.corrcoef(lap(r.image), lap(big.image))[0, 1] > 0.6
    assert mean_abs(r.image, big.image, core) > 10


def test_region_at_the_image_border_and_a_thin_object():
    """An object touching the image corner, and one a single pixel tall: no crash, shape kept."""
    img = resize(read_rgb(SAMPLES / "astronaut.png"), (160, 120))
    for box in ((0, 0, 50, 40), (20, 60, 100, 1)):
        x, y, w, h = box
        mask = np.zeros(img.shape[:2], np.float32)
        mask[y:y + h, x:x + w] = 1.0
        r = MagentaHarmonizer().harmonize(Composite(image=img, mask=mask), MagentaSettings(source="onnx", context=0))
        assert r.image.shape == img.shape
        assert r.stats["changed_pixels"] > 0


@pytest.mark.parametrize("h, w", [(300, 451), (451, 300), (383, 289), (1, 640), (640, 1), (7, 9), (384, 384)])
def test_network_size_keeps_the_aspect_and_pads_to_multiples_of_four(h, w):
    image = np.random.default_rng(h * w).integers(0, 256, (h, w, 3)).astype(np.float32)
    out, (top, left, nh, nw) = magenta_onnx.to_network_size(image, 384)
    assert (nw, nh) == (round(w * 384 / max(w, h)) or 1, round(h * 384 / max(w, h)) or 1)
    assert out.shape[0] % 4 == 0 and out.shape[1] % 4 == 0 and min(out.shape[:2]) >= magenta_onnx.ONNX_MIN_SIDE
    assert out.shape[0] - nh < max(4, magenta_onnx.ONNX_MIN_SIDE) and out.shape[1] - nw < max(4, magenta_onnx.ONNX_MIN_SIDE)
    assert np.array_equal(out[top:top + nh, left:left + nw], resize(image, (nw, nh)))


def test_free_size_transform_is_the_same_network():
    """The session built with a free image size computes what the file's own 384x384
    session does on a 384x384 input, and takes other sizes, returning their size."""
    from compositor import models

    path = models.locate(magenta_onnx.TRANSFORM_MODEL)
    fixed = magenta_onnx.onnx_session(path)
    free = magenta_onnx.onnx_session(path, free_size=True)
    assert free is not fixed
    names = [i.name for i in fixed.get_inputs()]
    content_name = next(n for n in names if "content" in n)
    bottleneck_name = next(n for n in names if n != content_name)
    rng = np.random.default_rng(0)
    bottleneck = rng.normal(0, 1, (1, 1, 1, 100)).astype(np.float32)
    square = rng.random((1, 384, 384, 3), np.float32)
    a = fixed.run(None, {content_name: square, bottleneck_name: bottleneck})[0]
    b = free.run(None, {content_name: square, bottleneck_name: bottleneck})[0]
    assert np.array_equal(a, b)
    wide = rng.random((1, 288, 384, 3), np.float32)
    assert free.run(None, {content_name: wide, bottleneck_name: bottleneck})[0].shape == (1, 288, 384, 3)
    with pytest.raises(Exception):  # the file's own session still insists on 384x384
        fixed.run(None, {content_name: wide, bottleneck_name: bottleneck})


def test_onnx_runs_at_the_region_aspect(cup_on_cat, onnx_result):
    """The transform sees the region at its aspect ratio (the cup's is 384x365), padded
    only to multiples of 4, not to a 384x384 square."""
    x, y, w, h = onnx_result.params["region_box"]
    ww, wh = onnx_result.params["working_size"]
    assert max(ww, wh) == 384 and abs(ww / wh - w / h) < 0.02
    nw, nh = onnx_result.params["network_input"]
    assert nw % 4 == 0 and nh % 4 == 0 and 0 <= nw - ww < 4 and 0 <= nh - wh < 4


# ---------------------------------------------------------------------------------------
# the hub path with a tiny SavedModel that has Magenta's call signature


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory) -> Path:
    """A SavedModel called as module(content [1,H,W,3], style [1,256,256,3]) -> [content x
    the style's mean colour], like Magenta's hub model's list of one image."""
    import tensorflow as tf

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32),
                                      tf.TensorSpec([1, 256, 256, 3], tf.float32)])
        def __call__(self, content, style):
            return [content * tf.reduce_mean(style, axis=[1, 2], keepdims=True)]

    path = tmp_path_factory.mktemp("tiny_hub") / "model"
    tf.saved_model.save(Tiny(), str(path))
    return path


def tiny_expected(cup_on_cat: Composite, style_image: np.ndarray, settings: MagentaSettings) -> np.ndarray:
    """What the wiring must produce with the tiny model at full resolution (hub_size=0)."""
    colour = style_input(style_image).reshape(-1, 3).mean(0)
    img = cup_on_cat.image.astype(np.float32)
    stylized = np.clip(img / 255.0 * colour, 0, 1) * 255.0
    w = blend_weight(cup_on_cat.mask, settings.dilate, settings.feather)[..., None] * settings.strength
    return img + w * (stylized - img)


def test_hub_source_runs_the_saved_model(cup_on_cat, tiny_hub):
    s = MagentaSettings(source="hub", handle=str(tiny_hub), style=COFFEE, hub_size=0)
    r = MagentaHarmonizer().harmonize(cup_on_cat, s)
    want = tiny_expected(cup_on_cat, read_rgb(COFFEE), s)
    assert np.abs(r.image.astype(np.float32) - want).max() <= 1.0
    assert r.params["source_used"] == "hub" and r.stats["source"] == "hub"
    assert mean_abs(r.image, cup_on_cat.image, cup_on_cat.mask >= 0.5) > 10  # the tiny model really changed it

    # Strength blends the hub output with the input.
    half = MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="hub", handle=str(tiny_hub), style=COFFEE,
                                                               hub_size=0, strength=0.5))
    want_half = tiny_expected(cup_on_cat, read_rgb(COFFEE), MagentaSettings(hub_size=0, strength=0.5))
    assert np.abs(half.image.astype(np.float32) - want_half).max() <= 1.0

    # At the default working size (384 px long side) only the upsampled change differs.
    small = MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="hub", handle=str(tiny_hub), style=COFFEE))
    assert small.params["working_size"] == [384, 365]
    assert mean_abs(small.image, want, cup_on_cat.mask >= 0.5) < 4


def test_auto_picks_a_local_hub_folder(cup_on_cat, tiny_hub):
    r = MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(handle=str(tiny_hub), hub_size=0))
    assert r.params["source_used"] == "hub"
    assert "local folder" in r.stats["source_reason"]
    want = tiny_expected(cup_on_cat, cup_on_cat.image, MagentaSettings(hub_size=0))
    assert np.abs(r.image.astype(np.float32) - want).max() <= 1.0


def test_auto_picks_a_cached_url_handle(cup_on_cat, tiny_hub, tmp_path, monkeypatch):
    """A URL handle already in TF Hub's cache folder is used (loaded from the cache, offline)."""
    import shutil

    from tensorflow_hub import compressed_module_resolver

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    folder = tmp_path / hashlib.sha1(DEFAULT_HANDLE.encode()).hexdigest()
    assert magenta_hub.hub_module_dir(DEFAULT_HANDLE) == str(folder) == compressed_module_resolver._module_dir(DEFAULT_HANDLE)
    assert magenta.choose_source(MagentaSettings())[0] == "onnx"  # not cached yet
    shutil.copytree(tiny_hub, folder)
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("the network was used"))
    r = MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(hub_size=0))
    assert r.params["source_used"] == "hub" and "cache" in r.stats["source_reason"]
    want = tiny_expected(cup_on_cat, cup_on_cat.image, MagentaSettings(hub_size=0))
    assert np.abs(r.image.astype(np.float32) - want).max() <= 1.0


def test_auto_with_an_uncached_url_uses_onnx_offline(cup_on_cat, monkeypatch):
    def no_hub(handle):
        raise AssertionError("the hub model must not be loaded")

    monkeypatch.setattr(magenta_hub, "hub_module", no_hub)
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("the network was used"))
    r = MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings())
    assert r.params["source_used"] == "onnx" and r.params["handle"] == DEFAULT_HANDLE
    assert "not in the TF Hub cache" in r.stats["source_reason"]


def test_hub_source_with_a_missing_folder(cup_on_cat, tmp_path):
    with pytest.raises(CompositorError, match="no such SavedModel folder"):
        MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="hub", handle=str(tmp_path / "nope")))
    # auto falls back to onnx for a handle that is neither a URL nor a folder
    assert magenta.choose_source(MagentaSettings(handle=str(tmp_path / "nope")))[0] == "onnx"


# ---------------------------------------------------------------------------------------
# errors and the CLI


def test_missing_weights_name_the_fetch_command(cup_on_cat, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelMissingError, match="compositor models fetch magenta-predict-onnx"):
        MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="onnx"))


@pytest.mark.parametrize("values", [
    {"source": "cloud"}, {"strength": "1.5"}, {"strength": "nan"}, {"context": "-0.1"}, {"hub_size": "8"},
    {"hub_size": "2.5"}, {"dilate": "-1"}, {"feather": "inf"}, {"handle": ""}, {"colour": "1"},
])
def test_bad_settings_are_usage_errors(values):
    with pytest.raises(UsageError):
        plugins.make_settings(MagentaHarmonizer, values)


def test_empty_mask_is_a_usage_error(cup_on_cat):
    with pytest.raises(UsageError, match="mask is empty"):
        MagentaHarmonizer().harmonize(Composite(image=cup_on_cat.image, mask=np.zeros_like(cup_on_cat.mask)),
                                      MagentaSettings(source="onnx"))


def test_missing_style_file_is_named(cup_on_cat, tmp_path):
    missing = tmp_path / "no_such_style.png"
    with pytest.raises(CompositorError, match="no_such_style.png"):
        MagentaHarmonizer().harmonize(cup_on_cat, MagentaSettings(source="onnx", style=str(missing)))


def test_cli_harmonize_magenta(cup_on_cat, tmp_path, capsys):
    comp_png, mask_png, out_png = tmp_path / "comp.png", tmp_path / "mask.png", tmp_path / "out.png"
    write_image(comp_png, cup_on_cat.image)
    write_mask(mask_png, cup_on_cat.mask)
    code = main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "magenta", "-o", str(out_png), "-q"])
    assert code == 0, capsys.readouterr().err
    out = read_rgb(out_png)
    assert out.shape == cup_on_cat.image.shape and not np.array_equal(out, cup_on_cat.image)
    sidecar = json.loads(out_png.with_suffix(".json").read_text())
    assert sidecar["backend"] == "magenta" and sidecar["settings"]["source_used"] == "onnx"

    # With the progress bar on, and a missing --style file: exit 1 naming the file.
    capsys.readouterr()
    assert main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "magenta",
                 "--style", str(tmp_path / "gone.png"), "-o", str(tmp_path / "o2.png")]) == 1
    assert "gone.png" in capsys.readouterr().err
    assert main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "magenta",
                 "--strength", "0.5", "--source", "onnx", "-o", str(tmp_path / "o3.png")]) == 0
    assert main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "magenta",
                 "--strength", "2", "-o", str(tmp_path / "o4.png"), "-q"]) == 2


def test_cli_help_lists_the_settings(capsys):
    with pytest.raises(SystemExit) as info:
        main(["harmonize", "--backend", "magenta", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for field, *_ in plugins.describe(MagentaSettings):
        assert "--" + field.replace("_", "-") in text
