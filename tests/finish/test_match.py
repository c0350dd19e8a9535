"""The matching steps: each estimator recovers a known degradation within its stated tolerance;
the object is brought toward the truth; identity and the reverse cases are left alone."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from compositor.finish import finish, make_finish_settings
from compositor.finish import jpeg as jpeg_step
from compositor.finish import noise as noise_step
from compositor.finish.base import region
from compositor.metrics import fmse


def _blurred(photo, sigma):
    return np.clip(np.rint(cv2.GaussianBlur(photo.astype(np.float32), (0, 0), sigma)), 0, 255).astype(np.uint8)


def _noisy(photo, sigma, seed=0, signal=False):
    f = photo.astype(np.float32)
    sd = sigma * np.sqrt(np.maximum(f, 1) / 128.0) if signal else sigma
    return np.clip(np.rint(f + np.random.default_rng(seed).standard_normal(f.shape) * sd), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [2.0, 2.5, 3.5])
def test_blur_recovers_the_surroundings_blur(coffee, paste_back, sigma):
    photo, mask = coffee
    truth = _blurred(photo, sigma)
    comp = paste_back(photo, truth, mask)
    out, record = finish(comp, [mask], make_finish_settings({"match": "blur"}))
    est = record["objects"][0]["blur"]["add"]
    assert abs(est / sigma - 1) <= 0.25, f"blur sigma {est} for a true {sigma}"
    assert fmse(out, truth, mask) < 0.25 * fmse(comp, truth, mask)


def test_blur_never_sharpens_and_leaves_a_soft_object(coffee, paste_back):
    photo, mask = coffee
    comp = paste_back(_blurred(photo, 2.5), photo, mask)  # the object softer than its surroundings
    out, record = finish(comp, [mask], make_finish_settings({"match": "blur"}))
    assert record["objects"][0]["blur"]["add"] == 0
    assert out.tobytes() == comp.tobytes()


@pytest.mark.parametrize("quality", [15, 30, 60])
def test_jpeg_quality_read_from_the_pixels_and_the_file(coffee, paste_back, to_jpeg, tmp_path, quality):
    photo, mask = coffee
    truth, data = to_jpeg(photo, quality)
    comp = paste_back(photo, truth, mask)
    out, record = finish(comp, [mask], make_finish_settings({"match": "jpeg"}))
    info = record["objects"][0]["jpeg"]
    assert info["quality"] == quality and info["source"] == "pixels" and info["grid"] == [0, 0]
    assert fmse(out, truth, mask) < 0.3 * fmse(comp, truth, mask)
    path = tmp_path / "bg.jpg"
    path.write_bytes(data)
    tables = jpeg_step.file_tables(path)
    assert tables["quality"] == quality
    out2, record2 = finish(comp, [mask], make_finish_settings({"match": "jpeg"}), background_jpeg=tables)
    assert record2["objects"][0]["jpeg"]["source"] == "file"
    assert fmse(out2, truth, mask) < 0.1 * fmse(comp, truth, mask)


def test_jpeg_tables_of_every_quality(to_jpeg, coffee, tmp_path):
    photo, _ = coffee
    for q in (5, 20, 50, 75, 90, 97):
        path = tmp_path / f"q{q}.jpg"
        path.write_bytes(to_jpeg(photo[:64, :64], q)[1])
        assert jpeg_step.file_tables(path)["quality"] == q
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), photo)
    assert jpeg_step.file_tables(png) is None


@pytest.mark.parametrize("sigma", [4.0, 8.0, 12.0])
def test_noise_estimator_recovers_sigma(cat, sigma):
    photo, mask = cat
    noisy = _noisy(photo, sigma)
    reg = region(mask, mask)
    clean = noise_step.estimate(reg.crop(photo), reg.ring)
    est = noise_step.estimate(reg.crop(noisy), reg.ring)
    got = np.sqrt(np.mean(np.square(est["sigma"])) - np.mean(np.square(clean["sigma"])))
    assert abs(got / sigma - 1) <= 0.2, f"noise sigma {got:.2f} for a true {sigma}"


def test_noise_brings_the_object_to_its_surroundings(cat, paste_back):
    photo, mask = cat
    truth = _noisy(photo, 8.0)
    comp = paste_back(photo, truth, mask)
    out, record = finish(comp, [mask], make_finish_settings({"match": "noise", "seed": 3}))
    added = record["objects"][0]["noise"]["added_sigma"]
    assert all(5.0 <= a <= 10.5 for a in added), added
    resid = (out.astype(float) - photo)[mask >= 0.999]
    assert 6.0 <= resid.std() <= 10.0
    assert (out[mask == 0] == comp[mask == 0]).all(), "noise touched the background"
    again, _ = finish(comp, [mask], make_finish_settings({"match": "noise", "seed": 3}))
    other, _ = finish(comp, [mask], make_finish_settings({"match": "noise", "seed": 4}))
    assert again.tobytes() == out.tobytes() and other.tobytes() != out.tobytes()


@pytest.mark.parametrize("scene", ["coffee", "floor"])
def test_identity_does_nothing(request, scene):
    photo, mask = request.getfixturevalue(scene)
    out, record = finish(photo, [mask], make_finish_settings({"match": "all"}))
    err = fmse(out, photo, mask)
    assert err == 0 or 10 * np.log10(255 ** 2 / err) >= 40, record


@pytest.mark.parametrize("cue", ["blur", "noise", "jpeg"])
def test_reverse_case_leaves_the_object_alone(coffee, paste_back, to_jpeg, cue):
    photo, mask = coffee
    worse = {"blur": lambda: _blurred(photo, 2.5), "noise": lambda: _noisy(photo, 8.0),
             "jpeg": lambda: to_jpeg(photo, 25)[0]}[cue]()
    comp = paste_back(worse, photo, mask)
    out, record = finish(comp, [mask], make_finish_settings({"match": "all"}))
    err = fmse(out, comp, mask)
    assert err == 0 or 10 * np.log10(255 ** 2 / err) >= 40, record


def test_each_object_against_its_own_surroundings(coffee, cat, paste_back):
    """Two small cups on the cat photo, one on each side; the photo's left half blurred: only the
    left cup is blurred."""
    photo, _ = cat
    cup, cmask = coffee
    ys, xs = np.nonzero(cmask >= 0.5)
    small = cv2.resize(cup[ys.min():ys.max() + 1, xs.min():xs.max() + 1], None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    sm = cv2.resize(cmask[ys.min():ys.max() + 1, xs.min():xs.max() + 1], small.shape[1::-1]) >= 0.5
    H, W = photo.shape[:2]
    truth = photo.copy()
    truth[:, : W // 2] = _blurred(photo, 2.5)[:, : W // 2]
    masks, inside = [], np.zeros_like(photo)
    for x in (W // 4 - small.shape[1] // 2, 3 * W // 4 - small.shape[1] // 2):
        m = np.zeros((H, W), np.float32)
        m[20:20 + sm.shape[0], x:x + sm.shape[1]] = sm
        inside[20:20 + sm.shape[0], x:x + sm.shape[1]] = small
        masks.append(m)
    comp = paste_back(inside, truth, masks[0] + masks[1])
    out, record = finish(comp, masks, make_finish_settings({"match": "blur"}))
    adds = [o["blur"]["add"] for o in record["objects"]]
    assert adds[0] > 1.5 and adds[1] == 0, adds
    assert (out[masks[1] > 0] == comp[masks[1] > 0]).all()


def test_noise_threshold_is_the_gamma_percentile():
    from scipy.stats import gamma

    assert noise_step.TAU == pytest.approx(gamma.ppf(0.99, 49 / 2, scale=2.0 * 168 / 49), rel=1e-9)
