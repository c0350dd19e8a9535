"""Inputs the file system cannot open, and manifest values of the wrong shape: one sentence each.

Any input that cannot be opened (missing, a dangling link, a loop of links, a folder, a named
pipe, a device, a path through a file) gets a sentence naming the file and the reason, through
every command and the Python API; any manifest value of the wrong shape (a list for a number,
a number too big for a float, lists nested thousands deep) gets a sentence naming the line
and the key, never ``internal error``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from compositor import api
from compositor.errors import CompositorError

from .workdir import no_tensorflow, work_fixture  # noqa: F401 (no_tensorflow: autouse here)
from .workdir import run_err as run


def _unopenable(folder: Path) -> None:
    """Links in a loop, a dangling link, a folder, a named pipe and an empty file, each named like a picture."""
    (folder / "loop1").symlink_to("loop2")
    (folder / "loop2").symlink_to("loop1")
    (folder / "dangling.png").symlink_to("nowhere.png")
    (folder / "folder.png").mkdir()
    os.mkfifo(folder / "pipe.png")
    (folder / "empty.png").write_bytes(b"")


work = work_fixture("chelsea.png", cup=True, extra=_unopenable)


def one_sentence(code: int, err: str, *words) -> str:
    lines = err.strip().splitlines()
    assert code in (1, 2), err
    assert len(lines) == 1 and lines[0].startswith("compositor: error: "), err
    assert "internal error" not in err and "Traceback" not in err, err
    for w in words:
        assert str(w) in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


UNREADABLE = {  # the input -> words its sentence must hold
    "loop1": ("loop1", "loop of symbolic links"),
    "dangling.png": ("dangling.png", "link to a file that does not exist"),
    "folder.png": ("folder.png", "is a folder"),
    "pipe.png": ("pipe.png", "named pipe"),
    "/dev/urandom": ("/dev/urandom", "is a device"),
    "/proc/self/status": ("/proc/self/status", "not an image file"),
    "chelsea.png/x.png": ("chelsea.png/x.png", "a part of the path is a file"),
    "empty.png": ("empty.png", "empty (0 bytes)"),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
@pytest.mark.parametrize("command", ["harmonize", "mask", "paste", "cut"])
def test_an_unreadable_input_is_one_sentence_naming_it_and_why(work, capsys, name, command):
    """A symlink loop gave `internal error: RuntimeError: Symlink loop`; a FIFO, /dev/urandom or
    /proc/self/status was called "empty (0 bytes)"."""
    if name == "/proc/self/status" and not Path(name).exists():
        pytest.skip("no /proc here")
    argv = {"harmonize": ["harmonize", name, "--mask", "mask.png", "-o", "out/h.png"],
            "mask": ["harmonize", "chelsea.png", "--mask", name, "-o", "out/h.png"],
            "paste": ["paste", "chelsea.png", f"{name}@100,100", "-o", "out/p.png", "--mask-out", "out/m.png"],
            "cut": ["cut", name, "--method", "grabcut", "-o", "out/s.png"]}[command]
    code, err = run(argv, capsys)
    words = UNREADABLE[name] if (command, name) != ("cut", "folder.png") else (name, "holds no photos")  # a folder of photos
    one_sentence(code, err, *words)
    assert not (work / "out").exists()


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_the_python_api_says_the_same(work, name):
    if name == "/proc/self/status" and not Path(name).exists():
        pytest.skip("no /proc here")
    with pytest.raises(CompositorError) as info:
        api.load_composite(name, "mask.png")
    for w in UNREADABLE[name]:
        assert w in str(info.value)


@pytest.mark.parametrize("name", ["loop1", "pipe.png", "folder.png"])
def test_an_unreadable_manifest_is_named(work, capsys, name):
    code, err = run(["batch", name, "-o", "out"], capsys)
    one_sentence(code, err, name, *UNREADABLE[name][1:]).replace("image file", "")
    assert "image file" not in err


def test_a_manifest_background_that_is_a_link_loop(work, capsys):
    (work / "jobs.jsonl").write_text(json.dumps({"background": "loop1", "backend": "none",
                                                 "objects": [{"sticker": "cup.png"}]}) + "\n")
    code, err = run(["batch", "jobs.jsonl", "-o", "out", "-q"], capsys)
    one_sentence(code, err, "jobs.jsonl:1", "loop1", "loop of symbolic links")


JOB = {"id": "j", "background": "chelsea.png", "backend": "none", "output": "j.png",
       "objects": [{"sticker": "cup.png", "x": 100, "y": 100, "scale": 0.5}]}
DEEP = "[" * 100_000 + "]" * 100_000
HUGE = str(10 ** 400)


@pytest.mark.parametrize("where, key, text", [
    ("job", "objects", DEEP), ("job", "settings", DEEP), ("job", "seed", DEEP), ("object", "x", DEEP),
    ("job", "seed", HUGE), ("object", "x", HUGE), ("object", "y", HUGE), ("object", "scale", HUGE),
    ("object", "rotation", HUGE), ("job", "seed", "[1]"), ("object", "scale", "{}"), ("object", "x", '"left"'),
    ("job", "backend", "3"), ("job", "backend", '"nope"'), ("job", "backend", "[1]"), ("job", "output", '"x"'),
    ("job", "output", "[]"), ("job", "settings", "[]"), ("object", "cutter", "5"), ("object", "cut", "[]"),
    ("object", "label", "[]"), ("job", "id", "{}"), ("job", "background", "7"), ("object", "sticker", "[]"),
    ("job", "objects", "[1]"),
])
def test_a_manifest_value_of_the_wrong_shape_names_the_line_and_key(work, capsys, where, key, text):
    """A line nested 100,000 deep gave `RecursionError` with no line number; a 400-digit number
    gave `OverflowError`; a wrong backend or output did not say which key was wrong."""
    job = {**json.loads(json.dumps(JOB)), "id": "k"}
    (job if where == "job" else job["objects"][0])[key] = "@@"
    line = json.dumps(job).replace('"@@"', text)
    (work / "jobs.jsonl").write_text(json.dumps(JOB) + "\n" + line + "\n")
    code, err = run(["batch", "jobs.jsonl", "-o", "out", "-q"], capsys)
    assert code == 2, err
    one_sentence(code, err, "jobs.jsonl:2", key)
    assert not (work / "out").exists()


def test_json_beside_an_input_nested_too_deeply_is_read_as_none(work, capsys, tmp_path):
    """A composite's sidecar, a run's job sidecar and a results.jsonl line nested 100,000 deep
    are read as unreadable files are (no record), not 'internal error: RecursionError'."""
    from compositor.runs.folder import RunFolder
    from compositor.runs.outputs import read_json

    (work / "chelsea.json").write_text('{"a":' * 100_000)
    code, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "out/h.png", "--backend", "none"], capsys)
    assert code == 0 and "internal error" not in err, err
    assert read_json(work / "chelsea.json") is None
    code, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "out/h.png", "--backend", "none",
                     "--objects", "chelsea.json"], capsys)  # named as the record: refused, naming it
    one_sentence(code, err, "chelsea.json: not a paste record (JSON nested too deeply to read).")
    (tmp_path / "results.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"id": "a", "status": "ok"}) + "\n")
    assert RunFolder(tmp_path, "batch").previous_results() == {"a": {"id": "a", "status": "ok"}}
