"""`compositor harmonize`: bad masks, inputs, settings and choices; sidecars and snapshots. Fixtures in
conftest.py (TensorFlow unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from compositor import cli

from .helpers import (CHELSEA_SIZE, _disk_full_for_sidecars, assert_argparse_error, assert_error, fails_cleanly,
    files, harmonize, run)


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


def test_harmonize_keeps_the_composites_own_sidecar(work, capsys):
    (work / "chelsea.json").write_text("{}\n")
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "chelsea.jpg"],
                  capsys, work, 2, "chelsea.json", "also an input")


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
