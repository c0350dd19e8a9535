"""compositor compare: every backend side by side, a failing backend reported, the page in a real browser."""
from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from compositor.cli import main
from compositor.compare import compare, grid
from compositor.ops.resize import resize
from compositor.imageio import read_rgb, write_image, write_mask
from compositor.types import Composite


@pytest.fixture(scope="module")
def case(chelsea):
    """A real photo with a region recoloured (the object) — the photo itself is the truth."""
    truth = resize(chelsea, (180, 120))
    mask = np.zeros((120, 180), np.float32)
    mask[40:90, 30:90] = 1.0
    shifted = np.clip(truth.astype(np.float32) * [1.25, 0.9, 0.7], 0, 255).astype(np.uint8)
    image = np.where(mask[..., None] > 0, shifted, truth)
    return Composite(image=image, mask=mask), truth


def test_compare_measures_each_backend(case):
    comp, truth = case
    rows = compare(comp, ["none", "reinhard", "poisson"], truth=truth)
    by = {r.backend: r for r in rows}
    assert [r.backend for r in rows] == ["composite", "none", "reinhard", "poisson"]
    assert all(r.ok for r in rows)
    assert by["none"].metrics["fmse"] == pytest.approx(by["composite"].metrics["fmse"])
    assert by["none"].metrics["fmse"] > 100, "the perturbation is visible"
    # Reinhard pulls the object's colour statistics toward the ring around it
    assert by["reinhard"].metrics["color_gap"] < 0.5 * by["none"].metrics["color_gap"]
    assert set(by["poisson"].metrics) >= {"mse", "fmse", "bmse", "psnr", "ssim", "color_gap", "seam_ratio"}
    assert grid(rows, comp).shape[1] > 4 * 360


def test_cli_compare_reports_a_failing_backend(case, tmp_path, monkeypatch):
    comp, truth = case
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    for name, img in (("c.png", comp.image), ("t.png", truth)):
        write_image(tmp_path / name, img)
    write_mask(tmp_path / "m.png", comp.mask)
    out = tmp_path / "cmp"
    code = main(["compare", str(tmp_path / "c.png"), "--mask", str(tmp_path / "m.png"), "-o", str(out),
                 "--backends", "vgg19,poisson,reinhard,none", "--truth", str(tmp_path / "t.png"), "-q"])
    assert code == 1  # the report is written, and the exit code says something failed
    report = json.loads((out / "report.json").read_text())
    rows = {r["backend"]: r for r in report["rows"]}
    assert rows["vgg19"]["ok"] is False and "compositor models fetch" in rows["vgg19"]["error"]
    for b in ("poisson", "reinhard", "none"):
        assert rows[b]["ok"] and rows[b]["seconds"] is not None and (out / f"{b}.png").is_file()
        assert rows[b]["metrics"]["fmse"] is not None
    assert not (out / "vgg19.png").exists()
    assert (out / "grid.png").is_file() and (out / "index.html").is_file()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_index_html_in_headless_chromium(case, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium for this test")
        pytest.skip("chromium not installed (apt-get install chromium)")
    comp, truth = case
    write_image(tmp_path / "c.png", comp.image)
    write_mask(tmp_path / "m.png", comp.mask)
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "c.png"), "--mask", str(tmp_path / "m.png"), "-o", str(out),
                 "--backends", "poisson,reinhard,none", "-q"]) == 0
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1200"]
    url = (out / "index.html").as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for b in ("poisson", "reinhard"):
        assert f"<td>{b}</td>" in dom and f'href="{b}.png"' in dom
    # none is the composite as it is: shown once, as the composite
    assert "<td>composite (none)</td>" in dom and "<td>none</td>" not in dom and 'id="card-none"' not in dom
    assert dom.count('type="range"') == 2 and 'href="composite.png"' in dom  # a slider per backend
    assert (out / "composite.png").is_file()
    table = dom[dom.index('<table id="results">'):dom.index("</table>")]
    assert not re.search(r"\de[-+]\d", table)  # numbers written for people: no exponents
    shot = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={shot}", url], capture_output=True, timeout=120)
    page = read_rgb(shot)
    # the pictures rendered: the lower part of the page holds photo pixels, not just white
    lower = page[page.shape[0] // 3:]
    assert (lower.std(axis=2) > 20).mean() > 0.05


def test_numbers_for_people():
    from compositor.compare import human_number, human_seconds

    assert human_seconds(6.255e-05) == "under 1 ms" and human_seconds(0.2184) == "218 ms"
    assert human_seconds(3.14159) == "3.14 s" and human_seconds(125) == "2 min 5 s"
    assert human_number("fmse", 2407.43) == "2,407" and human_number("color_gap", 19.2616) == "19.3"
    assert human_number("contrast_gap", 6.255e-05) == "0" and human_number("ssim", 0.96152) == "0.962"
    assert human_number("psnr", float("nan")) == "–"


def earlier_compare(case, tmp_path) -> tuple[list[str], Path]:
    """A compare of ``case`` (none, reinhard, poisson) into ``tmp_path/cmp``: the command's
    arguments without ``--backends``, and its folder."""
    comp, _ = case
    write_image(tmp_path / "c.png", comp.image)
    write_mask(tmp_path / "m.png", comp.mask)
    out = tmp_path / "cmp"
    args = ["compare", str(tmp_path / "c.png"), "--mask", str(tmp_path / "m.png"), "-o", str(out), "-q"]
    assert main(args + ["--backends", "none,reinhard,poisson"]) == 0
    return args, out


def test_force_keeps_a_file_put_in_place_of_an_earlier_tile(case, tmp_path):
    """A tile's name that holds a file changed after the earlier compare wrote its report (a
    user's own file copied over it) is not that compare's output: --force leaves it."""
    args, out = earlier_compare(case, tmp_path)
    (out / "poisson.png").write_bytes(b"my own picture")
    later = (out / "report.json").stat().st_mtime + 5
    os.utime(out / "poisson.png", (later, later))
    assert main(args + ["--backends", "none", "--force"]) == 0
    assert (out / "poisson.png").read_bytes() == b"my own picture"
    assert not (out / "reinhard.png").exists()  # the earlier compare's own tile still goes


def test_force_keeps_a_file_moved_in_place_of_an_earlier_tile(case, tmp_path):
    """A user's file moved (mv keeps its modification time) onto a tile's name after the earlier
    compare is not that compare's: --force leaves it (it was removed, being older than report.json)."""
    args, out = earlier_compare(case, tmp_path)
    time.sleep(0.05)  # past the clock tick of the report's rename: a file's change time is coarse
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"my own picture")
    os.utime(mine, (1_500_000_000, 1_500_000_000))  # taken years ago
    os.rename(mine, out / "poisson.png")
    assert main(args + ["--backends", "none", "--force"]) == 0
    assert (out / "poisson.png").read_bytes() == b"my own picture"
    assert not (out / "reinhard.png").exists()  # the earlier compare's own tile still goes


def test_force_over_an_unreadable_report(case, tmp_path):
    """--force into a folder whose report.json is not an earlier compare's (nested too deeply to
    decode: an internal RecursionError, before) runs and removes nothing else."""
    args, out = earlier_compare(case, tmp_path)
    (out / "report.json").write_text("[" * 100_000)
    assert main(args + ["--backends", "none", "--force"]) == 0
    assert (out / "reinhard.png").exists() and (out / "poisson.png").exists()  # no earlier list to go by


def test_force_never_overwrites_a_composite_named_composite_png(case, tmp_path, capsys):
    """compare writes DIR/composite.png: a composite given as that very file is refused before
    any work (it was rewritten from its RGB pixels, an alpha channel lost), as a tile's name is."""
    comp, _ = case
    out = tmp_path / "cmp"
    out.mkdir()
    rgba = np.dstack([comp.image, np.full(comp.image.shape[:2], 200, np.uint8)])
    write_image(out / "composite.png", rgba)
    write_mask(tmp_path / "m.png", comp.mask)
    before = (out / "composite.png").read_bytes()
    code = main(["compare", str(out / "composite.png"), "--mask", str(tmp_path / "m.png"), "-o", str(out), "-q",
                 "--backends", "none", "--force"])
    err = capsys.readouterr().err
    assert code == 2 and "composite.png: the output path is also an input" in err, err
    assert (out / "composite.png").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["composite.png"]


def test_help_says_force_removes_the_earlier_compares_tiles(capsys):
    """--force removes files (an earlier compare's tiles), which --help must say: "replacing this
    command's own files" alone does not tell a user that files will go."""
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    force = text[text.index("--force "):text.index("--backends BACKENDS ")]
    assert "an earlier compare wrote there" in force and "are removed" in force, force


def test_force_removes_the_earlier_compares_tiles_only(case, tmp_path):
    """``compare --force`` into an earlier compare's folder removes the tiles that run made and
    this one did not (as its report.json lists them), so the folder and index.html agree; a
    user's own file there and the run's inputs (even one named like a tile) are kept."""
    args, out = earlier_compare(case, tmp_path)
    (out / "notes.txt").write_text("mine")
    (out / "boundary.png").write_bytes(b"mine too")  # not in the earlier report: not the run's file
    assert main(args + ["--backends", "none,boundary", "--force"]) == 0
    left = sorted(p.name for p in out.iterdir())
    assert left == ["boundary.png", "composite.png", "grid.png", "index.html", "none.png", "notes.txt",
                    "report.json"], left
    named = set(re.findall(r'(?:href|src)="([^"]+)"', (out / "index.html").read_text()))
    assert "boundary.png" in named and all((out / n).is_file() for n in named), named
    assert (out / "notes.txt").read_text() == "mine"
    # an input of the new run that an earlier run wrote is never removed
    assert main(args + ["--backends", "none,reinhard", "--force"]) == 0
    shutil.copy(out / "reinhard.png", tmp_path / "r.png")
    inside = ["compare", str(out / "reinhard.png"), "--mask", str(tmp_path / "m.png"), "-o", str(out), "-q",
              "--backends", "none", "--force"]
    assert main(inside) == 0
    assert (out / "reinhard.png").read_bytes() == (tmp_path / "r.png").read_bytes()
