"""synth's edge treatments (--blends) and shadows (--shadows): drawn per object from the image's
own seed, recorded in the annotations, the layout unchanged; bad names refused."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor.errors import UsageError
from compositor.finish.blends import BLENDS, parse_blends
from compositor.synth import SynthSettings, synth

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("blend_inputs")
    objects, backgrounds = root / "objects", root / "backgrounds"
    (objects / "ball").mkdir(parents=True)
    backgrounds.mkdir()
    rgba = np.zeros((48, 64, 4), np.uint8)
    cv2.ellipse(rgba, (32, 24), (28, 20), 0, 0, 360, (230, 30, 30, 255), -1)
    Image.fromarray(rgba).save(objects / "ball" / "red.png")
    im = Image.open(SAMPLES / "coffee.png").convert("RGB")
    im.thumbnail((240, 240))
    im.save(backgrounds / "coffee.png")
    return objects, backgrounds


def run(data, outdir, **kw):
    objects, backgrounds = data
    settings = SynthSettings(count=4, seed=3, size=(160, 120), objects_per_image=(2, 3), backends=("none",),
                             val=0.0, **kw)
    synth(objects, backgrounds, outdir, settings)
    sidecars = sorted((outdir / "images" / "train").glob("*.json"))
    return [json.loads(p.read_text()) for p in sidecars]


def test_blends_drawn_recorded_and_layout_kept(data, tmp_path):
    plain = run(data, tmp_path / "plain")
    blended = run(data, tmp_path / "blended", blends=BLENDS, shadows=True)
    seen = set()
    for a, b in zip(plain, blended):
        assert [(o["x"], o["y"], o["scale"]) for o in a["objects"]] == [(o["x"], o["y"], o["scale"]) for o in b["objects"]]
        for obj in b["objects"]:
            assert obj["blend"]["name"] in BLENDS
            seen.add(obj["blend"]["name"])
        assert "blend" not in json.dumps(a["objects"])
        light = b["harmonize"]["shadow"]["light"]
        assert 0 <= light[0] < 360 and 25 <= light[1] <= 65
    assert len(seen) >= 3, seen
    coco = json.loads((tmp_path / "blended" / "annotations" / "instances_train.json").read_text())
    assert all(a["blend"] in BLENDS for a in coco["annotations"])
    again = run(data, tmp_path / "again", blends=BLENDS, shadows=True)
    assert [s["objects"] for s in again] == [s["objects"] for s in blended]
    for name in ("000000.png", "000001.png"):
        assert (tmp_path / "again" / "images" / "train" / name).read_bytes() == \
            (tmp_path / "blended" / "images" / "train" / name).read_bytes()


@pytest.mark.parametrize("text", ["", "gaussian,soft", "laplace"])
def test_bad_blends_refused(text):
    with pytest.raises(UsageError, match="blends must be a comma list"):
        parse_blends(text)


def test_renders_per_layout(data, tmp_path):
    objects, backgrounds = data
    settings = SynthSettings(count=6, seed=3, size=(160, 120), objects_per_image=(2, 3), backends=("none",),
                             val=0.5, blends=BLENDS, renders_per_layout=3)
    synth(objects, backgrounds, tmp_path / "k3", settings)
    sidecars = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "k3" / "images").glob("*/*.json")}
    assert len(sidecars) == 6
    for first in ("000000", "000003"):
        group = [sidecars[f"{int(first) + r:06d}"] for r in range(3)]
        places = {tuple((o["x"], o["y"], o["scale"]) for o in s["objects"]) for s in group}
        assert len(places) == 1, "the renders of one layout place the same objects"
        assert len({s["split"] for s in group}) == 1 and {s["layout"] for s in group} == {int(first) // 3}
        assert len({tuple(o["blend"]["name"] for o in s["objects"]) for s in group}) > 1 or \
            len({json.dumps([o["blend"] for o in s["objects"]]) for s in group}) > 1


def test_renders_per_layout_needs_something_to_vary():
    with pytest.raises(UsageError, match="would repeat one image"):
        SynthSettings(renders_per_layout=2).validate()
