"""``compositor cut`` on a folder of photos, through pipes, and with --mask-out: the real
default cutter (U²-Net-p weights) on small copies of the sample photos."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def small(name: str, target: Path, size: int = 240) -> Path:
    im = Image.open(SAMPLES / name).convert("RGB")
    im.thumbnail((size, size))
    target.parent.mkdir(parents=True, exist_ok=True)
    im.save(target)
    return target


def rgba(path_or_bytes) -> np.ndarray:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(source) as im:
        return np.asarray(im.convert("RGBA"))


def check_mask(mask_path: Path, photo: Path, stickers: list[Path]) -> None:
    """The mask has the photo's size, 8 bits, and holds each sticker's alpha where it was cut
    (the union, by maximum) and 0 everywhere else."""
    with Image.open(mask_path) as im:
        assert im.mode == "L"
        mask = np.asarray(im)
    with Image.open(photo) as im:
        assert mask.shape == (im.height, im.width)
    expected = np.zeros_like(mask)
    for path in stickers:
        x, y, w, h = json.loads(path.with_suffix(".json").read_text())["source_box"]
        alpha = rgba(path)[..., 3]
        assert alpha.shape == (h, w)
        expected[y:y + h, x:x + w] = np.maximum(expected[y:y + h, x:x + w], alpha)
    assert np.abs(mask.astype(int) - expected).max() <= 1
    assert 0.02 < (mask > 127).mean() < 0.9


def test_mask_out_is_full_size(tmp_path, capsys):
    photo = small("coffee.png", tmp_path / "coffee.png")
    assert cli.main(["cut", str(photo), "-o", str(tmp_path / "s.png"), "--mask-out", str(tmp_path / "m.png")]) == 0
    check_mask(tmp_path / "m.png", photo, [tmp_path / "s.png"])


@pytest.mark.slow
def test_folder_of_photos(tmp_path, capsys):
    """Every photo of a folder (subfolders kept) is cut, with a progress bar; a photo that fails
    is reported and the rest go on; exit 1 for the failure."""
    photos = tmp_path / "photos"
    small("coffee.png", photos / "coffee.jpg")
    small("chelsea.png", photos / "pets" / "chelsea.png")
    small("astronaut.png", photos / "astronaut.webp")
    (photos / "broken.png").write_bytes(b"not a png at all")
    (photos / "notes.txt").write_text("not a photo")
    out, masks = tmp_path / "stickers", tmp_path / "masks"
    code = cli.main(["cut", str(photos), "-o", str(out), "--mask-out", str(masks)])
    err = capsys.readouterr().err
    assert code == 1
    assert "4/4" in err and "photo" in err  # the bar reached the end
    failures = [line for line in err.splitlines() if "failed:" in line and "broken.png" in line]
    assert len(failures) == 1 and "not an image" in failures[0]
    assert "4 photo(s): 3 cut" in err and "1 failed" in err
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert made == ["astronaut.png", "coffee.png", "pets/chelsea.png"]
    for rel in made:
        source = next(p for p in photos.rglob(f"{Path(rel).stem}.*"))
        sidecar = json.loads((out / rel).with_suffix(".json").read_text())
        assert sidecar["photo"]["path"] == str(source) and sidecar["method"] == "u2net"
        check_mask(masks / rel, source, [out / rel])
    assert not (out / "broken.png").exists() and not list(tmp_path.rglob(".*.part"))


@pytest.mark.slow
def test_folder_outputs_are_the_same_for_1_and_2_workers(tmp_path):
    """--workers 2 runs the photos on two worker processes (the run executor batch uses): the
    same progress bar and failure line, and byte for byte the same stickers, sidecars and masks
    as one worker in this process."""
    photos = tmp_path / "photos"
    small("coffee.png", photos / "coffee.jpg")
    small("chelsea.png", photos / "pets" / "chelsea.png")
    small("astronaut.png", photos / "astronaut.png", 200)
    (photos / "broken.png").write_bytes(b"not a png at all")
    trees, errs = [], []
    for n in (1, 2):
        out, masks = tmp_path / f"stickers{n}", tmp_path / f"masks{n}"
        done = subprocess.run([sys.executable, "-m", "compositor.cli", "cut", str(photos), "-o", str(out),
                               "--mask-out", str(masks), "--workers", str(n)], env=ENV, capture_output=True, text=True)
        assert done.returncode == 1, done.stderr
        errs.append(done.stderr)
        trees.append({(root.name[:-1], p.relative_to(root).as_posix()): p.read_bytes()
                      for root in (out, masks) for p in root.rglob("*") if p.is_file()})
    assert trees[0] == trees[1]
    assert sorted(trees[0]) == [("masks", "astronaut.png"), ("masks", "coffee.png"), ("masks", "pets/chelsea.png"),
                                ("stickers", "astronaut.json"), ("stickers", "astronaut.png"),
                                ("stickers", "coffee.json"), ("stickers", "coffee.png"),
                                ("stickers", "pets/chelsea.json"), ("stickers", "pets/chelsea.png")]
    for err in errs:
        assert "4/4" in err and "photo" in err
        failures = [line for line in err.splitlines() if "failed:" in line]
        assert len(failures) == 1 and f"{photos / 'broken.png'}: failed: not an image" in failures[0], err
        assert "4 photo(s): 3 cut (3 sticker(s), u2net), 1 failed" in err
    assert not list(tmp_path.rglob(".*.part"))


def test_folder_with_all_writes_numbered_stickers(tmp_path, capsys):
    photos = tmp_path / "photos"
    small("coffee.png", photos / "coffee.png")
    code = cli.main(["cut", str(photos), "-o", str(tmp_path / "out"), "--all", "--mask-out", str(tmp_path / "m"),
                     "-q"])
    assert code == 0
    stickers = sorted((tmp_path / "out").glob("coffee_*.png"))
    assert stickers and stickers[0].name == "coffee_1.png"
    check_mask(tmp_path / "m" / "coffee.png", photos / "coffee.png", stickers)
    assert "|" not in capsys.readouterr().err  # -q: no bar


@pytest.mark.slow
def test_pipes(tmp_path):
    """cut - -o - reads the photo from stdin and writes the sticker's PNG to stdout: the same
    pixels as the file-to-file command; --mask-out - sends the mask there instead."""
    photo = small("coffee.png", tmp_path / "coffee.png")
    base = [sys.executable, "-m", "compositor.cli", "cut"]
    assert subprocess.run(base + [str(photo), "-o", str(tmp_path / "s.png"), "--mask-out", str(tmp_path / "m.png")],
                          env=ENV, capture_output=True).returncode == 0
    done = subprocess.run(base + ["-", "-o", "-", "--mask-out", str(tmp_path / "pm.png")], input=photo.read_bytes(),
                          env=ENV, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"\x89PNG") and b"standard output" in done.stderr
    assert np.array_equal(rgba(done.stdout), rgba(tmp_path / "s.png"))
    assert (tmp_path / "pm.png").read_bytes() == (tmp_path / "m.png").read_bytes()
    assert not list(tmp_path.glob("-*"))  # no file named "-", no sidecar
    done = subprocess.run(base + ["-", "-o", str(tmp_path / "p.png"), "--mask-out", "-"], input=photo.read_bytes(),
                          env=ENV, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(rgba(done.stdout)[..., 0], np.asarray(Image.open(tmp_path / "m.png")))
    assert json.loads((tmp_path / "p.json").read_text())["photo"]["path"] == "-"


def test_photo_linked_into_the_output_folder_is_refused(tmp_path):
    """A photo that is a link to a file in the output folder (or the mask folder) is refused
    before any work: with --force, the photo cut to that name replaced it (a user's photo lost)."""
    photos, out = tmp_path / "photos", tmp_path / "out"
    small("chelsea.png", photos / "y.png")
    for target, argv in ((out / "y.png", []), (tmp_path / "m" / "y.png", ["--mask-out", str(tmp_path / "m")])):
        small("coffee.png", target)
        before = target.read_bytes()
        (photos / "x.png").unlink(missing_ok=True)
        (photos / "x.png").symlink_to(target)
        done = subprocess.run([sys.executable, "-m", "compositor.cli", "cut", str(photos), "-o", str(out), "--force",
                               "-q", *argv], env=ENV, capture_output=True)
        err = done.stderr.decode()
        assert done.returncode == 2, err
        assert err.count("\n") == 1 and f"{photos / 'x.png'}: links to {target}" in err, err
        assert target.read_bytes() == before
        assert sorted(p.name for p in target.parent.iterdir()) == ["y.png"]


@pytest.mark.parametrize("argv, stdin, code, words", [
    (["-", "-o", "-"], b"", 1, ("standard input", "empty")),
    (["-", "-o", "-"], b"GIF89a-but-not-really", 1, ("standard input", "not an image")),
    (["-", "-o", "-", "--mask-out", "-"], b"x", 2, ("both",)),
    (["-", "-o", "-", "--all"], b"x", 2, ("--all", "standard output")),
    (["{photos}", "-o", "-"], b"", 2, ("folder", "standard output")),
    (["{photos}", "-o", "{photos}/out"], b"", 2, ("overlaps",)),
    (["{photos}", "-o", "{tmp}/out", "--mask-out", "{photos}/coffee.png"], b"", 2, ("is a file",)),
    (["{photos}", "-o", "{tmp}/out", "--mask-out", "{tmp}/out"], b"", 2, ("mask folder overlaps", "{tmp}/out")),
    (["{photos}", "-o", "{tmp}/out", "--mask-out", ""], b"", 2, ("--mask-out is empty",)),  # no mask, exit 0
    (["{photos}/coffee.png", "-o", "{tmp}/s.png", "--mask-out", ""], b"", 2, ("--mask-out is empty",)),
    (["{photos}", "-o", "{tmp}/out", "--mask-out", "{tmp}/out/m"], b"", 2, ("mask folder overlaps",)),
    (["{photos}", "-o", "{tmp}/out/s", "--mask-out", "{tmp}/out"], b"", 2, ("mask folder overlaps",)),
    (["{tmp}/nope", "-o", "{tmp}/out"], b"", 1, ("nope: no such file.",)),  # not "-o out: no format"
    (["{tmp}/nope/", "-o", "{tmp}/out/"], b"", 1, ("nope/: no such folder of photos.",)),
    (["{photos}", "-o", "{tmp}/out", "--workers", "0"], b"", 2, ("workers", "1 or more")),
    (["{photos}/coffee.png", "-o", "{tmp}/s.png", "--workers", "2"], b"", 2, ("--workers", "folder", "coffee.png")),
    (["-", "-o", "-", "--threads", "2"], b"x", 2, ("--threads", "folder", "standard input")),
])
def test_exception_pipes_and_folders(tmp_path, argv, stdin, code, words):
    """Refusals are one sentence, exit 2 for usage and 1 for a bad photo, and write nothing."""
    photos = tmp_path / "photos"
    small("coffee.png", photos / "coffee.png")
    argv = [a.format(photos=photos, tmp=tmp_path) for a in argv]
    done = subprocess.run([sys.executable, "-m", "compositor.cli", "cut", *argv], input=stdin, env=ENV,
                          capture_output=True)
    err = done.stderr.decode()
    assert done.returncode == code, err
    assert done.stdout == b"" and err.count("\n") == 1 and err.startswith("compositor: error: ")
    assert all(w.format(tmp=tmp_path) in err for w in words), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["coffee.png", "photos"]
