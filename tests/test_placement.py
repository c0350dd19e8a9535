"""The same sticker placed at the same X,Y lands on the same pixels through every front end.

A sticker file with a wide transparent margin on one side (its object off-centre) is
placed through ``compositor paste``, ``compositor batch`` and ``compositor synth``, and
the same object, as ``compositor compose`` cuts it, through ``compose``: each reads the
file with one loader that crops it to its alpha, so the object's own centre lands at X,Y.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli
from compositor.ops.geometry import bbox
from compositor.stickers import read_sticker

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
X, Y, SCALE = 150, 120, 0.5


def run(argv: list) -> None:
    code = cli.main([str(a) for a in argv])
    assert code == 0, argv


def image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def padded(sticker: np.ndarray, left: int = 90, top: int = 70) -> np.ndarray:
    """``sticker`` (RGBA) with transparent margins on its left and top only: its object off-centre."""
    h, w = sticker.shape[:2]
    out = np.zeros((h + top + 5, w + left + 5, 4), np.uint8)
    out[top:top + h, left:left + w] = sticker
    return out


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    """compose's outputs, and the composites of its sticker, padded off-centre, through paste and batch."""
    work = tmp_path_factory.mktemp("placement")
    shutil.copy(SAMPLES / "coffee.png", work / "coffee.png")
    shutil.copy(SAMPLES / "chelsea.png", work / "chelsea.png")
    run(["compose", work / "coffee.png", work / "chelsea.png", "--box", "150,60,300,280", "--at", f"{X},{Y},{SCALE}",
         "--backend", "none", "-q", "-o", work / "compose"])
    sticker = np.asarray(Image.open(work / "compose" / "sticker.png"))
    Image.fromarray(padded(sticker)).save(work / "offcentre.png")
    run(["paste", work / "chelsea.png", f"{work / 'offcentre.png'}@{X},{Y},{SCALE}", "-o", work / "paste.png",
         "--mask-out", work / "paste_mask.png"])
    job = {"id": "job", "background": "chelsea.png", "backend": "none", "output": "job.png",
           "objects": [{"sticker": "offcentre.png", "x": X, "y": Y, "scale": SCALE}]}
    (work / "jobs.jsonl").write_text(json.dumps(job) + "\n")
    run(["batch", work / "jobs.jsonl", "-o", work / "batch", "-q"])
    return work


def test_the_loader_crops_to_the_alpha(placed):
    sticker = read_sticker(placed / "offcentre.png")
    original = np.asarray(Image.open(placed / "compose" / "sticker.png"))
    np.testing.assert_array_equal(sticker.rgba, original)
    assert sticker.source_box[:2] == (90, 70)
    assert sticker.label == "offcentre"


def test_paste_compose_and_batch_agree(placed):
    composed = image(placed / "compose" / "composite.png")
    pasted = image(placed / "paste.png")
    batched = image(placed / "batch" / "job.png")
    np.testing.assert_array_equal(pasted, composed)
    np.testing.assert_array_equal(batched, composed)
    # the boxes in the sidecars agree too, and the object's centre is at X,Y
    boxes = [json.loads((placed / "compose" / "compose.json").read_text())["paste"]["box"],
             json.loads((placed / "paste.json").read_text())["objects"][0]["box"],
             json.loads((placed / "batch" / "job.json").read_text())["objects"][0]["box"]]
    assert boxes[0] == boxes[1] == boxes[2]
    cut = json.loads((placed / "compose" / "compose.json").read_text())["cut"]
    # every setting the cut ran with, the defaults too
    assert cut["settings"]["box"] == [150, 60, 300, 280] and {"threshold", "refine", "engine"} <= set(cut["settings"])
    x, y, w, h = boxes[0]
    assert abs(x + (w - 1) / 2 - X) <= 1.5 and abs(y + (h - 1) / 2 - Y) <= 1.5, boxes[0]


def test_synth_places_the_sticker_where_paste_does(placed):
    objects, backgrounds = placed / "synth_objects", placed / "synth_backgrounds"
    objects.mkdir()
    backgrounds.mkdir()
    shutil.copy(placed / "offcentre.png", objects / "cup.png")
    shutil.copy(placed / "chelsea.png", backgrounds / "chelsea.png")
    run(["synth", "--objects", objects, "--backgrounds", backgrounds, "-n", 1, "--objects-per-image", "1,1",
         "--object-size", "0.4,0.4", "--rotation", "0,0", "--backend", "none", "-q", "-o", placed / "synth"])
    sidecar = next((placed / "synth" / "images").glob("*/000000.json"))  # in the split its seed gives
    record = json.loads(sidecar.read_text())
    obj = record["objects"][0]
    run(["paste", placed / "chelsea.png", f"{placed / 'offcentre.png'}@{obj['x']},{obj['y']},{obj['scale']}",
         "-o", placed / "again.png", "--mask-out", placed / "again_mask.png"])
    mask = np.asarray(Image.open(placed / "again_mask.png"))
    assert list(bbox(mask >= 128)) == obj["bbox"]
    synthesized = image(sidecar.with_suffix(".png")).astype(int)
    # the sidecar rounds x, y to 1/1000 px: the pixels agree to a level or two
    assert np.abs(synthesized - image(placed / "again.png").astype(int)).max() <= 2


@pytest.mark.slow
def test_percent_height_and_bottom_anchor_agree_across_front_ends(placed):
    """``50%,95%,40%,10,bottom`` through paste, compose and a batch manifest: the same pixels,
    the object 40% as tall as the background (before rotation) with its feet at (50%, 95%)."""
    where = "50%,95%,40%,10,bottom"
    run(["paste", placed / "chelsea.png", f"{placed / 'offcentre.png'}@{where}", "-o", placed / "pct.png",
         "--mask-out", placed / "pct_mask.png"])
    run(["compose", placed / "coffee.png", placed / "chelsea.png", "--box", "150,60,300,280", "--at", where,
         "--backend", "none", "-q", "-o", placed / "pct_compose"])
    job = {"id": "pct", "background": "chelsea.png", "backend": "none", "output": "pct.png",
           "objects": [{"sticker": "offcentre.png", "x": "50%", "y": "95%", "height": "40%", "rotation": 10,
                        "anchor": "bottom"}]}
    (placed / "pct.jsonl").write_text(json.dumps(job) + "\n")
    run(["batch", placed / "pct.jsonl", "-o", placed / "pct_batch", "-q"])
    pasted = image(placed / "pct.png")
    # compose cut its own sticker (a cut need not give the same bits twice): paste that one
    run(["paste", placed / "chelsea.png", f"{placed / 'pct_compose' / 'sticker.png'}@{where}", "-o",
         placed / "pct2.png", "--mask-out", placed / "pct2_mask.png"])
    np.testing.assert_array_equal(image(placed / "pct_compose" / "composite.png"), image(placed / "pct2.png"))
    np.testing.assert_array_equal(image(placed / "pct_batch" / "pct.png"), pasted)
    record = json.loads((placed / "pct.json").read_text())["objects"][0]
    sticker_h = read_sticker(placed / "offcentre.png").rgba.shape[0]
    H = pasted.shape[0]
    assert abs(record["scale"] * sticker_h - 0.4 * H) < 1e-6
    # the middle of the bottom edge, rotated 10 degrees about the centre, is half a pixel below (50%, 95%)
    import math
    half = record["scale"] * sticker_h / 2 - 0.5  # to the bottom edge, less half a pixel
    cx, cy = record["center"]
    a = math.radians(10)
    assert abs(cx + half * math.sin(a) - 0.5 * pasted.shape[1]) < 1e-6
    assert abs(cy + half * math.cos(a) - 0.95 * H) < 1e-6


def test_synth_object_size_and_its_old_name(placed, capsys):
    """synth's size range is --object-size; the old --scale gives the same images, with a note."""
    objects, backgrounds = placed / "synth_objects2", placed / "synth_backgrounds2"
    objects.mkdir()
    backgrounds.mkdir()
    shutil.copy(placed / "offcentre.png", objects / "cup.png")
    shutil.copy(placed / "chelsea.png", backgrounds / "chelsea.png")
    common = ["synth", "--objects", objects, "--backgrounds", backgrounds, "-n", 1, "--objects-per-image", "1,1",
              "--rotation", "0,0", "--backend", "none", "-q"]
    run(common + ["--object-size", "0.3,0.5", "-o", placed / "synth_new"])
    capsys.readouterr()
    run(common + ["--scale", "0.3,0.5", "-o", placed / "synth_old"])
    assert "--object-size" in capsys.readouterr().err
    new = sorted((placed / "synth_new").rglob("*.png"))
    old = sorted((placed / "synth_old").rglob("*.png"))
    assert [p.relative_to(placed / "synth_new") for p in new] == [p.relative_to(placed / "synth_old") for p in old]
    for a, b in zip(new, old):
        if "objects" not in a.parts:
            np.testing.assert_array_equal(image(a), image(b))
