"""The harmonization benchmark: seeded cases, the iHarmony4 layout, scores and the CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from compositor import bench
from compositor.cli import main
from compositor.errors import UsageError
from compositor.imageio import write_image, write_mask

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture()
def small_set(tmp_path) -> Path:
    """Two photos with hand-made masks, in the built-in set's format."""
    (tmp_path / "masks").mkdir()
    shutil.copy(SAMPLES / "masks" / "coffee_cup.png", tmp_path / "masks" / "coffee_cup.png")
    shutil.copy(SAMPLES / "masks" / "chelsea_cat.png", tmp_path / "masks" / "chelsea_cat.png")
    (tmp_path / "cases.json").write_text(json.dumps({"cases": [
        {"name": "coffee_cup", "image": "skimage:coffee.png", "mask": "masks/coffee_cup.png"},
        {"name": "chelsea_cat", "image": "skimage:chelsea.png", "mask": "masks/chelsea_cat.png"}]}))
    return tmp_path


def test_cases_are_seeded_and_local(small_set):
    a = bench.builtin_cases(root=small_set, seed=3, per_case=1, max_side=200)
    b = bench.builtin_cases(root=small_set, seed=3, per_case=1, max_side=200)
    c = bench.builtin_cases(root=small_set, seed=4, per_case=1, max_side=200)
    assert [x.family for x in a] == ["transfer", "transfer", "camera", "camera"]
    for x, y in zip(a, b):
        assert np.array_equal(x.composite.image, y.composite.image) and x.params == y.params
    assert any(not np.array_equal(x.composite.image, z.composite.image) for x, z in zip(a, c))
    for case in a:
        outside = case.composite.mask == 0
        assert np.array_equal(case.composite.image[outside], case.truth[outside]), "only the object is perturbed"
        inside = case.composite.mask > 0.5
        assert np.abs(case.composite.image[inside].astype(int) - case.truth[inside]).mean() > 3


def test_camera_identity_changes_nothing():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = bench.apply_camera(img, {"exposure": 1.0, "gamma": 1.0, "wb": [1.0, 1.0, 1.0]})
    assert np.abs(out - img).max() < 0.51


def test_transfer_moves_lab_statistics_to_the_reference():
    rng = np.random.default_rng(1)
    img = rng.integers(40, 200, (40, 40, 3), dtype=np.uint8)
    ref = np.zeros_like(img)
    ref[..., 0] = 200
    ref[..., 1:] = rng.integers(20, 60, (40, 40, 2))
    mask = np.ones((40, 40), np.float32)
    out = np.clip(bench.apply_transfer(img, mask, ref, mask) + 0.5, 0, 255).astype(np.uint8)
    from compositor.ops.colour import lab

    assert np.allclose(lab(out).reshape(-1, 3).mean(0), lab(ref).reshape(-1, 3).mean(0), atol=2.0)


def test_run_scores_none_as_the_baseline(small_set):
    cases = bench.builtin_cases(root=small_set, per_case=1, max_side=160)
    rows = bench.run(cases, ["none", "reinhard"])
    summary = bench.summarize(rows)
    none = [e for e in summary if e["backend"] == "none"]
    assert all(e["fmse_vs_none"] == 1.0 and e["fmse"] > 0 for e in none)
    for r in rows:
        assert r["ok"] and r["bmse"] >= 0 and 0 < r["ssim"] <= 1
    assert "| transfer | reinhard |" in bench.table(summary)


def _iharmony_folder(root: Path, cases) -> Path:
    folder = root / "HTest"
    for sub in ("composite_images", "masks", "real_images"):
        (folder / sub).mkdir(parents=True)
    for i, case in enumerate(cases):
        write_image(folder / "composite_images" / f"c{i}_1_1.png", case.composite.image)
        write_mask(folder / "masks" / f"c{i}_1.png", case.composite.mask)
        write_image(folder / "real_images" / f"c{i}.png", case.truth)
    return folder


def test_cases_dir_in_iharmony4_layout(small_set, tmp_path):
    cases = bench.builtin_cases(root=small_set, per_case=1, max_side=160, families=["camera"])
    folder = _iharmony_folder(tmp_path, cases)
    loaded = bench.load_cases_dir(folder)
    assert [c.name for c in loaded] == ["c0_1_1", "c1_1_1"]
    assert all(c.family == "HTest" for c in loaded)
    assert np.array_equal(loaded[0].truth, cases[0].truth)


def test_exception_not_iharmony4_layout(tmp_path):
    with pytest.raises(UsageError, match="iHarmony4's layout"):
        bench.load_cases_dir(tmp_path)


def test_cli_bench_on_a_cases_folder(small_set, tmp_path, capsys):
    cases = bench.builtin_cases(root=small_set, per_case=1, max_side=160, families=["transfer"])
    folder = _iharmony_folder(tmp_path, cases)
    out = tmp_path / "bench.json"
    code = main(["bench", "--cases", str(folder), "--backends", "reinhard,poisson", "--json", str(out), "-q", "-v"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| HTest | none |" in printed and "| HTest | poisson |" in printed
    data = json.loads(out.read_text())
    assert data["backends"][0] == "none" and len(data["rows"]) == 6
    assert data["match"] == []  # no finishing stage


def test_cli_bench_records_the_finishing_stage_in_its_json(small_set, tmp_path, capsys):
    cases = bench.builtin_cases(root=small_set, per_case=1, max_side=160, families=["transfer"])
    folder = _iharmony_folder(tmp_path, cases)
    out = tmp_path / "bench.json"
    code = main(["bench", "--cases", str(folder), "--backends", "none", "--match", "noise,blur", "--json", str(out), "-q"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["match"] == ["blur", "noise"]  # the stage's order; a report that omits it reads as colour alone


def test_size_resizes_to_a_square_and_subsets_get_rows(small_set, tmp_path, capsys):
    """--size N: composite, mask and real photo at N x N, the mask binary (thresholded at 128);
    composites named a…/f… (HAdobe5k, HFlickr) are also summarised per subset."""
    cases = bench.builtin_cases(root=small_set, per_case=1, max_side=160, families=["camera"])
    folder = _iharmony_folder(tmp_path, cases)
    for sub, suffix in (("composite_images", "_1_1.png"), ("masks", "_1.png"), ("real_images", ".png")):
        (folder / sub / f"c0{suffix}").rename(folder / sub / f"a0{suffix}")
        (folder / sub / f"c1{suffix}").rename(folder / sub / f"f1{suffix}")
    loaded = bench.load_cases_dir(folder, size=64)
    assert [c.subset for c in loaded] == ["HAdobe5k", "HFlickr"]
    for case in loaded:
        assert case.composite.image.shape == case.truth.shape == (64, 64, 3)
        assert set(np.unique(case.composite.mask)) <= {0.0, 1.0}
    assert main(["bench", "--cases", str(folder), "--size", "64", "--backends", "reinhard", "-q"]) == 0
    printed = capsys.readouterr().out
    for family in ("HTest", "HTest/HAdobe5k", "HTest/HFlickr"):
        assert f"| {family} | none | " in printed and f"| {family} | reinhard | " in printed
    with pytest.raises(UsageError, match="--size must be at least"):
        bench.load_cases_dir(folder, size=8)
    assert main(["bench", "--size", "64", "--backends", "reinhard", "-q"]) == 2, "--size needs --cases"
