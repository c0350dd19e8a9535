"""Synthetic detection data: layouts, annotations, reproducibility, cut-once, resume after
SIGKILL, workers, and the Ray executor (a real local Ray).

Objects are small generated RGBA stickers (two categories in subfolders, plus one
top-level file) and one photo cut once with GrabCut; backgrounds are the samples,
scaled down. The classical backends keep it fast.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor import cli
from compositor.runs.paths import RESULTS
from compositor.errors import CompositorError, UsageError
from compositor.runs.executors import ProcessExecutor
from compositor.imageio import sha256_file
from compositor.synth import SynthSettings, coco_file, image_seed, image_split, parse_indices, parse_pair, synth
from compositor.synth.coco import decode, encode, polygons
from compositor.synth.layout import sample_layout

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def disc(colour, size=(48, 64)) -> np.ndarray:
    h, w = size
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = colour
    cv2.ellipse(rgba, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, (*colour, 255), -1)
    return rgba


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_inputs")
    objects, backgrounds, distractors = root / "objects", root / "backgrounds", root / "distractors"
    for folder in (objects / "ball", objects / "box", backgrounds, distractors):
        folder.mkdir(parents=True)
    Image.fromarray(disc((230, 30, 30))).save(objects / "ball" / "red.png")
    Image.fromarray(disc((240, 200, 20), (40, 40))).save(objects / "ball" / "yellow.png")
    square = np.zeros((36, 36, 4), np.uint8)
    square[2:34, 2:34] = (30, 30, 230, 255)
    Image.fromarray(square).save(objects / "box" / "blue.png")
    Image.fromarray(disc((20, 220, 20), (30, 70))).save(objects / "leaf.png")
    Image.fromarray(disc((255, 0, 255), (30, 30))).save(distractors / "magenta.png")
    for name in ("chelsea.png", "astronaut.png", "coffee.png"):
        im = Image.open(SAMPLES / name).convert("RGB")
        im.thumbnail((240, 240))
        im.save(backgrounds / name)
    return {"objects": objects, "backgrounds": backgrounds, "distractors": distractors}


def settings(**kw) -> SynthSettings:
    base = dict(count=6, seed=5, size=(160, 120), objects_per_image=(2, 4), backends=("none", "poisson", "reinhard"))
    return SynthSettings(**{**base, **kw})


def image_files(outdir: Path) -> list[Path]:
    """Every image of the run, both splits, in index order."""
    return sorted((outdir / "images").glob("*/*.png"), key=lambda p: p.stem)


def hashes(outdir: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in image_files(outdir)}


def load_coco(outdir: Path) -> dict:
    """Both splits' COCO files as one (image and annotation ids are unique across them)."""
    merged = {"images": [], "annotations": []}
    for split in ("train", "val"):
        path = outdir / coco_file(split)
        if path.exists():
            coco = json.loads(path.read_text())
            for im in coco["images"]:
                im["split"] = split
            merged["images"] += coco["images"]
            merged["annotations"] += coco["annotations"]
            merged["categories"] = coco["categories"]
    merged["images"].sort(key=lambda im: im["id"])
    merged["annotations"].sort(key=lambda a: a["id"])
    return merged


def check_dataset(outdir: Path, count: int, yolo: bool = False) -> dict:
    """Every image once, decodable, its hash in its sidecar, in the split its seed gives; one
    final ok line per image; COCO matches the files; YOLO labels match COCO; no temporary files."""
    images = image_files(outdir)
    assert len(images) == count
    rows = [json.loads(line) for line in (outdir / RESULTS).read_text().splitlines()]
    assert [r["id"] for r in rows] == [p.stem for p in images] and all(r["status"] == "ok" for r in rows)
    coco = load_coco(outdir)
    assert [(im["split"], im["file_name"]) for im in coco["images"]] == [(p.parent.name, p.name) for p in images]
    by_image = {im["id"]: im for im in coco["images"]}
    categories = {c["id"] for c in coco["categories"]}
    assert [a["id"] for a in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))
    for path, entry in zip(images, coco["images"]):
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["image"]["sha256"] == sha256_file(path)
        assert sidecar["image_seed"] == entry["seed"] == image_seed(sidecar["seed"], sidecar["index"])
        assert path.parent.name == sidecar["split"] == image_split(sidecar["seed"], sidecar["index"],
                                                                   json.loads((outdir / "run.json").read_text())
                                                                   ["settings"]["val"])
        with Image.open(path) as im:
            im.load()
            assert im.size == (entry["width"], entry["height"])
        annotations = [a for a in coco["annotations"] if a["image_id"] == entry["id"]]
        assert len(annotations) == len(sidecar["objects"])
        if yolo:
            lines = (outdir / "labels" / path.parent.name / (path.stem + ".txt")).read_text().splitlines()
            assert len(lines) == len(annotations)
    for a in coco["annotations"]:
        im = by_image[a["image_id"]]
        x, y, w, h = a["bbox"]
        assert a["category_id"] in categories and a["iscrowd"] == 0 and a["area"] > 0
        assert 0 <= x and 0 <= y and x + w <= im["width"] and y + h <= im["height"]
    assert not list(outdir.rglob("*.part"))
    return coco


# ----------------------------------------------------------------------------- outputs


def test_smoke(data, tmp_path):
    out = tmp_path / "out"
    summary = synth(data["objects"], data["backgrounds"], out, settings(yolo=True),
                    distractors=data["distractors"])
    assert (summary.ok, summary.failed) == (6, 0)
    assert summary.categories == ["ball", "box", "leaf"]
    assert " images/min; results in " in summary.line() and "composites" not in summary.line()  # synth makes images
    coco = check_dataset(out, 6, yolo=True)
    assert [c["name"] for c in coco["categories"]] == ["ball", "box", "leaf"]
    assert summary.annotations == len(coco["annotations"]) >= 6
    assert "names:" in (out / "data.yaml").read_text()
    # distractors are pasted but never annotated
    sidecars = [json.loads(p.read_text()) for p in sorted((out / "images").glob("*/*.json"))]
    assert sum(len(s["distractors"]) for s in sidecars) > 0
    assert all(o["category"] != "magenta" for s in sidecars for o in s["objects"])
    assert {s["backend"] for s in sidecars} <= {"none", "poisson", "reinhard"}


def test_annotations_are_the_visible_masks(data, tmp_path):
    """With backend none the pixels show which object is on top: each annotation's mask
    must be where that object's colour is visible (after occlusion and truncation)."""
    objects = data["objects"].parent / "solid"
    (objects / "red").mkdir(parents=True, exist_ok=True)
    (objects / "blue").mkdir(exist_ok=True)
    full = np.zeros((40, 40, 4), np.uint8)
    full[...] = (255, 0, 0, 255)
    full[0, 0, 3] = 0  # has transparency: used as a sticker
    Image.fromarray(full).save(objects / "red" / "r.png")
    full[..., :3] = (0, 0, 255)
    Image.fromarray(full).save(objects / "blue" / "b.png")
    bgs = tmp_path / "bg"
    bgs.mkdir()
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(bgs / "grey.png")
    out = tmp_path / "out"
    s = settings(count=8, backends=("none",), objects_per_image=(3, 5), segmentation="rle", max_occlusion=0.6)
    synth(objects, bgs, out, s)
    coco = check_dataset(out, 8)
    colours = {"red": np.array([255, 0, 0]), "blue": np.array([0, 0, 255])}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    for im in coco["images"]:
        pixels = np.asarray(Image.open(out / "images" / im["split"] / im["file_name"]).convert("RGB")).astype(int)
        for a in (a for a in coco["annotations"] if a["image_id"] == im["id"]):
            assert isinstance(a["segmentation"]["counts"], str)  # compressed RLE
            mask = decode(a["segmentation"], im["height"], im["width"])
            assert mask.sum() == a["area"]
            ys, xs = np.nonzero(mask)
            assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            core = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            if core.any():  # inside the visible mask the object's own colour shows
                diff = np.abs(pixels[core] - colours[names[a["category_id"]]]).max(axis=1)
                assert np.mean(diff < 40) > 0.95


def random_masks(n: int):
    """Blobs of every shape: several parts, holes, islands in holes, one-pixel lines, the border."""
    for seed in range(n):
        rng = np.random.default_rng(seed)
        h, w = (int(v) for v in rng.integers(8, 70, 2))
        mask = cv2.GaussianBlur(rng.random((h, w)), (0, 0), rng.uniform(0.5, 4)) > rng.uniform(0.45, 0.55)
        if mask.any():
            yield mask


def test_polygons_and_rle_decode_to_the_mask():
    """pycocotools decodes both segmentations back to exactly the mask, holes included, and its
    area and box are the mask's."""
    from compositor.synth.coco import area_and_box

    for mask in random_masks(120):
        h, w = mask.shape
        assert np.array_equal(decode(polygons(mask), h, w), mask)
        rle = encode(mask)
        assert isinstance(rle["counts"], str) and np.array_equal(decode(rle, h, w), mask)
        ys, xs = np.nonzero(mask)
        assert area_and_box(rle) == (int(mask.sum()), [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                                       ys.max() - ys.min() + 1])
    ring = np.zeros((40, 50), bool)
    ring[5:35, 5:45] = True
    ring[15:25, 15:35] = False  # the hole
    assert len(polygons(ring)) == 1 and not decode(polygons(ring), 40, 50)[20, 25]
    offset = polygons(ring[5:35, 5:45], (5, 5))  # a crop, placed back
    assert np.array_equal(decode(offset, 40, 50), ring)


def test_layout_limits():
    """Sampled placements respect the truncation limit and never hide more than the
    occlusion limit of an annotated object (measured on the final masks)."""
    from compositor.paste import placement_matrix

    def warp_alpha(alpha, x, y, scale, rotation, size):  # the whole canvas, as an independent reference
        matrix = placement_matrix(alpha.shape[1], alpha.shape[0], x, y, scale, rotation)
        return cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)

    alpha = np.zeros((30, 30), np.float32)
    alpha[3:27, 3:27] = 1.0
    table = [(alpha, float(alpha.sum()))]
    s = SynthSettings(count=1, size=(100, 80), objects_per_image=(4, 6), scale=(0.3, 0.6), max_truncation=0.2,
                      max_occlusion=0.3, backends=("none",))
    for seed in range(25):
        layout = sample_layout(np.random.default_rng(seed), s, backgrounds=1, background_size=lambda i: (100, 80),
                               objects=table)
        assert len(layout.placed) + layout.dropped >= 4
        visible = []
        for p in layout.placed:
            assert p.truncation <= 0.2
            a = warp_alpha(alpha, p.x, p.y, p.scale, p.rotation, (100, 80))
            visible = [(v * (1 - a), area) for v, area in visible] + [(a, float(a.sum()))]
        for v, area in visible:
            assert 1 - v.sum() / area <= 0.3 + 1e-6


@pytest.mark.slow
def test_reproducible_and_independent_of_workers(data, tmp_path):
    s = settings(count=6, seed=11)
    synth(data["objects"], data["backgrounds"], tmp_path / "a", s)
    with ProcessExecutor(2) as ex:  # a caller's executor: its workers serve two runs
        synth(data["objects"], data["backgrounds"], tmp_path / "b", s, executor=ex)
        assert hashes(tmp_path / "a") == hashes(tmp_path / "b")
        # any image can be regenerated alone
        summary = synth(data["objects"], data["backgrounds"], tmp_path / "c", s, indices=[4], executor=ex)
        assert len(ex._pool) == 2
    assert summary.ok == 1 and hashes(tmp_path / "c") == {"000004.png": hashes(tmp_path / "a")["000004.png"]}
    # another seed, other images
    synth(data["objects"], data["backgrounds"], tmp_path / "d", settings(count=6, seed=12))
    assert set(hashes(tmp_path / "d").values()).isdisjoint(hashes(tmp_path / "a").values())


@pytest.mark.slow
def test_objects_are_cut_once(data, tmp_path, monkeypatch):
    import compositor.api as api

    objects = tmp_path / "photos"
    objects.mkdir()
    photo = Image.open(SAMPLES / "coffee.png").convert("RGB")
    photo.thumbnail((240, 240))
    photo.save(objects / "cup.png")
    calls = []
    real_cut = api.cut
    monkeypatch.setattr(api, "cut", lambda *a, **k: calls.append(1) or real_cut(*a, **k))
    out = tmp_path / "out"
    summary = synth(objects, data["backgrounds"], out, settings(count=5, objects_per_image=(2, 2)))
    assert summary.ok == 5 and summary.objects_cut == 1 and len(calls) == 1
    assert (out / "objects" / "cup.png").exists()
    sticker = json.loads((out / "objects" / "cup.json").read_text())
    assert sticker["sha256"] == sha256_file(out / "objects" / "cup.png")
    # a resumed run reuses the cut-out (and skips the finished images)
    next((out / "images").glob("*/000002.json")).unlink()
    said = []
    summary = synth(objects, data["backgrounds"], out, settings(count=5, objects_per_image=(2, 2)), resume=True,
                    log=said.append)
    assert len(calls) == 1 and (summary.skipped, summary.ok) == (4, 5)
    assert any("1 kept from the earlier run" in line for line in said), said  # not "cut" a second time
    check_dataset(out, 5)
    # resuming with other settings would mix two datasets in one folder
    with pytest.raises(UsageError, match="used other settings"):
        synth(objects, data["backgrounds"], out, settings(count=5, seed=6, objects_per_image=(2, 2)), resume=True)


@pytest.mark.parametrize("kw, message", [
    (dict(scale=(0.6, 0.2)), "MIN <= MAX"),
    (dict(backends=("warp",)), "unknown harmonizer"),
    (dict(max_occlusion=1.5), "max occlusion"),
    (dict(backend_settings={"vgg19": {"iterations": 2}}), "not among the backends"),
    (dict(count=0), "count"),
])
def test_exception_settings(kw, message):
    with pytest.raises(UsageError, match=message):
        settings(**kw).validate()


def test_exception_folders(data, tmp_path, capsys):
    with pytest.raises(UsageError, match="overlaps the input folder"):
        synth(data["objects"], data["backgrounds"], data["backgrounds"] / "out", settings())
    with pytest.raises(UsageError, match="no such folder of objects"):
        synth(tmp_path / "nothing", data["backgrounds"], tmp_path / "out", settings())
    code = cli.main(["synth", "--objects", str(data["objects"]), "--backgrounds", str(data["backgrounds"]),
                     "-n", "3", "-o", str(tmp_path / "out"), "--scale", "big"])
    assert code == 2 and "--scale must be MIN,MAX" in capsys.readouterr().err
    # a setting out of range names the option that sets it, where the option's name is not the setting's
    for option, value, named in (("--object-size", "0,1", "(scale, --object-size)"), ("-n", "0", "count (-n)"),
                                 ("--val", "2", "val (--val)")):
        argv = ["synth", "--objects", str(data["objects"]), "--backgrounds", str(data["backgrounds"]), "-n", "3",
                "-o", str(tmp_path / "out"), option, value]
        assert cli.main(argv) == 2 and named in capsys.readouterr().err, option
    assert not (tmp_path / "out").exists()
    # an option given empty is refused, not read as left out (no distractors, every image, the default size)
    for option in ("--distractors", "--only", "--size"):
        argv = ["synth", "--objects", str(data["objects"]), "--backgrounds", str(data["backgrounds"]), "-n", "3",
                "-o", str(tmp_path / "out"), option, ""]
        assert cli.main(argv) == 2 and f"{option} is empty" in capsys.readouterr().err, option
    assert not (tmp_path / "out").exists()
    code = cli.main(["synth", "--objects", str(data["objects"]), "--backgrounds", str(data["backgrounds"]),
                     "-n", "3", "-o", str(tmp_path / "out"), "--workers", "2", "--threads", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "compositor: error: threads must be 1 or more; received 0."
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert parse_pair("0.5", "x") == (0.5, 0.5) and parse_indices("3,5-7", 10) == [3, 5, 6, 7]


# ----------------------------------------------------------------------------- kill and resume


@pytest.mark.slow
def test_sigkill_then_resume(data, tmp_path):
    """A real `compositor synth` run killed with SIGKILL mid-way, then resumed: every image
    exactly once, complete, matching its sidecar, one ok line each, COCO and YOLO consistent."""
    out = tmp_path / "out"
    n = 100
    command = [sys.executable, "-m", "compositor.cli", "synth", "--objects", str(data["objects"]),
               "--backgrounds", str(data["backgrounds"]), "--distractors", str(data["distractors"]),
               "-n", str(n), "-o", str(out), "--size", "320x240", "--workers", "2", "--yolo", "-q",
               "--instance-masks", "--voc", "--val", "0.2",
               "--backend", "poisson,reinhard", "--seed", "3"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "images").glob("*/*.json"))) >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)
    done_before = len(list((out / "images").glob("*/*.json")))
    assert 0 < done_before < n
    assert not (out / coco_file("train")).exists()
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{n} job(s): {n} ok, 0 failed" in result.stderr
    check_dataset(out, n, yolo=True)
    rows = [json.loads(line) for line in (out / RESULTS).read_text().splitlines()]
    assert len(rows) == len({r["id"] for r in rows}) == n
    for folder, suffix in (("labels", ".txt"), ("masks", ".png"), ("voc", ".xml")):
        assert sorted(p.stem for p in (out / folder).glob(f"*/*{suffix}")) == [p.stem for p in image_files(out)]
    check_voc(out)


# ----------------------------------------------------------------------------- Ray


@pytest.mark.slow
def test_ray_executor_matches_local(data, tmp_path):
    ray = pytest.importorskip("ray")
    s = settings(count=4, seed=21)
    synth(data["objects"], data["backgrounds"], tmp_path / "local", s)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = synth(data["objects"], data["backgrounds"], tmp_path / "ray", s, executor="ray", workers=2)
        assert ray.is_initialized()  # a Ray the caller started is left running
    finally:
        ray.shutdown()
    assert summary.ok == 4
    assert len({r["worker"] for r in summary.records}) == 2 and all(r["worker"] != os.getpid() for r in summary.records)
    assert hashes(tmp_path / "ray") == hashes(tmp_path / "local")
    check_dataset(tmp_path / "ray", 4)


# ----------------------------------------------------------------------------- the run folder and data.yaml


def test_a_run_that_fails_before_its_first_image_leaves_no_run_folder(data, tmp_path, capsys):
    """Usage errors are found before OUTDIR is made; a run that fails before its first image
    (no object could be made ready) takes OUTDIR back, so the fixed command just runs."""
    out = tmp_path / "out"
    common = ["--backgrounds", str(data["backgrounds"]), "-n", "2", "-o", str(out), "-q", "--size", "80x60"]
    assert cli.main(["synth", "--objects", str(data["objects"]), "--workers", "0", *common]) == 2
    assert "workers must be 1 or more" in capsys.readouterr().err
    assert not out.exists()
    text_only = tmp_path / "text_only"
    text_only.mkdir()
    (text_only / "notes.txt").write_text("not an image")
    assert cli.main(["synth", "--objects", str(text_only), *common]) == 2
    assert not out.exists()
    (text_only / "notes.png").write_text("not an image either")  # an image's name, not its contents
    assert cli.main(["synth", "--objects", str(text_only), *common]) == 1
    err = capsys.readouterr().err
    assert "no object could be made ready" in err
    left_out = next(line for line in err.splitlines() if "left out" in line)
    assert left_out.count("notes.png") == 1, left_out  # the file is named once
    assert not out.exists()
    assert cli.main(["synth", "--objects", str(data["objects"]), *common]) == 0  # no --resume needed
    check_dataset(out, 2)


def test_yolo_data_yaml_quotes_the_path(data, tmp_path):
    out = tmp_path / "o" / "my: data #1 'x' \"y\" é"
    synth(data["objects"], data["backgrounds"], out, settings(count=1, size=(80, 60), yolo=True))
    text = (out / "data.yaml").read_text()
    assert f"path: {json.dumps(str(out.resolve()))}\n" in text
    yaml = pytest.importorskip("yaml")  # a test dependency (pyproject's test extra); skipped visibly without it
    parsed = yaml.safe_load(text)
    assert parsed["path"] == str(out.resolve()) and parsed["train"] == "images/train"
    assert set(parsed["names"].values()) == {"ball", "box", "leaf"}


@pytest.mark.parametrize("text, words", [("5-2", ("5-2", "backwards", "2-5")), ("3,12", ("12", "between 0 and 9"))])
def test_exception_only_indices(text, words):
    """A backwards range says so (it used to be called out of range)."""
    with pytest.raises(UsageError) as info:
        parse_indices(text, 10)
    for word in words:
        assert word in str(info.value)


# ----------------------------------------------------------------------------- datasets that train


def donut(colour, size=60) -> np.ndarray:
    """A ring: an object with a hole the background shows through."""
    rgba = np.zeros((size, size, 4), np.uint8)
    cv2.circle(rgba, (size // 2, size // 2), size // 2 - 2, (*colour, 255), -1)
    cv2.circle(rgba, (size // 2, size // 2), size // 5, (0, 0, 0, 0), -1)
    return rgba


@pytest.fixture(scope="module")
def holed(data, tmp_path_factory):
    """Objects with holes (a ring) beside solid ones."""
    objects = tmp_path_factory.mktemp("holed")
    (objects / "ring").mkdir()
    Image.fromarray(donut((250, 120, 0))).save(objects / "ring" / "orange.png")
    Image.fromarray(donut((0, 160, 250), 44)).save(objects / "ring" / "blue.png")
    (objects / "ball").mkdir()
    Image.fromarray(disc((230, 30, 30))).save(objects / "ball" / "red.png")
    return objects


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools 2.0 and NumPy 2, inside annToMask
@pytest.mark.parametrize("segmentation", ["polygon", "rle"])
def test_coco_loads_in_pycocotools_and_matches_the_instance_masks(data, holed, tmp_path, segmentation):
    """COCO files load in pycocotools.coco.COCO; every annotation's annToMask is the instance
    mask the image was rendered with (IoU >= 0.99; the writer makes them equal), holes included;
    area and box agree with the mask; k in the mask is the image's k-th annotation."""
    from pycocotools.coco import COCO

    out = tmp_path / "out"
    s = settings(count=8, val=0.4, objects_per_image=(2, 3), scale=(0.4, 0.7), segmentation=segmentation,
                 instance_masks=True)
    summary = synth(holed, data["backgrounds"], out, s)
    assert summary.ok == 8 and set(summary.coco) == {"train", "val"}
    holes = 0
    for split in ("train", "val"):
        coco = COCO(str(out / coco_file(split)))
        for image_id, im in coco.imgs.items():
            labels = np.asarray(Image.open(out / "masks" / split / (Path(im["file_name"]).stem + ".png")))
            assert labels.shape == (im["height"], im["width"])
            ann_ids = coco.getAnnIds(imgIds=[image_id])
            assert sorted(np.unique(labels)) == list(range(len(ann_ids) + 1))  # 0 and 1..k, nothing else
            for k, ann in enumerate(coco.loadAnns(ann_ids), 1):
                decoded = coco.annToMask(ann).astype(bool)
                rendered = labels == k
                iou = (decoded & rendered).sum() / (decoded | rendered).sum()
                assert iou >= 0.99, (split, image_id, k, iou)
                assert ann["area"] == rendered.sum()
                ys, xs = np.nonzero(rendered)
                assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
                filled = np.zeros(rendered.shape, np.uint8)  # the mask with its holes filled
                contours, _ = cv2.findContours(rendered.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(filled, contours, -1, 1, -1)
                if coco.cats[ann["category_id"]]["name"] == "ring" and (filled.sum() - rendered.sum()) > 20:
                    holes += 1  # a ring whose hole shows: the hole stays out of the annotation
                    assert not (decoded & (filled.astype(bool) & ~rendered)).any()
    assert holes >= 3


def test_splits_follow_each_image_seed(data, tmp_path):
    """--val puts about that fraction in val, each image where its own seed says, train and val
    disjoint; --only makes an image in the split it has in the full run; --val 0 is train only and
    data.yaml says there is no val split."""
    out = tmp_path / "out"
    s = settings(count=40, val=0.25, size=(64, 48), objects_per_image=(1, 1), backends=("none",), yolo=True)
    synth(data["objects"], data["backgrounds"], out, s)
    coco = check_dataset(out, 40, yolo=True)
    split_of = {im["file_name"]: im["split"] for im in coco["images"]}
    val = [name for name, split in split_of.items() if split == "val"]
    assert 4 <= len(val) <= 18  # 10 expected
    assert [image_split(5, i, 0.25) for i in range(40)] == [split_of[f"{i:06d}.png"] for i in range(40)]
    one = tmp_path / "one"
    synth(data["objects"], data["backgrounds"], one, s, indices=[int(Path(val[0]).stem)])
    assert (one / "images" / "val" / val[0]).is_file()
    assert sha256_file(one / "images" / "val" / val[0]) == sha256_file(out / "images" / "val" / val[0])
    none = tmp_path / "none"
    synth(data["objects"], data["backgrounds"], none, settings(count=6, val=0.0, size=(64, 48), yolo=True))
    assert not (none / "images" / "val").exists() and not (none / coco_file("val")).exists()
    assert len(json.loads((none / coco_file("train")).read_text())["images"]) == 6
    yaml = pytest.importorskip("yaml")
    parsed = yaml.safe_load((none / "data.yaml").read_text())
    assert parsed["train"] == "images/train" and parsed["val"] is None
    assert "no validation split" in (none / "data.yaml").read_text()


def test_a_val_split_no_image_drew_is_null_in_data_yaml(data, tmp_path):
    """A small run where no image's seed drew val: data.yaml says val is null (a YOLO trainer
    fails on an empty folder), and says how to get one; growing the run until an image draws
    val points val at its folder."""
    yaml = pytest.importorskip("yaml")
    draws = [image_split(5, i, 0.1) for i in range(60)]
    first_val = draws.index("val")
    assert first_val >= 1, "seed 5 draws val for image 0; the case needs a run with no val image"
    out = tmp_path / "out"
    s = settings(count=first_val, val=0.1, size=(64, 48), objects_per_image=(1, 1), backends=("none",), yolo=True)
    synth(data["objects"], data["backgrounds"], out, s)
    text = (out / "data.yaml").read_text()
    assert yaml.safe_load(text)["val"] is None and "no image of this run drew the val split" in text
    synth(data["objects"], data["backgrounds"], out, settings(count=first_val + 1, val=0.1, size=(64, 48),
          objects_per_image=(1, 1), backends=("none",), yolo=True), resume=True)
    assert yaml.safe_load((out / "data.yaml").read_text())["val"] == "images/val"


def test_a_train_split_no_image_drew_is_said(data, tmp_path):
    """--val 0.5 -n 2 where both images drew val: data.yaml keeps train (YOLO requires it) on the
    folder that exists, with a comment that it is empty; val names its folder; synth says so."""
    yaml = pytest.importorskip("yaml")
    seed = next(s for s in range(100) if [image_split(s, i, 0.5) for i in range(2)] == ["val", "val"])
    out, notes = tmp_path / "out", []
    s = settings(count=2, seed=seed, val=0.5, size=(64, 48), backends=("none",), yolo=True)
    synth(data["objects"], data["backgrounds"], out, s, log=notes.append)
    text = (out / "data.yaml").read_text()
    spec = yaml.safe_load(text)
    assert spec["train"] == "images/train" and spec["val"] == "images/val"
    assert (out / "images" / "train").is_dir() and not list((out / "images" / "train").iterdir())
    assert "empty: no image of this run drew the train split" in text
    assert any("no image fell in the train split" in n and "lower --val" in n for n in notes), notes


def test_a_background_that_is_not_an_image_is_left_out(data, tmp_path):
    """A file in the backgrounds folder that no reader takes is left out with a note before the
    run, rather than failing every image that draws it; with none readable the run is refused
    in one sentence and makes no folder."""
    import shutil

    backgrounds = tmp_path / "backgrounds"
    shutil.copytree(data["backgrounds"], backgrounds)
    (backgrounds / "broken.png").write_bytes(b"not a png")
    notes = []
    summary = synth(data["objects"], backgrounds, tmp_path / "out", settings(count=6, size=(64, 48)), log=notes.append)
    assert (summary.ok, summary.failed) == (6, 0)
    assert f"{backgrounds / 'broken.png'}: left out: not an image file (or a format Pillow cannot read)." in notes
    used = {json.loads(p.read_text())["background"]["path"] for p in (tmp_path / "out" / "images").glob("*/*.json")}
    assert used and not any("broken" in p for p in used)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "a.jpg").write_bytes(b"")
    (only_bad / "b.png").write_bytes(b"not a png")
    with pytest.raises(CompositorError) as info:
        synth(data["objects"], only_bad, tmp_path / "none", settings(count=2))
    assert re.fullmatch(r".*bad: no background could be read \(2 file\(s\) left out\); the first: .*a\.jpg: left "
                        r"out: the file is empty \(0 bytes\), not an image file\.", str(info.value)), str(info.value)
    assert not (tmp_path / "none").exists()


def test_no_readable_background_is_refused_before_any_object_is_cut(data, tmp_path, monkeypatch):
    """The backgrounds' headers are read before the run starts: with none readable, no object
    is cut (a folder of photos may take minutes) and every file left out is told."""
    import compositor.synth

    def no_cutting(*args, **kwargs):
        raise AssertionError("objects were made ready before the backgrounds were checked")

    monkeypatch.setattr(compositor.synth, "prepare_objects", no_cutting)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "a.jpg").write_bytes(b"")
    (only_bad / "b.png").write_bytes(b"not a png")
    notes = []
    with pytest.raises(CompositorError, match="no background could be read"):
        synth(data["objects"], only_bad, tmp_path / "none", settings(count=2), log=notes.append)
    assert [n.split(": left out: ")[0] for n in notes] == [str(only_bad / "a.jpg"), str(only_bad / "b.png")]
    assert not (tmp_path / "none").exists()


def test_yolo_labels_follow_the_format(data, tmp_path):
    """YOLO's rules: data.yaml names the root, train and val image folders that exist and
    every class id; each image has a label file of the same stem in labels/ where images/ is
    (images/train -> labels/train), one line per annotated object: an integer class id among
    names and four normalised numbers (centre x, y, width, height) in [0, 1], the box inside the
    image; train and val are disjoint and together every image."""
    yaml = pytest.importorskip("yaml")
    out = tmp_path / "out"
    synth(data["objects"], data["backgrounds"], out, settings(count=12, val=0.3, yolo=True),
          distractors=data["distractors"])
    spec = yaml.safe_load((out / "data.yaml").read_text())
    root = Path(spec["path"])
    assert root == out.resolve() and spec["nc"] == len(spec["names"]) == 3
    assert sorted(spec["names"]) == list(range(3))
    coco = load_coco(out)
    by_file = {(im["split"], Path(im["file_name"]).stem): im for im in coco["images"]}
    seen = {}
    for key in ("train", "val"):
        folder = root / spec[key]
        assert folder.is_dir()
        stems = {p.stem for p in folder.glob("*.png")}
        seen[key] = stems
        labels = Path(str(folder).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"))
        assert {p.stem for p in labels.glob("*.txt")} == stems
        for stem in stems:
            im = by_file[(key, stem)]
            annotations = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
            lines = (labels / f"{stem}.txt").read_text().splitlines()
            assert len(lines) == len(annotations)
            for line, a in zip(lines, annotations):
                fields = line.split()
                assert len(fields) == 5 and fields[0].isdigit() and int(fields[0]) in spec["names"]
                cx, cy, w, h = map(float, fields[1:])
                assert all(0.0 <= v <= 1.0 for v in (cx, cy, w, h)) and w > 0 and h > 0
                assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6 and cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6
                assert spec["names"][int(fields[0])] == coco["categories"][a["category_id"] - 1]["name"]
                x, y, bw, bh = a["bbox"]
                assert abs(cx * im["width"] - (x + bw / 2)) < 0.01 and abs(w * im["width"] - bw) < 0.01
    assert seen["train"].isdisjoint(seen["val"]) and len(seen["train"] | seen["val"]) == 12
    assert seen["val"]  # 12 images at 0.3: this seed gives both splits


def voc_dataset(root: Path, image_set: str) -> list[tuple[Path, Path]]:
    """(image, annotation) per id of ``ImageSets/Main/IMAGE_SET.txt``, found the way VOC readers
    find them (torchvision's VOCDetection, detectron2, mmdetection): ``JPEGImages/ID.*`` and
    ``Annotations/ID.xml`` under the VOC root."""
    ids = (root / "ImageSets" / "Main" / f"{image_set}.txt").read_text().split()
    pairs = []
    for i in ids:
        (image,) = (root / "JPEGImages").glob(f"{i}.*")
        pairs.append((image, root / "Annotations" / f"{i}.xml"))
    return pairs


def check_voc(out: Path, val: bool = True) -> dict:
    """The VOC root in ``out/voc``: split lists that are COCO's splits (trainval both, in order),
    each id's image link opening the split's image, and each XML with the fields VOC readers
    take (folder, filename, size with depth, segmented; per object name, pose, truncated,
    difficult, and bndbox in VOC's 1-based inclusive whole pixels equal to COCO's box)."""
    import xml.etree.ElementTree as ET

    coco = load_coco(out)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    root = out / "voc"
    lists = sorted(p.name for p in (root / "ImageSets" / "Main").iterdir())
    assert lists == (["train.txt", "trainval.txt", "val.txt"] if val else ["train.txt", "trainval.txt"])
    seen = {}
    for image_set in ("train", "val", "trainval") if val else ("train", "trainval"):
        pairs = voc_dataset(root, image_set)
        stems = [image.stem for image, _ in pairs]
        expected = [Path(im["file_name"]).stem for im in coco["images"] if image_set in ("trainval", im["split"])]
        assert stems == expected
        seen[image_set] = stems
    assert sorted(p.name for p in (root / "Annotations").iterdir()) == [f"{s}.xml" for s in seen["trainval"]]
    for im in coco["images"]:
        stem = Path(im["file_name"]).stem
        link = root / "JPEGImages" / im["file_name"]
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.read_bytes() == (out / "images" / im["split"] / im["file_name"]).read_bytes()
        xml = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
        assert xml.tag == "annotation" and xml.findtext("filename") == im["file_name"]
        assert xml.findtext("folder") == im["split"] and xml.findtext("segmented") == "0"
        assert [xml.findtext(f"size/{k}") for k in ("width", "height", "depth")] == \
            [str(im["width"]), str(im["height"]), "3"]
        objects = xml.findall("object")
        annotations = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        assert len(objects) == len(annotations)
        for node, a in zip(objects, annotations):
            x, y, w, h = a["bbox"]
            assert node.findtext("name") == names[a["category_id"]] and node.findtext("pose") == "Unspecified"
            assert node.findtext("truncated") in ("0", "1") and node.findtext("difficult") == "0"
            text = [node.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
            assert all(t.isdigit() for t in text)  # whole pixels, as VOC writes them
            box = [int(t) for t in text]
            assert box == [x + 1, y + 1, x + w, y + h]
            assert 1 <= box[0] <= box[2] <= im["width"] and 1 <= box[1] <= box[3] <= im["height"]
    return seen


def test_voc_root_per_image(data, tmp_path):
    """--voc: a Pascal VOC root whose lists follow the splits; its boxes COCO's in VOC's pixels."""
    out = tmp_path / "out"
    synth(data["objects"], data["backgrounds"], out, settings(count=8, val=0.3, voc=True))
    seen = check_voc(out)
    assert seen["train"] and seen["val"]  # this seed gives both splits
    flat = tmp_path / "flat"
    synth(data["objects"], data["backgrounds"], flat, settings(count=3, val=0, voc=True))
    assert check_voc(flat, val=False)["train"] == ["000000", "000001", "000002"]


def test_voc_lists_follow_resume_and_growth(data, tmp_path):
    """A 5-image run grown to 9 has the VOC root of a fresh 9-image run (lists, XML and links);
    an image missing when the run resumes is remade and listed again, never listed while gone."""
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    s = dict(val=0.3, voc=True, size=(64, 48))
    synth(data["objects"], data["backgrounds"], grown, settings(count=5, **s))
    synth(data["objects"], data["backgrounds"], grown, settings(count=9, **s), resume=True)
    synth(data["objects"], data["backgrounds"], fresh, settings(count=9, **s))

    def tree(root):
        return {p.relative_to(root).as_posix(): (os.readlink(p) if p.is_symlink() else p.read_bytes())
                for p in (root / "voc").rglob("*") if p.is_file()}

    assert tree(grown) == tree(fresh)
    seen = check_voc(grown)
    assert len(seen["trainval"]) == 9 and seen["val"]
    (grown / "images" / "train" / f"{seen['train'][0]}.png").unlink()  # lost: remade on resume
    summary = synth(data["objects"], data["backgrounds"], grown, settings(count=9, **s), resume=True)
    assert (summary.skipped, summary.ok) == (8, 9)
    assert tree(grown) == tree(fresh)


def test_growing_a_run_equals_a_fresh_run(data, holed, tmp_path):
    """A 10-image run resumed with -n 14 keeps its 10 images byte for byte and adds the 4 a fresh
    14-image run makes: images, instance masks and annotations are the same files. Any other
    setting changed on resume is refused, naming it; so is a smaller count."""
    s = dict(size=(64, 48), val=0.3, instance_masks=True, yolo=True, objects_per_image=(1, 3))
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    synth(holed, data["backgrounds"], grown, settings(count=10, **s))
    before = {p.relative_to(grown): sha256_file(p) for p in grown.rglob("*.png") if "objects" not in p.parts}
    summary = synth(holed, data["backgrounds"], grown, settings(count=14, **s), resume=True)
    assert (summary.skipped, summary.ok, summary.total) == (10, 14, 14)
    synth(holed, data["backgrounds"], fresh, settings(count=14, **s))

    def files(root):
        return {p.relative_to(root): sha256_file(p) for p in root.rglob("*")
                if p.suffix in (".png", ".txt", ".yaml") and p.name != "data.yaml"}

    assert files(grown) == files(fresh) and len(files(grown)) == 14 * 3
    assert all(files(grown)[path] == digest for path, digest in before.items())
    for split in ("train", "val"):
        a, b = (json.loads((root / coco_file(split)).read_text()) for root in (grown, fresh))
        assert a["images"] == b["images"] and a["annotations"] == b["annotations"]
    check_dataset(grown, 14, yolo=True)
    with pytest.raises(UsageError, match=r"used other settings: seed \(--seed\) 5 \(now 6\)"):
        synth(holed, data["backgrounds"], grown, settings(count=16, **{**s, "seed": 6}), resume=True)
    with pytest.raises(UsageError, match=r"val \(--val\) 0.3 \(now 0.2\)"):
        synth(holed, data["backgrounds"], grown, settings(count=14, **{**s, "val": 0.2}), resume=True)
    with pytest.raises(UsageError, match=r"object size \(scale, --object-size\) [0-9.]+,[0-9.]+ \(now 0.2,0.3\)"):
        synth(holed, data["backgrounds"], grown, settings(count=14, **{**s, "scale": (0.2, 0.3)}), resume=True)
    with pytest.raises(UsageError, match="made 14 images.*not shrink it to 12"):
        synth(holed, data["backgrounds"], grown, settings(count=12, **s), resume=True)


def test_resume_remakes_an_image_whose_instance_mask_is_gone(data, tmp_path):
    """The instance mask is one of the image's outputs: its sha256 is in the sidecar, so a
    resumed run remakes an image whose mask is missing or changed (and only that one)."""
    out = tmp_path / "out"
    s = settings(count=3, size=(64, 48), instance_masks=True)
    synth(data["objects"], data["backgrounds"], out, s)
    masks = sorted((out / "masks").glob("*/*.png"))
    first = sha256_file(masks[0])
    masks[0].unlink()
    masks[1].write_bytes(masks[2].read_bytes())
    summary = synth(data["objects"], data["backgrounds"], out, s, resume=True)
    assert (summary.skipped, summary.redone, summary.ok) == (1, 2, 3)
    assert sha256_file(masks[0]) == first
    check_dataset(out, 3)
