"""Fault injection: a full disk at a random byte, signals at random moments, read-only and
vanishing folders, outputs that collide with inputs, library calls with masks and images of
every dtype and range, and unreachable executors, against real commands and the Python API.

Each fault runs a bounded number of rounds drawn from a seeded generator, so a failure
names its round and can be replayed: ``COMPOSITOR_FAULT_SEED`` changes the seed and
``COMPOSITOR_FAULT_ROUNDS`` multiplies the rounds (for a longer hunt outside the suite).
After every round the same invariants are checked:

- the command either succeeds, or says one sentence (``compositor: error: ...``, or
  ``compositor: interrupted.`` / ``terminated.`` / ``hung up.`` for a signal) with exit code 1
  or 2 (130, 143 or 129 for a signal); never a traceback, never ``internal error``;
- no temporary ``.*.part`` file is left, and no output is truncated: every image on disk
  decodes completely and every JSON file parses;
- in a batch or synth run folder, every job recorded ``ok`` has its image and a sidecar
  whose sha256 matches it; and ``--resume`` afterwards completes the run.

No TensorFlow: the backends used are the classical ones, so a round takes about a second.
Per run of the suite: 8 full-disk rounds (paste, harmonize to JPEG, WebP and PNG, cut,
batch and synth, each run and resumed), 6 signal rounds (batch and synth, SIGINT, SIGTERM
and SIGHUP, each resumed), 3 signals to a harmonize writing snapshots (its snapshots go),
5 read-only commands, 4 vanishing folders, 24 outputs colliding with inputs (an input's own
path, a link to it, a snapshot name, an output inside an input; each refused with the inputs
unchanged and nothing written), 200 library calls with a mask or image of a random dtype,
shape and range (normalised to the canonical result, or one InputError) and 3 unreachable
Ray addresses (exit 1 or 2 in seconds): about 3 minutes on a busy 2-core machine (the
full disk 44 s, the collisions 42 s, the signals 36 s, Ray 18 s measured there).
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor.imageio import sha256_file

from .workdir import ReadOnly

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = int(os.environ.get("COMPOSITOR_FAULT_SEED", "11"))
SCALE = max(1, int(os.environ.get("COMPOSITOR_FAULT_ROUNDS", "1")))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
SIGNAL_LINES = {130: "compositor: interrupted.", 143: "compositor: terminated.", 129: "compositor: hung up."}


def rounds(n: int) -> range:
    return range(n * SCALE)


# ----------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A background, a sticker with its alpha, a composite and mask, folders for synth, and
    manifests of a few jobs writing JPEG, PNG and WebP."""
    root = tmp_path_factory.mktemp("inputs")
    bg = Image.open(SAMPLES / "chelsea.png").convert("RGB")
    bg.save(root / "bg.png")
    cup = np.asarray(Image.open(SAMPLES / "coffee.png").convert("RGB").resize((120, 80)))
    alpha = np.zeros(cup.shape[:2], np.uint8)
    alpha[8:72, 20:100] = 255
    Image.fromarray(np.dstack([cup, alpha])).save(root / "cup.png")
    mask = np.zeros((bg.height, bg.width), np.uint8)
    mask[100:180, 150:270] = 255
    Image.fromarray(mask).save(root / "mask.png")
    composite = np.asarray(bg).copy()
    composite[100:180, 150:270] = cup[:, :, ::-1][:80, :120]
    Image.fromarray(composite).save(root / "comp.png")
    for folder, name in (("objects", "cup.png"), ("backgrounds", "bg.png")):
        (root / folder).mkdir()
        shutil.copy(root / name, root / folder / name)
    backends, outputs = ["poisson", "none", "reinhard"], [".jpg", ".png", ".webp"]
    jobs = [{"id": f"j{i}", "background": "bg.png", "backend": backends[i % 3], "seed": i,
             "objects": [{"sticker": "cup.png", "x": 60 + 40 * i, "y": 150, "scale": 0.8}],
             "output": f"j{i}{outputs[i % 3]}"} for i in range(8)]
    (root / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return root


def _command(kind: str, inputs: Path, out: Path) -> list[str]:
    base = [sys.executable, "-m", "compositor.cli"]
    if kind == "paste":
        return base + ["paste", str(inputs / "bg.png"), f"{inputs / 'cup.png'}@200,150", "-o", str(out / "c.jpg"),
                       "--mask-out", str(out / "m.png")]
    if kind.startswith("harmonize"):
        suffix = kind.split(":")[1]
        return base + ["harmonize", str(inputs / "comp.png"), "--mask", str(inputs / "mask.png"), "--backend",
                       "poisson", "-o", str(out / f"h{suffix}")]
    if kind == "cut":
        return base + ["cut", str(inputs / "bg.png"), "--box", "120,40,240,240", "-o", str(out / "s.png")]
    if kind == "batch":
        return base + ["batch", str(inputs / "jobs.jsonl"), "-o", str(out / "run"), "-q"]
    if kind == "synth":
        return base + ["synth", "--objects", str(inputs / "objects"), "--backgrounds", str(inputs / "backgrounds"),
                       "-n", "6", "--size", "200x150", "--format", "jpg", "--backend", "none,poisson", "--yolo",
                       "-o", str(out / "run"), "-q"]
    raise ValueError(kind)


# ----------------------------------------------------------------------------- invariants


def check_files(folder: Path) -> None:
    """No temporary file; every image decodes completely; every JSON file parses."""
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        assert not (path.name.startswith(".") and path.name.endswith(".part")), f"temporary file left: {path}"
        try:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(path) as im:
                    im.load()  # raises on a truncated file
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.name == "results.jsonl":  # a torn last line is allowed (a full disk): resuming ignores it
                for line in path.read_text().splitlines()[:-1]:
                    json.loads(line)
        except (OSError, ValueError) as exc:
            raise AssertionError(f"{path}: {exc}") from None


def check_run(run: Path) -> int:
    """Every job recorded ok is complete and matches its sidecar; returns how many."""
    if not (run / "results.jsonl").exists():
        return 0
    ok = 0
    lines = (run / "results.jsonl").read_text().splitlines()
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            assert n == len(lines), f"{run / 'results.jsonl'}:{n} is torn and is not the last line"
            continue
        if record["status"] != "ok":
            assert "Traceback" not in str(record.get("error")), record
            continue
        sidecar = json.loads((run / record["sidecar"]).read_text())
        assert sidecar["image"]["sha256"] == sha256_file(run / record["image"]), record["id"]
        ok += 1
    return ok


def check_outcome(code: int, err: str, allowed: set[int], label: str, run: bool = False) -> None:
    """Exit code and stderr: a signal's one line, or one error sentence last; a run (batch,
    synth) may instead end with its summary, after a line per failed job. A signal that
    comes after the summary, while the interpreter exits, ends the process by the signal."""
    assert "Traceback" not in err and "internal error" not in err, f"{label}:\n{err}"
    if code in (-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP) and run and " ok, 0 failed in " in err:
        return
    assert code in allowed, f"{label}: exit {code}\n{err}"
    lines = err.strip().splitlines()
    if code in SIGNAL_LINES:
        assert lines[-1:] == [SIGNAL_LINES[code]], f"{label}:\n{err}"
    elif code == 1 and run and lines and " failed in " in "\n".join(lines[-2:]):
        assert all(": failed: " in line for line in lines if " failed in " not in line and ": " in line
                   and not line.startswith("/")), f"{label}:\n{err}"
    elif code != 0:
        errors = [line for line in lines if line.startswith("compositor: error: ")]
        assert errors and lines[-1] == errors[-1], f"{label}: not one sentence:\n{err}"


def resume(kind: str, inputs: Path, out: Path) -> None:
    """The same command with --resume and no fault completes the run and verifies."""
    done = subprocess.run(_command(kind, inputs, out) + ["--resume"], capture_output=True, text=True, timeout=120,
                          cwd=out)
    assert done.returncode == 0, done.stderr
    check_files(out)
    expected = 8 if kind == "batch" else 6
    assert check_run(out / "run") == expected


# ----------------------------------------------------------------------------- a full disk


def _file_size_limit(limit: int):
    def preexec():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


@pytest.mark.slow
def test_a_full_disk_at_a_random_byte(tmp_path, inputs):
    """RLIMIT_FSIZE stops every write at a random byte, as a full disk would (the process
    ignores SIGXFSZ, as Python does, and sees EFBIG or a short write)."""
    rng = random.Random(SEED)
    kinds = ["paste", "harmonize:.jpg", "harmonize:.webp", "harmonize:.png", "batch", "synth", "cut"]
    for i in rounds(8):
        kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        limit = rng.randint(1, 60_000)
        out = tmp_path / f"round{i}"
        out.mkdir()
        done = subprocess.run(_command(kind, inputs, out), capture_output=True, text=True, timeout=120, cwd=out,
                              preexec_fn=_file_size_limit(limit))
        label = f"round {i}: {kind} with files limited to {limit} bytes (seed {SEED})"
        check_outcome(done.returncode, done.stderr, {0, 1}, label, run=kind in ("batch", "synth"))
        check_files(out)
        if kind in ("batch", "synth"):
            check_run(out / "run")
            resume(kind, inputs, out)
        elif done.returncode != 0:
            assert not any(p.is_file() for p in out.rglob("*")), f"{label}: an output was left"


# ----------------------------------------------------------------------------- signals


@pytest.mark.slow
def test_a_signal_at_a_random_moment(tmp_path, inputs):
    """SIGINT, SIGTERM or SIGHUP at a random moment of a batch or synth run, then --resume."""
    rng = random.Random(SEED + 1)
    for i in rounds(6):
        kind = ("batch", "synth")[i % 2]
        signum = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)[(i // 2) % 3]
        out = tmp_path / f"round{i}"
        out.mkdir()
        proc = subprocess.Popen(_command(kind, inputs, out), stderr=subprocess.PIPE, text=True, cwd=out)
        # from the run folder's first file on: before it, the interpreter is still starting (see below)
        deadline = time.monotonic() + 60
        while not (out / "run" / "run.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        delay = rng.uniform(0.0, 0.8)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        label = f"round {i}: {kind}, {signal.Signals(signum).name} {delay:.3f} s in (seed {SEED})"
        check_outcome(proc.returncode, err, {0, 130, 143, 129}, label, run=True)
        check_files(out)
        check_run(out / "run")
        resume(kind, inputs, out)


# ----------------------------------------------------------------------------- read-only folders


def test_a_read_only_folder(tmp_path, inputs, monkeypatch, capsys):
    """Every command whose output folder is read-only fails in one sentence and changes nothing."""
    from compositor import cli

    if "tensorflow" not in sys.modules:  # never needed here; blocked for this test only
        monkeypatch.setitem(sys.modules, "tensorflow", None)
    kinds = ["paste", "harmonize:.jpg", "batch", "synth", "cut"]
    for i in rounds(1):
        for kind in kinds:
            out = tmp_path / f"round{i}-{kind.replace(':', '')}"
            out.mkdir()
            (out / "run").mkdir()  # a run folder, empty, that cannot be written either
            with monkeypatch.context() as mp:
                ReadOnly(mp, out)
                code = cli.main(_command(kind, inputs, out)[3:])
            err = capsys.readouterr().err
            check_outcome(code, err, {1, 2}, f"round {i}: {kind} into a read-only folder")
            assert "read-only" in err.lower(), err
            assert [p.name for p in out.rglob("*")] == ["run"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through a chmod")
def test_a_read_only_folder_by_its_mode(tmp_path, inputs):
    """The same with a real folder of mode 0555, for a user it stops."""
    for kind in ("paste", "batch"):
        out = tmp_path / kind
        out.mkdir()
        out.chmod(0o555)
        try:
            done = subprocess.run(_command(kind, inputs, out), capture_output=True, text=True, timeout=120)
        finally:
            out.chmod(0o755)
        check_outcome(done.returncode, done.stderr, {1, 2}, f"{kind} into a folder of mode 0555")
        assert list(out.iterdir()) == []


# ----------------------------------------------------------------------------- vanishing folders


@pytest.mark.slow
def test_a_folder_that_vanishes(tmp_path, inputs):
    """The output folder, or the objects' folder, is deleted at a random moment of a run."""
    rng = random.Random(SEED + 2)
    for i in rounds(4):
        kind = ("batch", "synth")[i % 2]
        out = tmp_path / f"round{i}"
        out.mkdir()
        source = inputs
        if kind == "synth" and i % 4 == 3:  # the input side vanishes: a copy of the inputs
            source = tmp_path / f"inputs{i}"
            shutil.copytree(inputs, source)
        victim = source / "objects" if source is not inputs else out / "run"
        proc = subprocess.Popen(_command(kind, source, out), stderr=subprocess.PIPE, text=True, cwd=out)
        delay = rng.uniform(0.3, 1.5)
        timer = threading.Timer(delay, shutil.rmtree, (victim,), {"ignore_errors": True})
        timer.start()
        _, err = proc.communicate(timeout=60)
        timer.join()
        label = f"round {i}: {kind}, {victim.name} removed {delay:.3f} s in (seed {SEED})"
        check_outcome(proc.returncode, err, {0, 1, 2}, label, run=True)
        check_files(out)



# ----------------------------------------------------------------------------- signals to a harmonize with snapshots

SNAPSHOTTING = [str(Path(__file__).resolve().parents[0] / "data" / "slow_harmonizer.py"), "0.01"]  # script, step seconds


@pytest.mark.slow
def test_a_signal_while_snapshots_are_written(tmp_path, inputs):
    """INT, TERM or HUP at a random moment of a harmonize that writes snapshots (a stand-in
    harmonizer that snapshots every step, since no classical backend does): its snapshots go, a
    user's own file of a snapshot's name in the folder stays as it was, nothing else is left."""
    rng = random.Random(SEED + 3)
    for i, signum in enumerate([signal.SIGINT, signal.SIGTERM, signal.SIGHUP] * SCALE):
        out = tmp_path / f"round{i}"
        snaps = out / "h_snapshots"
        snaps.mkdir(parents=True)
        own = snaps / f"h_{rng.randint(1, 30):05d}.png"
        own.write_bytes(b"a user's own file")
        proc = subprocess.Popen([sys.executable, *SNAPSHOTTING, "harmonize", str(inputs / "comp.png"), "--mask",
                                 str(inputs / "mask.png"), "--backend", "none", "-o", str(out / "h.png"),
                                 "--snapshot-every", "1", "-q"], stderr=subprocess.PIPE, text=True, cwd=out)
        deadline = time.monotonic() + 60
        while len(list(snaps.iterdir())) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        delay = rng.uniform(0.0, 0.4)
        time.sleep(delay)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        label = f"round {i}: harmonize with snapshots, {signal.Signals(signum).name} {delay:.3f} s in (seed {SEED})"
        check_outcome(proc.returncode, err, {130, 143, 129}, label)
        assert [p.name for p in out.rglob("*") if p.is_file()] == [own.name], label
        assert own.read_bytes() == b"a user's own file", label


# ----------------------------------------------------------------------------- outputs that collide with inputs


def _collisions(inputs: Path, work: Path, rng: random.Random) -> list[tuple[str, list[str]]]:
    """(what, argv) pairs where an output, a snapshot or an output's folder is one of the inputs."""
    comp, mask, cup, bg = (work / n for n in ("comp.png", "mask.png", "cup.png", "bg.png"))
    (work / "link.png").symlink_to(comp)
    (work / "snaps").mkdir()
    step = rng.randint(1, 99999)
    snap = work / "snaps" / f"h_{step:05d}.png"
    shutil.copy(mask, snap)
    (work / "h_snapshots").mkdir()
    default_snap = work / "h_snapshots" / f"h_{rng.randint(1, 999):05d}.png"
    shutil.copy(comp, default_snap)
    base = [sys.executable, "-m", "compositor.cli"]
    harmonize = base + ["harmonize", str(comp), "--mask", str(mask), "--backend", "none", "-q"]
    jobs = work / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "a", "background": str(bg), "backend": "none", "output": "x.png",
                                "objects": [{"sticker": str(cup)}]}) + "\n" +
                    json.dumps({"id": "b", "background": str(bg), "backend": "none", "output": "x.png/y.png",
                                "objects": [{"sticker": str(cup)}]}) + "\n")
    return [
        ("output is the composite", harmonize + ["-o", str(comp)]),
        ("output is the mask, spelt with ./ and ..", harmonize + ["-o", str(work / "." / "snaps" / ".." / "mask.png")]),
        ("output is a link to the composite", harmonize + ["-o", str(work / "link.png")]),
        ("sidecar is an input", base + ["harmonize", str(comp), "--mask", str(work / "h.json"), "-o", str(work / "h.png")]),
        ("a snapshot is the mask", base + ["harmonize", str(comp), "--mask", str(snap), "--backend", "none", "-q",
                                          "--snapshot-every", "1", "--snapshot-dir", str(work / "snaps"), "-o",
                                          str(work / "o" / "h.png")]),
        ("a default snapshot is the composite", base + ["harmonize", str(default_snap), "--mask", str(mask),
                                                        "--backend", "none", "-q", "--snapshot-every", "1", "-o",
                                                        str(work / "h.png")]),
        ("paste's mask is its background", base + ["paste", str(bg), f"{cup}@100,100", "-o", str(work / "p.png"),
                                                   "--mask-out", str(bg)]),
        ("cut's output is its photo", base + ["cut", str(bg), "--method", "grabcut", "-o", str(bg)]),
        ("an output inside an input", harmonize + ["-o", str(comp / "h.png")]),
        ("compose into a folder of its inputs", base + ["compose", str(cup), str(bg), "--method", "grabcut",
                                                        "--backend", "none", "-o", str(work), "-q"]),
        ("compare into a folder of its inputs", base + ["compare", str(comp), "--mask", str(mask), "--backends",
                                                        "none", "-o", str(work), "-q"]),
        ("two batch outputs nest", base + ["batch", str(jobs), "-o", str(work / "run"), "-q"]),
    ]


@pytest.mark.slow
def test_outputs_that_collide_with_inputs(tmp_path, inputs):
    """Every way an output (a snapshot, a sidecar, a folder's files) can land on an input is
    refused before any work: exit 2, one sentence, every input byte-identical, nothing new."""
    rng = random.Random(SEED + 4)
    for i in rounds(2):
        work = tmp_path / f"round{i}"
        shutil.copytree(inputs, work, symlinks=True)
        (work / "h.json").write_text("{}\n")  # a JSON file given as the mask: the output's sidecar would be it
        cases = _collisions(inputs, work, rng)
        rng.shuffle(cases)
        for what, argv in cases:
            before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file() and not p.is_symlink()}
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=work)
            label = f"round {i}: {what} (seed {SEED})"
            check_outcome(done.returncode, done.stderr, {2}, label)
            after = {p: p.read_bytes() for p in work.rglob("*") if p.is_file() and not p.is_symlink()}
            assert after == before, f"{label}: a file changed or appeared"


# ----------------------------------------------------------------------------- library calls


def _array(rng: random.Random, np_rng, shape, kind: str):
    """A random array of ``shape`` whose values are drawn as ``kind`` says."""
    dtype, values = kind.split(":")
    if values == "binary":
        hi = {"bool": True, "uint8": 255, "uint16": 65535, "float32": 1.0, "float64": 1.0, "int64": 255,
              "int32": 1, "float16": 1.0, "int8": 1}[dtype]
        arr = np.zeros(shape, dtype)
        arr[tuple(slice(s // 4, s // 2) for s in shape[:2])] = hi
        return arr
    if dtype == "bool":
        return np_rng.random(shape) > 0.5
    lo, hi = {"unit": (0, 1), "byte": (0, 255), "word": (0, 65535), "negative": (-5, 5), "huge": (0, 1e6)}[values]
    arr = np_rng.uniform(lo, hi, shape)
    if values in ("unit",) and np.issubdtype(np.dtype(dtype), np.integer):
        arr = np.round(arr)
    with np.errstate(invalid="ignore", over="ignore"):
        arr = arr.astype(dtype)
    if rng.random() < 0.1 and np.issubdtype(arr.dtype, np.floating):
        arr.flat[rng.randrange(arr.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return arr


@pytest.mark.slow
def test_library_calls_with_masks_and_images_of_every_dtype(inputs):
    """cut, paste, load_composite, harmonize and compose with a mask or image of a random dtype,
    shape and range: each either works on the normalised value (an image is RGB uint8, a mask
    float32 in 0..1; a binary mask in any dtype gives the 0/1 mask's result) or raises one
    InputError naming the argument; nothing else, never a silent wrong result."""
    from compositor import api, inputs as checks
    from compositor.errors import CompositorError
    from compositor.types import Composite

    rng = random.Random(SEED + 5)
    np_rng = np.random.default_rng(SEED + 5)
    image = np.asarray(Image.open(inputs / "comp.png").convert("RGB"))
    h, w = image.shape[:2]
    ref_mask = np.zeros((h, w), np.float32)
    ref_mask[h // 4:h // 2, w // 4:w // 2] = 1.0
    reference = {b: api.harmonize(Composite(image, ref_mask), b).image for b in ("none", "reinhard", "poisson")}
    dtypes = ["bool", "uint8", "uint16", "int8", "int32", "int64", "float16", "float32", "float64"]
    ranges = ["binary", "unit", "byte", "word", "negative", "huge"]
    shapes = {"HxW": (h, w), "HxWx1": (h, w, 1), "HxWx3": (h, w, 3), "HxWx4": (h, w, 4), "small": (h // 2, w // 2),
              "4-d": (1, h, w, 3)}
    for i in rounds(200):
        kind = f"{rng.choice(dtypes)}:{rng.choice(ranges)}"
        shape_name = rng.choice(list(shapes))
        role = rng.choice(["mask", "image"])
        entry = rng.choice(["harmonize", "load_composite"] if role == "mask" else
                           ["harmonize", "load_composite", "paste", "cut", "compose"])
        value = _array(rng, np_rng, shapes[shape_name], kind)
        label = f"round {i}: {entry} with a {role} {kind} {shape_name} (seed {SEED})"
        backend = rng.choice(list(reference))
        try:
            if entry == "harmonize":
                comp = Composite(image, value) if role == "mask" else Composite(value, ref_mask)
                out = api.harmonize(comp, backend).image
            elif entry == "load_composite":
                comp = api.load_composite(image, value) if role == "mask" else api.load_composite(value, ref_mask)
                out = comp.image
                assert comp.mask.dtype == np.float32 and 0 <= comp.mask.min() and comp.mask.max() <= 1, label
            elif entry == "paste":
                out = api.paste(value, [(str(inputs / "cup.png"), 40, 40, 0.3)]).image
            elif entry == "cut":
                out = api.cut(value, "grabcut", box=(w // 4, h // 4, w // 2, h // 2), iterations=1)[0].rgba
            else:
                out = api.compose(inputs / "cup.png", value, method="grabcut", backend="none", scale=0.3)[2].image
        except checks.InputError as exc:
            text = str(exc)
            assert "\n" not in text and text.endswith("."), f"{label}: {text!r}"
            assert role in text or "composite" in text or "photo" in text or "background" in text, f"{label}: {text}"
            continue
        except CompositorError as exc:  # the work itself may fail on odd pixels (a cutter finding nothing)
            assert entry in ("cut", "compose") and "\n" not in str(exc), f"{label}: {exc!r}"
            continue
        except Exception as exc:  # noqa: BLE001 - the invariant: nothing else escapes
            raise AssertionError(f"{label}: {type(exc).__name__}: {exc}") from exc
        assert out.dtype == np.uint8 and out.ndim == 3, label
        if entry == "harmonize" and role == "mask" and kind.endswith(":binary"):
            assert np.array_equal(out, reference[backend]), f"{label}: not the 0/1 mask's result"


# ----------------------------------------------------------------------------- unreachable executors


@pytest.mark.slow
def test_unreachable_executors(tmp_path, inputs):
    """batch on a Ray address where no cluster answers (a refused port, a port that never
    answers, an unknown host, a malformed address): one sentence, exit 1 or 2, within seconds,
    and no run folder left."""
    pytest.importorskip("ray")
    import socket

    rng = random.Random(SEED + 6)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    kinds = [("127.0.0.1:1", 1), (f"127.0.0.1:{port}", 1), ("no-such-host.invalid:6379", 1),
             (f"ray://127.0.0.1:{rng.randint(1, 9)}", 1), ("127.0.0.1:notaport", 2)]
    try:
        for i, (address, code) in enumerate(rng.sample(kinds, 3 * SCALE if 3 * SCALE <= len(kinds) else len(kinds))):
            out = tmp_path / f"round{i}"
            out.mkdir()
            t0 = time.monotonic()
            done = subprocess.run(_command("batch", inputs, out) + ["--executor", "ray", "--ray-address", address],
                                  capture_output=True, text=True, timeout=120, cwd=out)
            seconds = time.monotonic() - t0
            label = f"round {i}: ray at {address} (seed {SEED})"
            check_outcome(done.returncode, done.stderr, {code}, label)
            assert address in done.stderr, label
            assert seconds < 40, f"{label}: took {seconds:.0f} s"
            assert not (out / "run").exists(), label
    finally:
        silent.close()
