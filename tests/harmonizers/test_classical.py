"""The classical harmonizers (none, poisson, reinhard) on real photos from samples/."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from compositor import api, plugins
from compositor.cli import main
from compositor.errors import UsageError
from compositor.harmonizers.none import NoneHarmonizer
from compositor.harmonizers.poisson import PoissonHarmonizer, PoissonSettings
from compositor.harmonizers.reinhard import ReinhardHarmonizer, ReinhardSettings
from compositor.ops.poisson import fill
from compositor.imageio import read_rgb, write_image, write_mask
from compositor.paste import Placement, paste
from compositor.types import Composite


# ---------------------------------------------------------------------------------------
# fixtures and measures


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def grow(region: np.ndarray, px: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(region.astype(np.uint8), k).astype(bool)


def shrink(region: np.ndarray, px: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(region.astype(np.uint8), k, borderType=cv2.BORDER_REPLICATE).astype(bool)


def stats_distance(image: np.ndarray, mask: np.ndarray, ring_px: int) -> float:
    """Distance between the object's Lab mean/std and the background ring's."""
    region = mask > 0
    ring = grow(region, ring_px) & ~region
    L = lab(image).astype(np.float64)
    obj, bg = L[mask >= 0.5], L[ring]
    return float(np.sqrt(((obj.mean(0) - bg.mean(0)) ** 2).sum() + ((obj.std(0) - bg.std(0)) ** 2).sum()))


def seam_gap(image: np.ndarray, mask: np.ndarray, band: int = 3) -> float:
    """Colour gap across the mask boundary: Lab mean of a band just inside vs just outside."""
    region = mask > 0
    inner = region & ~shrink(region, band)
    outer = grow(region, band) & ~region
    L = lab(image)
    return float(np.linalg.norm(L[inner].mean(0) - L[outer].mean(0)))


def laplacian_corr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    la = cv2.Laplacian(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[where]
    lb = cv2.Laplacian(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[where]
    return float(np.corrcoef(la, lb)[0, 1])


# ---------------------------------------------------------------------------------------
# none


def test_none_returns_identical_pixels(cup_on_cat):
    result = NoneHarmonizer().harmonize(cup_on_cat)
    assert result.backend == "none"
    assert result.image.dtype == np.uint8 and result.image.shape == cup_on_cat.image.shape
    assert np.array_equal(result.image, cup_on_cat.image)
    assert result.image is not cup_on_cat.image  # a copy: the caller's composite is never aliased
    assert result.params == {}


# ---------------------------------------------------------------------------------------
# reinhard


def test_reinhard_moves_object_statistics_to_the_ring(cup_on_cat):
    full = ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(strength=1.0))
    ring_px = full.stats["ring_px"]
    x, y, w, h = cv2.boundingRect((cup_on_cat.mask > 0).astype(np.uint8))
    assert ring_px == max(3, round(0.15 * math.hypot(w, h)))  # the default ring scales with the object
    d0 = stats_distance(cup_on_cat.image, cup_on_cat.mask, ring_px)
    d1 = stats_distance(full.image, cup_on_cat.mask, ring_px)
    assert d0 > 15  # the red cup on the cat is a real mismatch
    assert d1 < 0.15 * d0, (d0, d1)

    half = ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(strength=0.5))
    d_half = stats_distance(half.image, cup_on_cat.mask, ring_px)
    assert 0.4 * d0 < d_half < 0.6 * d0, (d0, d_half)

    # Only the object (mask > 0) changes; the background, ring included, is untouched.
    outside = cup_on_cat.mask == 0
    for result in (full, half):
        assert np.array_equal(result.image[outside], cup_on_cat.image[outside])
        assert result.backend == "reinhard" and result.image.shape == cup_on_cat.image.shape
    assert full.params == {"strength": 1.0, "ring": 0, "preserve_luminance": False}
    json.dumps(full.stats)  # the sidecar can hold it


def test_reinhard_strength_zero_keeps_the_object(cup_on_cat):
    result = ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(strength=0.0))
    diff = np.abs(result.image.astype(int) - cup_on_cat.image)
    assert diff.max() <= 2  # the Lab round trip only


def test_reinhard_preserve_luminance_keeps_lightness(cup_on_cat):
    result = ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(preserve_luminance=True))
    obj = cup_on_cat.mask >= 0.5
    before, after = lab(cup_on_cat.image)[obj], lab(result.image)[obj]
    assert abs(after[:, 0].mean() - before[:, 0].mean()) < 1.5
    ring_ab = np.array(result.stats["background_mean_lab"][1:])
    assert np.linalg.norm(after[:, 1:].mean(0) - ring_ab) < 0.25 * np.linalg.norm(before[:, 1:].mean(0) - ring_ab)


def test_reinhard_ring_width_setting(cup_on_cat):
    result = ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(ring=4))
    assert result.stats["ring_px"] == 4
    region = cup_on_cat.mask > 0
    assert result.stats["ring_pixels"] == int((grow(region, 4) & ~region).sum())


def test_reinhard_soft_edge_blends(cup_on_cat):
    result = ReinhardHarmonizer().harmonize(cup_on_cat)
    edge = (cup_on_cat.mask > 0.2) & (cup_on_cat.mask < 0.8)
    core = cup_on_cat.mask >= 0.999
    assert edge.sum() > 20
    change = np.abs(result.image.astype(int) - cup_on_cat.image).sum(2)
    assert change[edge].mean() < change[core].mean()


# ---------------------------------------------------------------------------------------
# poisson

H, W = 300, 451  # chelsea.png
PLACES = {
    "centre": (W / 2, H / 2),
    "left": (0, H / 2), "right": (W - 1, H / 2), "top": (W / 2, 0), "bottom": (W / 2, H - 1),
    "top-left": (0, 0), "top-right": (W - 1, 0), "bottom-left": (0, H - 1), "bottom-right": (W - 1, H - 1),
}


def touches(region: np.ndarray) -> set[str]:
    out = set()
    if region[:, 0].any():
        out.add("left")
    if region[:, -1].any():
        out.add("right")
    if region[0].any():
        out.add("top")
    if region[-1].any():
        out.add("bottom")
    return out


@pytest.mark.parametrize("solver", ["dst", "opencv"])
@pytest.mark.parametrize("mode", ["normal", "mixed"])
@pytest.mark.parametrize("place", list(PLACES))
def test_poisson_object_at_borders_and_corners(chelsea, cup, place, mode, solver):
    x, y = PLACES[place]
    comp = paste(chelsea, [Placement(cup, x, y, 0.4)])
    region = comp.mask > 0
    expected = set() if place == "centre" else set(place.split("-"))
    assert touches(region) == expected  # the case is what its name says

    settings = PoissonSettings(mode=mode, solver=solver)
    result = PoissonHarmonizer().harmonize(comp, settings)
    assert result.backend == "poisson"
    assert result.image.shape == comp.image.shape and result.image.dtype == np.uint8
    # Far from the object nothing changes (dilate + 4 x feather is the blend's reach).
    reach = settings.dilate + math.ceil(4 * settings.feather) + 1
    far = ~grow(region, reach)
    assert np.array_equal(result.image[far], comp.image[far])
    # The object changed, and its colours met the surroundings at the seam.
    assert np.abs(result.image.astype(int) - comp.image)[region].mean() > 5
    before, after = seam_gap(comp.image, comp.mask), seam_gap(result.image, comp.mask)
    assert after < 0.5 * before, (before, after)
    # The object's texture stays where it was (seamlessClone's ROI placement is exact).
    inner = shrink(comp.mask >= 0.999, 5)
    assert laplacian_corr(result.image, comp.image, inner) > 0.8
    assert laplacian_corr(np.roll(result.image, 1, axis=1), comp.image, inner) < laplacian_corr(
        result.image, comp.image, inner)
    # Deterministic.
    again = PoissonHarmonizer().harmonize(comp, settings)
    assert np.array_equal(again.image, result.image)
    assert result.params == {"mode": mode, "dilate": 5, "feather": 2.0, "solver": solver}
    json.dumps(result.stats)


def test_poisson_solvers_agree(chelsea, cup):
    """SciPy's sine-transform solve and cv2.seamlessClone solve the same equations (normal
    mode): on the same composite their results differ by about a level inside the object."""
    for x, y, scale in ((200, 150, 0.4), (300, 100, 0.23), (5, 5, 0.4)):
        comp = paste(chelsea, [Placement(cup, x, y, scale)])
        region = comp.mask > 0
        ours = PoissonHarmonizer().harmonize(comp, PoissonSettings(solver="dst")).image.astype(int)
        theirs = PoissonHarmonizer().harmonize(comp, PoissonSettings(solver="opencv")).image.astype(int)
        diff = np.abs(ours - theirs)[region]
        change = np.abs(theirs - comp.image)[region].mean()
        assert diff.mean() < 2.5 and np.percentile(diff, 99) <= 12, (x, y, diff.mean(), np.percentile(diff, 99))
        assert diff.mean() < 0.1 * change  # far below what cloning itself changes


def test_poisson_clone_keeps_gradients_and_the_boundary():
    """The solve itself: a source with the destination's gradients plus an offset gives the
    destination back; a flat source inside a flat frame gives the frame's value."""
    from compositor.ops.poisson import _fast_dst_length, poisson_clone

    rng = np.random.default_rng(1)
    dest = cv2.GaussianBlur(rng.integers(0, 200, (90, 120, 3)).astype(np.float32), (0, 0), 3).astype(np.uint8)
    mask = np.zeros((90, 120), bool)
    mask[20:61, 30:97] = True
    for mode in ("normal", "mixed"):
        out = poisson_clone(np.clip(dest.astype(int) + 40, 0, 255).astype(np.uint8), dest, mask, mode)
        assert out.dtype == np.uint8 and out.shape == dest.shape
        assert np.abs(out.astype(int) - dest).max() <= 1
    flat = poisson_clone(np.full((90, 120, 3), 200, np.uint8), np.full((90, 120, 3), 50, np.uint8), mask)
    assert np.abs(flat.astype(int) - 50).max() <= 1
    edge = np.zeros((90, 120), bool)
    edge[0, 10:50] = True  # only on the frame: nothing inside to solve for
    for m in (edge, np.zeros((90, 120), bool)):
        assert np.array_equal(poisson_clone(dest, dest[::-1].copy(), m), dest[::-1])
    for n in (1, 37, 198, 199, 500, 1021):
        m = _fast_dst_length(n)
        k = 2 * (m + 1)
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        assert m >= n and k == 1 and m - n <= max(8, n // 8)


def test_poisson_object_spanning_the_whole_width(chelsea):
    """A band touching the left and right borders at once (padded on both sides)."""
    image = chelsea.copy()
    mask = np.zeros(image.shape[:2], np.float32)
    mask[120:180] = 1.0
    image[120:180] = np.clip(image[120:180].astype(int) + [60, -30, -30], 0, 255).astype(np.uint8)
    comp = Composite(image=image, mask=mask)
    result = PoissonHarmonizer().harmonize(comp)
    assert result.image.shape == image.shape
    assert seam_gap(result.image, mask) < 0.5 * seam_gap(image, mask)
    far = ~grow(mask > 0, 20)
    assert np.array_equal(result.image[far], image[far])


@pytest.mark.parametrize("size", [1, 2, 5])
def test_poisson_tiny_object(chelsea, size):
    mask = np.zeros(chelsea.shape[:2], np.float32)
    mask[0:size, 0:size] = 1.0  # in the corner, too
    result = PoissonHarmonizer().harmonize(Composite(image=chelsea, mask=mask))
    assert result.image.shape == chelsea.shape


def test_poisson_dilate_zero_and_no_feather(cup_on_cat):
    result = PoissonHarmonizer().harmonize(cup_on_cat, PoissonSettings(dilate=0, feather=0.0))
    region = cup_on_cat.mask > 0
    assert np.array_equal(result.image[~region], cup_on_cat.image[~region])
    assert seam_gap(result.image, cup_on_cat.mask) < seam_gap(cup_on_cat.image, cup_on_cat.mask)


def test_fill_keeps_known_pixels_and_fills_smoothly(chelsea):
    known = np.ones(chelsea.shape[:2], bool)
    known[100:200, 150:300] = False
    out = fill(chelsea.astype(np.float32), known)
    assert np.array_equal(out[known], chelsea.astype(np.float32)[known])
    hole = out[100:200, 150:300]
    ring = chelsea[95:205, 145:305].reshape(-1, 3).astype(np.float32)
    assert np.all(hole.min((0, 1)) >= ring.min(0) - 1) and np.all(hole.max((0, 1)) <= ring.max(0) + 1)


# ---------------------------------------------------------------------------------------
# settings, errors, registry, API, CLI


@pytest.mark.parametrize("backend, values, echoed", [
    ("poisson", {"mode": "blend"}, "'blend'"),
    ("poisson", {"solver": "fast"}, "'fast'"),
    ("poisson", {"dilate": "-1"}, "-1"),
    ("poisson", {"dilate": 2.5}, "2.5"),
    ("poisson", {"dilate": "many"}, "'many'"),
    ("poisson", {"feather": "nan"}, "nan"),
    ("poisson", {"feather": 1000}, "1000"),
    ("reinhard", {"strength": "1.5"}, "1.5"),
    ("reinhard", {"strength": -0.1}, "-0.1"),
    ("reinhard", {"strength": float("nan")}, "nan"),
    ("reinhard", {"ring": -3}, "-3"),
    ("reinhard", {"preserve_luminance": "maybe"}, "'maybe'"),
    ("reinhard", {"colour": 1}, "'colour'"),
    ("none", {"strength": 1}, "'strength'"),
])
def test_bad_settings_raise_usage_error(backend, values, echoed):
    cls = plugins.load("harmonizer", backend)
    with pytest.raises(UsageError) as info:
        plugins.make_settings(cls, values)
    message = str(info.value)
    assert echoed in message and message.endswith(".") and "\n" not in message


def test_settings_validated_when_harmonizing_directly(cup_on_cat):
    with pytest.raises(UsageError, match="mode must be one of normal, mixed; received 'seamless'"):
        PoissonHarmonizer().harmonize(cup_on_cat, PoissonSettings(mode="seamless"))
    with pytest.raises(UsageError, match="received 2"):
        ReinhardHarmonizer().harmonize(cup_on_cat, ReinhardSettings(strength=2.0))


@pytest.mark.parametrize("backend", ["poisson", "reinhard"])
@pytest.mark.parametrize("fill_value", [0.0, 1.0])
def test_empty_or_full_mask_is_a_usage_error(chelsea, backend, fill_value):
    comp = Composite(image=chelsea, mask=np.full(chelsea.shape[:2], fill_value, np.float32))
    with pytest.raises(UsageError, match="empty" if fill_value == 0 else "whole image"):
        plugins.load("harmonizer", backend)().harmonize(comp)


def test_registry_lists_and_loads_the_classical_backends():
    assert {"none", "poisson", "reinhard"} <= set(plugins.names("harmonizer"))
    assert plugins.load("harmonizer", "poisson") is PoissonHarmonizer
    assert plugins.load("harmonizer", "reinhard") is ReinhardHarmonizer
    assert plugins.load("harmonizer", "none") is NoneHarmonizer
    for name in ("none", "poisson", "reinhard"):
        cls = plugins.load("harmonizer", name)
        assert cls.name == name
        for field, default, help_text, choices in plugins.describe(cls.Settings):
            assert help_text  # every setting is documented for the CLI


def test_python_api(cup_on_cat):
    result = api.harmonize(cup_on_cat, backend="reinhard", strength=0.5)
    assert result.backend == "reinhard" and result.params["strength"] == 0.5
    assert not np.array_equal(result.image, cup_on_cat.image)
    none = api.harmonize(cup_on_cat, backend="none")
    assert np.array_equal(none.image, cup_on_cat.image)
    poisson = api.harmonize(cup_on_cat, backend="poisson", mode="mixed", dilate="3")
    assert poisson.params["mode"] == "mixed" and poisson.params["dilate"] == 3


def test_top_level_harmonize_function(cup_on_cat):
    import compositor.harmonizers.reinhard  # noqa: F401  (importing the subpackage must not shadow the function)

    result = compositor.harmonize(cup_on_cat, backend="reinhard", strength=0.5)
    assert result.backend == "reinhard" and result.params["strength"] == 0.5


def test_cli_harmonize_poisson(cup_on_cat, tmp_path, capsys):
    comp_png, mask_png, out_png = tmp_path / "comp.png", tmp_path / "mask.png", tmp_path / "out.png"
    write_image(comp_png, cup_on_cat.image)
    write_mask(mask_png, cup_on_cat.mask)
    code = main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "poisson",
                 "-o", str(out_png), "--mode", "mixed", "-q"])
    assert code == 0, capsys.readouterr().err
    out = read_rgb(out_png)
    assert out.shape == cup_on_cat.image.shape and not np.array_equal(out, cup_on_cat.image)
    sidecar = json.loads(out_png.with_suffix(".json").read_text())
    assert sidecar["backend"] == "poisson" and sidecar["settings"]["mode"] == "mixed"


def test_cli_reinhard_flags_and_bad_value(cup_on_cat, tmp_path, capsys):
    comp_png, mask_png = tmp_path / "comp.png", tmp_path / "mask.png"
    write_image(comp_png, cup_on_cat.image)
    write_mask(mask_png, cup_on_cat.mask)
    out_png = tmp_path / "r.png"
    assert main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "reinhard",
                 "--strength", "0.5", "--preserve-luminance", "-o", str(out_png), "-q"]) == 0
    sidecar = json.loads(out_png.with_suffix(".json").read_text())
    assert sidecar["settings"] == {"strength": 0.5, "ring": 0, "preserve_luminance": True}
    capsys.readouterr()
    assert main(["harmonize", str(comp_png), "--mask", str(mask_png), "--backend", "reinhard",
                 "--strength", "3", "-o", str(tmp_path / "bad.png"), "-q"]) == 2
    assert "received 3" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["none", "poisson", "reinhard"])
def test_cli_help_lists_the_backend_settings(backend, capsys):
    with pytest.raises(SystemExit) as info:
        main(["harmonize", "--backend", backend, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for field, *_ in plugins.describe(plugins.load("harmonizer", backend).Settings):
        assert "--" + field.replace("_", "-") in text


def test_classical_backends_do_not_import_tensorflow(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from compositor.api import harmonize\n"
        "from compositor.types import Composite\n"
        "m = np.zeros((40, 50), np.float32); m[10:30, 10:30] = 1\n"
        "c = Composite(image=np.full((40, 50, 3), 90, np.uint8), mask=m)\n"
        "for b in ('none', 'poisson', 'reinhard'):\n"
        "    harmonize(c, backend=b)\n"
        "heavy = [n for n in ('tensorflow', 'keras', 'tensorflow_hub') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=60)


# ---------------------------------------------------------------------------------------
# boundary: the edge gain, then a partial match to the ring


def _camera_shifted(photo):
    """A disc of the photo given a camera's gain and gamma: the truth is known."""
    mask = np.zeros(photo.shape[:2], np.float32)
    cv2.circle(mask, (130, 100), 45, 1.0, -1)
    x = photo.astype(np.float32) / 255.0
    shifted = np.clip(1.3 * x ** np.array([0.8, 1.0, 1.3], np.float32), 0, 1) * 255.0
    image = np.clip(photo * (1 - mask[..., None]) + shifted * mask[..., None] + 0.5, 0, 255).astype(np.uint8)
    return Composite(image=image, mask=mask)


def test_boundary_defaults_are_the_edge_gain_alone(chelsea):
    comp = _camera_shifted(chelsea)
    plain = api.harmonize(comp, "boundary")
    same = api.harmonize(comp, "boundary", histogram=0.0, zones=0.0)
    assert np.array_equal(plain.image, same.image)
    gain = np.asarray(plain.stats["gain"], np.float32)
    inside = comp.mask >= 1
    expected = np.clip(comp.image[inside].astype(np.float32) * gain, 0, 255)
    assert np.abs(plain.image[inside].astype(np.float32) - expected).max() <= 1.0


@pytest.mark.parametrize("histogram, zones", [(0.5, 0.0), (1.0, 0.0), (0.5, 0.5)])
def test_boundary_histogram_and_zones_bring_the_object_closer(histogram, zones):
    """On a texture (a coloured photo of grass), where the object's own colours are like its ring's,
    matching it to the ring restores it better than the gain alone; every pixel outside the object
    is left unchanged."""
    import skimage.data

    from compositor import metrics

    grass = cv2.resize(skimage.data.grass(), (300, 220), interpolation=cv2.INTER_AREA).astype(np.float32)
    photo = np.clip(np.stack([0.8 * grass, 0.95 * grass + 10, 0.5 * grass], -1), 0, 255).astype(np.uint8)
    comp = _camera_shifted(photo)
    gain_only = api.harmonize(comp, "boundary")
    matched = api.harmonize(comp, "boundary", histogram=histogram, zones=zones)
    err = {name: metrics.fmse(r.image, photo, comp.mask) for name, r in (("gain", gain_only), ("match", matched))}
    assert err["match"] < 0.8 * err["gain"], err
    outside = comp.mask == 0
    assert np.array_equal(matched.image[outside], comp.image[outside])
    assert matched.stats["histogram"] == histogram and ("zone_shift_l" in matched.stats) == (zones > 0)
