"""Accepted nonsense is refused, and misleading messages or exit codes say what happened.

Each case was accepted silently or reported something else than the problem: a seed run with
no style layer (loss 0, nothing changes), a setting given twice with two values, a JPEG whose
header claims far more pixels than its bytes could hold (decoded for 20 s and 1.2 GB), a paste
scale that shrinks the sticker below a pixel (called "entirely outside"), a repeated backend,
a models listing with a damaged file (exit 0), a read-only output (exit 2 but exit 1 from
synth), a 1x1 photo (a message about a box), a category folder whose name is not UTF-8.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import api, plugins
from compositor.errors import CompositorError, UsageError

from .workdir import ReadOnly, no_tensorflow, run, work_fixture  # noqa: F401 (no_tensorflow: autouse here)


work = work_fixture("chelsea.png", cup=True)


def one_sentence(err: str, *words) -> str:
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("compositor: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    for w in words:
        assert str(w) in lines[-1], f"{w!r} not in {lines[-1]!r}"
    return lines[-1]


# ----------------------------------------------------------------------------- accepted nonsense


def test_seed_mode_without_style_layers_is_refused():
    """--mode seed --style-layers "" ran with loss 0 and changed nothing."""
    vgg = plugins.load("harmonizer", "vgg19")
    with pytest.raises(UsageError, match="seed mode needs at least one style layer"):
        plugins.make_settings(vgg, {"mode": "seed", "style_layers": ""})
    plugins.make_settings(vgg, {"mode": "seed"})  # the default layers are fine


@pytest.mark.parametrize("argv, ok", [
    (["--set", "strength=0.2", "--strength", "0.9"], False),
    (["--strength", "0.9", "--set", "strength=0.2"], False),
    (["--set", "strength=0.5", "--strength", "0.50"], True),  # the same value, spelt twice
])
def test_a_setting_given_twice_with_two_values_is_refused(work, capsys, argv, ok):
    """--set strength=0.2 --strength 0.9: --set won silently."""
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "reinhard", "-o", "h.png",
                        "-q", *argv], capsys)
    if ok:
        assert code == 0, err
        return
    assert code == 2, err
    one_sentence(err, "--strength", "--set strength=0.2", "disagree")
    assert not (work / "h.png").exists()


def _forged_jpeg(path: Path, width: int, height: int) -> None:
    """A small real JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    import io

    pixels = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 7] = height.to_bytes(2, "big")
    data[sof + 7:sof + 9] = width.to_bytes(2, "big")
    path.write_bytes(bytes(data))


def test_a_jpeg_claiming_more_pixels_than_its_bytes_hold_is_refused_before_decoding(work, capsys):
    """A 13 KB JPEG whose header claims 9000x8000 was decoded: 20 s and 1.2 GB, then an
    unrelated error. Its declared size is now checked against the file's size first."""
    _forged_jpeg(work / "forged.jpg", 9000, 8000)
    assert (work / "forged.jpg").stat().st_size < 20_000
    t0 = time.monotonic()
    code, _, err = run(["harmonize", "forged.jpg", "--mask", "mask.png", "-o", "h.png", "-q"], capsys)
    assert code == 1, err
    one_sentence(err, "forged.jpg", "9000x8000", "truncated or corrupt")
    assert time.monotonic() - t0 < 5


@pytest.mark.slow
def test_real_jpegs_and_pngs_pass_the_size_check(tmp_path):
    """Flat images compress the most: a 4000x3000 flat JPEG and 1-bit and RGB PNGs still pass."""
    from compositor.imageio import read_rgb

    Image.new("RGB", (4000, 3000), (10, 10, 10)).save(tmp_path / "flat.jpg", quality=95)
    Image.new("RGB", (4000, 3000), (10, 10, 10)).save(tmp_path / "flat_progressive.jpg", quality=95,
                                                      progressive=True, optimize=True)
    Image.new("1", (4000, 3000)).save(tmp_path / "flat1.png", optimize=True)
    Image.new("RGB", (4000, 3000)).save(tmp_path / "flat.png", optimize=True)
    for name in ("flat.jpg", "flat_progressive.jpg", "flat1.png", "flat.png"):
        assert read_rgb(tmp_path / name).shape == (3000, 4000, 3), name


# ----------------------------------------------------------------------------- misleading messages


def test_a_scale_that_shrinks_the_sticker_below_a_pixel_says_so(work, capsys):
    """A paste scale of 1e-300 was reported as landing "entirely outside"."""
    code, _, err = run(["paste", "chelsea.png", "cup.png@200,150,1e-300", "-o", "p.png", "--mask-out", "m.png"],
                       capsys)
    assert code == 2, err
    line = one_sentence(err, "1e-300", "smaller than a pixel")
    assert "outside" not in line
    with pytest.raises(UsageError, match="smaller than a pixel"):
        api.paste(np.zeros((50, 50, 3), np.uint8), [(str(work / "cup.png"), 25, 25, 1e-300)])


def test_a_repeated_backend_is_named(work, capsys):
    """compare --backends none,none talked of paths, not of the repeated backend."""
    code, _, err = run(["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none,none", "-o", "o"], capsys)
    assert code == 2, err
    one_sentence(err, "--backends", "none", "more than once")


def test_models_exits_1_when_a_file_has_a_bad_hash(tmp_path, monkeypatch, capsys):
    """`compositor models` exited 0 while listing files with a bad hash."""
    from compositor.models.registry import MODELS

    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path))
    model = next(m for m in MODELS.values() if m.name == "u2netp")
    (tmp_path / model.filename).write_bytes(b"not the weights")
    code, out, err = run(["models"], capsys)
    assert code == 1, err
    assert "BAD HASH" in out
    one_sentence(err, model.filename, "u2netp", "compositor models fetch u2netp")
    (tmp_path / model.filename).unlink()
    code, out, err = run(["models"], capsys)
    assert code == 0, err  # missing files are optional: listing them is no failure


def test_a_read_only_output_is_exit_1_from_every_command(work, capsys, monkeypatch):
    """A read-only output gave exit 1 from synth but 2 elsewhere."""
    (work / "objs").mkdir()
    (work / "bgs").mkdir()
    shutil.copy(work / "cup.png", work / "objs" / "cup.png")
    shutil.copy(work / "chelsea.png", work / "bgs" / "bg.png")
    (work / "jobs.jsonl").write_text(json.dumps({"background": "bgs/bg.png", "backend": "none",
                                                 "objects": [{"sticker": "objs/cup.png"}]}) + "\n")
    (work / "out").mkdir()
    commands = {
        "paste": ["paste", "chelsea.png", "cup.png@100,100", "-o", "out/p.png", "--mask-out", "out/m.png"],
        "harmonize": ["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "out/h.png", "-q"],
        "cut": ["cut", "cup.png", "--method", "grabcut", "-o", "out/s.png"],
        "compare": ["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none", "-o", "out/cmp", "-q"],
        "batch": ["batch", "jobs.jsonl", "-o", "out/run", "-q"],
        "synth": ["synth", "--objects", "objs", "--backgrounds", "bgs", "-n", "1", "--size", "100x80", "--backend",
                  "none", "-o", "out/run2", "-q"],
    }
    codes = {}
    with monkeypatch.context() as mp:
        ReadOnly(mp, work / "out", access=True)
        for name, argv in commands.items():
            codes[name], _, err = run(argv, capsys)
            one_sentence(err, "out")
    assert codes == {name: 1 for name in commands}
    assert list((work / "out").iterdir()) == []


@pytest.mark.parametrize("size", [(1, 1), (2, 40), (40, 2)])
@pytest.mark.parametrize("method", ["grabcut", "saliency", "contour"])
def test_a_photo_too_small_to_cut_says_so(work, capsys, size, method):
    """cut --method grabcut on a 1x1 image talked of a box the user never gave."""
    Image.new("RGB", size, (9, 9, 9)).save(work / "tiny.png")
    code, _, err = run(["cut", "tiny.png", "--method", method, "-o", "s.png"], capsys)
    assert code == 1, err  # as u2net's own size check: the photo cannot be cut
    line = one_sentence(err, "tiny.png", f"{size[0]}x{size[1]}", "at least 3x3")
    assert "box" not in line


def test_a_category_folder_whose_name_is_not_utf8_is_refused(work, capsys):
    """A category folder whose name is not valid UTF-8 ended up as a lone surrogate escape in
    instances.json (which strict JSON readers refuse)."""
    bad = os.fsdecode(b"\xff\xfecups")
    (work / "objs" / bad).mkdir(parents=True)
    shutil.copy(work / "cup.png", work / "objs" / bad / "cup.png")
    (work / "bgs").mkdir()
    shutil.copy(work / "chelsea.png", work / "bgs" / "bg.png")
    code, _, err = run(["synth", "--objects", "objs", "--backgrounds", "bgs", "-n", "1", "--size", "100x80",
                        "--backend", "none", "-o", "out", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "\\xff\\xfecups", "not valid UTF-8")
    assert not (work / "out").exists()


# ----------------------------------------------------------------------------- found by a further pass


def test_a_set_key_given_twice_with_two_values_is_refused(work, capsys):
    """--set strength=0.1 --set strength=0.9: the last one won silently."""
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "reinhard", "-o", "h.png",
                        "--set", "strength=0.1", "--set", "strength=0.9"], capsys)
    assert code == 2, err
    one_sentence(err, "--set", "strength", "'0.1'", "'0.9'")


def test_a_placement_with_nothing_after_the_at_is_refused(work, capsys):
    """cup.png@ pasted the sticker at the centre, as if the placement had not been started."""
    code, _, err = run(["paste", "chelsea.png", "cup.png@", "-o", "p.png", "--mask-out", "m.png"], capsys)
    assert code == 2, err
    one_sentence(err, "'cup.png@'", "nothing after the '@'")


def test_a_manifest_key_given_twice_is_refused(work, capsys):
    """A JSON job with two 'background' keys took the last one without a word."""
    (work / "jobs.jsonl").write_text('{"background": "chelsea.png", "background": "other.png", "backend": "none", '
                                     '"objects": [{"sticker": "cup.png"}]}\n')
    code, _, err = run(["batch", "jobs.jsonl", "-o", "out", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "jobs.jsonl:1", "'background'", "twice")


@pytest.mark.parametrize("call, words", [
    (lambda c: api.harmonize(c, "reinhard", finish=["blur"]), ("finish", "list")),
    (lambda c: api.harmonize(type(c)(c.image, c.mask, objects=("x",)), "reinhard"), ("objects[0]", "str")),
])
def test_library_arguments_found_by_a_further_pass(call, words):
    """harmonize(finish=[...]) raised `ValueError: dictionary update sequence element...`; an
    object that is not a PlacedObject was reported as 'received a tuple'."""
    from compositor.types import Composite

    img = np.zeros((20, 30, 3), np.uint8)
    mask = np.zeros((20, 30), np.float32)
    mask[5:10, 5:10] = 1
    with pytest.raises(UsageError) as info:
        call(Composite(img, mask))
    for w in words:
        assert w in str(info.value)
