"""Per-object harmonization: each object of a composite corrected against its own surroundings,
in paste order, by every backend that corrects an object; ``harmonize --objects`` on files.

The stickers are grey photos given opposite colour casts and pasted on a grey photo, so the
cast an object still has after harmonization is its distance from neutral (the a, b of its
Lab mean). Real weights: the default backend (vgg19 fit) runs with its VGG19 file.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from compositor import api, cli
from compositor.harmonizers.objects import split_by_boxes, split_components
from compositor.imageio import read_rgb
from compositor.ops.colour import lab
from compositor.ops.regions import auto_ring_width, ring_mask
from compositor.paste import Placement
from compositor.types import Composite, Sticker


def _grey(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    return cv2.resize(np.stack([g] * 3, -1), size, interpolation=cv2.INTER_AREA)


def _sticker(gain, label: str, side: int = 80) -> Sticker:
    rgb = np.clip(_grey(skimage.data.astronaut(), (side, side)).astype(np.float32) * np.asarray(gain, np.float32),
                  0, 255).astype(np.uint8)
    alpha = np.zeros((side, side), np.uint8)
    cv2.circle(alpha, (side // 2, side // 2), side // 2 - 4, 255, -1)
    return Sticker(np.dstack([rgb, alpha]), label, (0, 0, side, side), 1.0, "test")


RED, BLUE = (1.35, 1.0, 0.75), (0.75, 1.0, 1.35)


@pytest.fixture(scope="module")
def two() -> Composite:
    """A too-red and a too-blue sticker on a grey photo."""
    bg = _grey(skimage.data.camera(), (320, 240))
    return api.paste(bg, [Placement(_sticker(RED, "red"), 90, 120), Placement(_sticker(BLUE, "blue"), 230, 120)])


def cast(image: np.ndarray, mask: np.ndarray) -> float:
    """How far the object's mean colour is from neutral: |(a, b)| of its Lab mean."""
    L = lab(image)[mask >= 0.5]
    return float(np.hypot(L[:, 1].mean(), L[:, 2].mean()))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["vgg19", "boundary", "reinhard", "poisson"])
def test_opposite_casts_each_move_toward_neutral(two, backend):
    """Each sticker's cast is smaller after the backend (the default one first) than before;
    corrected as one union, the default backend makes the red one worse."""
    result = api.harmonize(two, backend)
    for obj in two.objects:
        before, after = cast(two.image, obj.mask), cast(result.image, obj.mask)
        assert after < 0.85 * before, f"{backend}: {obj.label} cast {before:.1f} -> {after:.1f}"
    assert [o["label"] for o in result.stats["objects"]] == ["red", "blue"]
    if backend == "vgg19":
        union = api.harmonize(Composite(two.image, two.mask), backend)
        worse = [cast(union.image, o.mask) > cast(two.image, o.mask) for o in two.objects]
        assert any(worse), "the case shows the failure of one shared correction"
        # the gain the fit starts from (the edge gain, before any histogram match) when it records one
        gains = [o.get("start", o)["gain"] for o in result.stats["objects"]]
        assert gains[0][0] < gains[0][2] and gains[1][0] > gains[1][2], f"red and blue corrected apart: {gains}"


@pytest.mark.slow
def test_seed_mode_repaints_once(two):
    """Seed mode (whole-image style transfer) is not run per object."""
    result = api.harmonize(two, "vgg19", mode="seed", iterations=1, max_size=64)
    assert "objects" not in result.stats


def test_object_on_top_of_another_uses_it_as_surroundings():
    """A small red sticker pasted on a big green one is matched to the (corrected) green one,
    not to the grey photo around both; the big one, pasted first, to the photo (half-way, so
    that it stays green)."""
    bg = _grey(skimage.data.camera(), (320, 240))
    big = _sticker((0.8, 1.25, 0.8), "big", 160)
    small = _sticker(RED, "small", 48)
    comp = api.paste(bg, [Placement(big, 160, 120), Placement(small, 160, 120)])
    result = api.harmonize(comp, "reinhard", strength=0.5)
    first, second = result.stats["objects"]
    # the big one's ring is the grey photo: its target a, b are neutral
    assert np.hypot(*first["background_mean_lab"][1:]) < 3
    # the small one's ring lies on the big one as corrected: its target is that colour
    region = comp.objects[1].mask > 0
    ring = ring_mask(region, auto_ring_width(region))
    expected = lab(result.image)[ring].mean(0)
    assert np.allclose(second["background_mean_lab"], expected, atol=1.5)
    assert np.hypot(*second["background_mean_lab"][1:]) > 10, "the green sticker, not grey"


def test_ring_excludes_the_other_objects():
    """Two stickers side by side, touching: each one's ring statistics are those of the grey
    photo, not of the other sticker's cast."""
    bg = _grey(skimage.data.camera(), (320, 240))
    comp = api.paste(bg, [Placement(_sticker(RED, "red"), 120, 120), Placement(_sticker(BLUE, "blue"), 192, 120)])
    result = api.harmonize(comp, "reinhard")
    for entry in result.stats["objects"]:
        assert np.hypot(*entry["background_mean_lab"][1:]) < 3, entry
    union_ring = api.harmonize(Composite(comp.image, comp.objects[0].mask), "reinhard").stats
    assert np.hypot(*union_ring["background_mean_lab"][1:]) > 3, "without exclusion the blue sticker is in the ring"


def test_split_components_and_boxes():
    mask = np.zeros((40, 60), np.float32)
    mask[5:15, 5:15] = 1
    mask[20:30, 30:50] = 0.5
    parts = split_components(mask)
    assert [p.box for p in parts] == [(5, 5, 10, 10), (30, 20, 20, 10)]
    assert parts[1].mask.max() == 0.5
    objs = split_by_boxes(mask, [(0, 0, 20, 20), (28, 18, 25, 15)], ["a", "b"])
    assert [o.label for o in objs] == ["a", "b"] and [o.box for o in objs] == [(5, 5, 10, 10), (30, 20, 20, 10)]
    with pytest.raises(ValueError, match="100 mask pixels lie outside every object's box"):
        split_by_boxes(mask, [(28, 18, 25, 15)], ["b"])


# ----------------------------------------------------------------------------- the command


@pytest.fixture
def pasted(tmp_path, two, monkeypatch):
    """The two stickers pasted with the CLI: composite, mask and paste sidecar in a folder."""
    monkeypatch.chdir(tmp_path)
    bg = _grey(skimage.data.camera(), (320, 240))
    cv2.imwrite("bg.png", cv2.cvtColor(bg, cv2.COLOR_RGB2BGR))
    for name, gain in (("red", RED), ("blue", BLUE)):
        cv2.imwrite(f"{name}.png", cv2.cvtColor(_sticker(gain, name).rgba, cv2.COLOR_RGBA2BGRA))
    assert cli.main(["paste", "bg.png", "red.png@90,120", "blue.png@230,120", "-o", "comp.png",
                     "--mask-out", "mask.png"]) == 0
    return tmp_path


def _casts(path: str, folder: Path) -> list[float]:
    out = read_rgb(path)
    record = json.loads((folder / "comp.json").read_text())
    mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    objs = split_by_boxes(mask, [tuple(o["box"]) for o in record["objects"]], ["red", "blue"])
    return [cast(out, o.mask) for o in objs]


def test_cli_objects_default_is_the_paste_sidecar(pasted):
    before = _casts("comp.png", pasted)
    assert cli.main(["harmonize", "comp.png", "--mask", "mask.png", "-o", "out.png", "--backend", "reinhard"]) == 0
    record = json.loads(Path("out.json").read_text())
    assert record["objects"]["path"] == "comp.json"
    assert [o["label"] for o in record["stats"]["objects"]] == ["red", "blue"]
    assert all("target_mean_lab" in o for o in record["stats"]["objects"])
    after = _casts("out.png", pasted)
    assert all(a < 0.5 * b for a, b in zip(after, before))


@pytest.mark.parametrize("how, n", [("union", 0), ("components", 2), ("comp.json", 2)])
def test_cli_objects_each_way(pasted, how, n):
    assert cli.main(["harmonize", "comp.png", "--mask", "mask.png", "-o", "out.png", "--backend", "boundary",
                     "--objects", how]) == 0
    record = json.loads(Path("out.json").read_text())
    stats = record["stats"]
    assert len(stats.get("objects", [])) == n
    if n:
        gains = [o["gain"] for o in stats["objects"]]
        assert gains[0][0] < gains[0][2] and gains[1][0] > gains[1][2], gains  # red taken down, blue up
    else:
        assert record["objects"] == "union" and "gain" in stats


def test_cli_refuses_a_sidecar_that_does_not_match_the_mask(pasted, capsys):
    record = json.loads(Path("comp.json").read_text())
    record["objects"] = record["objects"][:1]  # the blue sticker's box is missing
    Path("other.json").write_text(json.dumps(record))
    rc = cli.main(["harmonize", "comp.png", "--mask", "mask.png", "-o", "out.png", "--backend", "boundary",
                   "--objects", "other.json"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.endswith("other.json: the paste record does not match the mask (4053 mask pixels lie outside every "
                        "object's box); use objects union or components, or the record of this composite.")
    assert len(err.splitlines()) == 1
    assert not Path("out.png").exists() and not Path("out.json").exists()


def test_cli_says_the_sidecar_it_refuses_was_found_beside_the_composite(pasted, capsys):
    """Without --objects, the paste record beside the composite is taken on its own; when the user's
    mask is another one, the sentence says where that record came from."""
    mask = cv2.imread("mask.png", cv2.IMREAD_GRAYSCALE)
    mask[:, : mask.shape[1] // 2] = 255  # a hand-edited mask: more than the paste's objects
    cv2.imwrite("edited.png", mask)
    rc = cli.main(["harmonize", "comp.png", "--mask", "edited.png", "-o", "out.png", "--backend", "boundary"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "comp.json: the paste record (found beside the composite) does not match the mask" in err
    assert "use objects union or components" in err
    assert not Path("out.png").exists() and not Path("out.json").exists()


def test_api_auto_reads_the_paste_record_once(pasted, monkeypatch):
    """``objects="auto"`` finds the record beside the composite and splits the mask by it,
    reading the record from disk once."""
    reads = []
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        if self.name == "comp.json":
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    comp = api.load_composite("comp.png", "mask.png", objects="auto")
    assert [o.label for o in comp.objects] == ["red", "blue"]
    assert len(reads) == 1, reads
