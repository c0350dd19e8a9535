"""`compositor paste`: objects off the canvas, clashing and unknown outputs, rotation. Fixtures in
conftest.py (TensorFlow unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from .helpers import fails_cleanly, run


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


def test_a_sticker_file_name_with_an_at_sign(work, capsys):
    shutil.copy(work / "sticker.png", work / "cup@2x.png")
    code, _, err = run(["paste", "chelsea.png", "cup@2x.png", "-o", "c.png", "--mask-out", "m.png"], capsys)
    assert code == 0, err
    code, _, err = run(["paste", "chelsea.png", "cup@2x.png@100,100", "-o", "d.png", "--mask-out", "n.png"], capsys)
    assert code == 0, err
