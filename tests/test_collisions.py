"""Outputs that collide with inputs, or with each other, are refused before any work.

Snapshots are outputs too (``--snapshot-dir``, or the default ``OUTPUT_snapshots/``): one that
would overwrite an input is refused in one sentence, and a failed or interrupted command takes
back only the snapshot files it created, putting back any file it replaced as it was.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compositor import cli

from .workdir import SAMPLES, files, no_tensorflow, work_fixture  # noqa: F401 (no_tensorflow: autouse here)
from .workdir import run_err as run


work = work_fixture("chelsea.png", "coffee.png", doc="chelsea.png, a mask for it and a sticker in a fresh current folder.")


def one_sentence(err: str, *names) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compositor: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    for name in names:
        assert str(name) in lines[0], f"{name} not in {lines[0]!r}"
    return lines[0]


# ----------------------------------------------------------------------------- snapshots


def test_snapshots_into_the_inputs_folder_are_refused(work, capsys):
    """The inputs are named like snapshots (STEM_NNNNN.png) in --snapshot-dir: refused before
    any work, and neither input changes (both used to be overwritten, exit 0)."""
    (work / "sd2").mkdir()
    shutil.copy(work / "chelsea.png", work / "sd2" / "h_00002.png")
    shutil.copy(work / "mask.png", work / "sd2" / "h_00004.png")
    before = files(work)
    code, err = run(["harmonize", "sd2/h_00002.png", "--mask", "sd2/h_00004.png", "--backend", "reinhard",
                     "--snapshot-every", "1", "--snapshot-dir", "sd2", "-o", "o/h.png", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "sd2/h_00002.png", "snapshot", "--snapshot-dir")
    assert files(work) == before


def test_snapshots_into_the_default_folder_holding_an_input_are_refused(work, capsys):
    """The same through the default snapshot folder (o/h_snapshots for -o o/h.png)."""
    (work / "o" / "h_snapshots").mkdir(parents=True)
    shutil.copy(work / "mask.png", work / "o" / "h_snapshots" / "h_00001.png")
    before = files(work)
    code, err = run(["harmonize", "chelsea.png", "--mask", "o/h_snapshots/h_00001.png", "--backend", "none",
                     "--snapshot-every", "1", "-o", "o/h.png", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "o/h_snapshots/h_00001.png")
    assert files(work) == before


def test_compose_snapshots_onto_its_photo_are_refused(work, capsys):
    """compose's snapshots (OUTDIR/harmonized_snapshots/harmonized_NNNNN.png) onto its photo."""
    (work / "o" / "harmonized_snapshots").mkdir(parents=True)
    shutil.copy(work / "coffee.png", work / "o" / "harmonized_snapshots" / "harmonized_00012.png")
    before = files(work)
    code, err = run(["compose", "o/harmonized_snapshots/harmonized_00012.png", "chelsea.png", "-o", "o",
                     "--backend", "none", "--snapshot-every", "3", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "harmonized_00012.png")
    assert files(work) == before


def test_a_link_named_like_a_snapshot_is_refused(work, capsys):
    """An input given through a link in the snapshot folder: the link would be replaced."""
    (work / "sd").mkdir()
    (work / "sd" / "h_00003.png").symlink_to(work / "chelsea.png")
    code, err = run(["harmonize", "sd/h_00003.png", "--mask", "mask.png", "--backend", "none",
                     "--snapshot-every", "1", "--snapshot-dir", "sd", "-o", "h.png", "-q"], capsys)
    assert code == 2, err
    assert (work / "sd" / "h_00003.png").is_symlink()


SLOW_BACKEND = [str(Path(__file__).resolve().parents[0] / "data" / "slow_harmonizer.py"), "0.02"]  # script, step seconds


def slow_harmonize(work: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *SLOW_BACKEND, "harmonize", "chelsea.png", "--mask", "mask.png",
                             "--backend", "none", "-o", "h.png", "--snapshot-every", "1", "-q", *extra],
                            stderr=subprocess.PIPE, text=True, cwd=work)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition(), "timed out"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_a_file_it_did_not_create(work, signum):
    """A user's own files in the snapshot folder that happen to have snapshot names: after
    Ctrl-C, the one the run replaced is back as it was and the others are untouched (the
    clean-up used to delete it); only the snapshots the run created are gone."""
    snaps = work / "h_snapshots"
    snaps.mkdir()
    (snaps / "h_00002.png").write_bytes(b"the user's own file")
    (snaps / "notes.txt").write_text("mine\n")
    proc = slow_harmonize(work)
    wait_for(lambda: (snaps / "h_00004.png").exists())
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (130, 143), err
    assert sorted(p.name for p in snaps.iterdir()) == ["h_00002.png", "notes.txt"]
    assert (snaps / "h_00002.png").read_bytes() == b"the user's own file"
    assert not (work / "h.png").exists()


def test_sighup_is_handled_as_sigterm(work):
    """SIGHUP (a closed terminal) exited 129 by the signal and left the snapshots behind:
    now it cleans up as SIGTERM does, prints one line and exits 129."""
    snaps = work / "h_snapshots"
    proc = slow_harmonize(work)
    wait_for(lambda: snaps.is_dir() and len(list(snaps.glob("*.png"))) >= 2)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 129, err
    assert err.strip().splitlines() == ["compositor: hung up."]
    assert not snaps.exists() and not (work / "h.png").exists()


# ----------------------------------------------------------------------------- outputs inside outputs


def write_manifest(folder: Path, jobs: list[dict]) -> Path:
    import json

    (folder / "cup.png").write_bytes((SAMPLES / "coffee.png").read_bytes())
    path = folder / "jobs.jsonl"
    path.write_text("".join(json.dumps({"background": "chelsea.png", "backend": "none",
                                        "objects": [{"sticker": "cup.png", "scale": 0.2}], **j}) + "\n" for j in jobs))
    return path


@pytest.mark.parametrize("outputs", [("x.png", "x.png/y.png"), ("a/x.png/y.png", "a/x.png"), ("x.json/y.png", "x.png")])
def test_a_batch_output_inside_another_is_refused_up_front(work, capsys, outputs):
    """Outputs x.png and x.png/y.png passed validation; the second job then failed at write
    time and --resume refused the whole run. Now the manifest is refused before any job runs,
    as two jobs with the same output are (x.json is the sidecar of x.png)."""
    manifest = write_manifest(work, [{"id": "a", "output": outputs[0]}, {"id": "b", "output": outputs[1]}])
    code, err = run(["batch", manifest, "-o", "out", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "inside")
    assert not (work / "out").exists()


def test_an_output_inside_an_input_file_is_refused(work, capsys):
    """An output whose folder would be an input file (cup.png/y.png) can never be written."""
    manifest = write_manifest(work, [{"id": "a", "output": "y.png"}])
    code, err = run(["batch", manifest, "-o", "cup.png", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "cup.png")
    code, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "chelsea.png/h.png", "-q"], capsys)
    assert code == 2, err
    one_sentence(err, "chelsea.png")


# ----------------------------------------------------------------------------- output folders


FOLDER_COMMANDS = {
    "compare": ["compare", "chelsea.png", "--mask", "mask.png", "-o", "o", "--backends", "none,reinhard", "-q"],
    "compose": ["compose", "coffee.png", "chelsea.png", "--method", "grabcut", "--box", "150,60,300,280",
                "--backend", "none", "-o", "o", "-q"],
    "cut": ["cut", "photos", "--method", "grabcut", "-o", "o", "-q"],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", list(FOLDER_COMMANDS))
def test_a_command_writing_a_folder_refuses_one_that_holds_files(work, capsys, command):
    """compare and compose silently replaced grid.png, index.html, report.json, compose.json,
    mask.png in a non-empty -o folder, while batch and synth refused one. One rule now: a folder
    that holds files is refused, unless --force; with --force only the command's own files are
    replaced."""
    (work / "photos").mkdir()
    shutil.copy(work / "coffee.png", work / "photos" / "coffee.png")
    (work / "o").mkdir()
    mine = {"o/grid.png": b"mine", "o/compose.json": b"mine", "o/coffee.png": b"mine", "o/notes.txt": b"mine"}
    for name, data in mine.items():
        (work / name).write_bytes(data)
    before = files(work)
    code, err = run(FOLDER_COMMANDS[command], capsys)
    assert code == 2, err
    one_sentence(err, "o", "not empty", "--force")
    assert files(work) == before
    code, err = run(FOLDER_COMMANDS[command] + ["--force"], capsys)
    assert code == 0, err
    assert (work / "o" / "notes.txt").read_bytes() == b"mine"
    after = files(work)
    assert any(after.get(k) != v for k, v in mine.items()), "--force wrote nothing"


@pytest.mark.parametrize("command", list(FOLDER_COMMANDS))
def test_a_command_writing_a_folder_refuses_a_link_to_nowhere(work, capsys, command):
    """-o naming a link whose folder does not exist is refused before any work; each write failed
    on it after the work ("o/coffee.png: cannot write there (File exists)"), for cut once per photo."""
    (work / "photos").mkdir()
    shutil.copy(work / "coffee.png", work / "photos" / "coffee.png")
    (work / "o").symlink_to("gone/away")
    before = files(work)
    code, err = run(FOLDER_COMMANDS[command], capsys)
    assert code == 2, err
    one_sentence(err, "o: is a link to gone/away, which does not exist")
    assert files(work) == before and (work / "o").is_symlink() and not (work / "gone").exists()


@pytest.mark.parametrize("command", ["compare", "compose", "cut", "batch", "synth"])
def test_every_folder_command_states_the_rule_in_its_help(capsys, command):
    try:
        cli.main([command, "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "one that already holds files is refused" in text, text
    assert ("--resume" if command in ("batch", "synth") else "--force") in text
