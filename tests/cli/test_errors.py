"""How every command reports errors: one sentence, the exit code, --traceback, pixel limits, paths and
streams the OS refuses. Fixtures in conftest.py (TensorFlow unimportable; ``work``), helpers in
helpers.py."""
from __future__ import annotations

import os
import subprocess

import pytest

from compositor import cli

from .helpers import _compositor, fails_cleanly, run


def test_bad_pixel_limit_setting(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "lots")
    fails_cleanly(["cut", "coffee.png", "-o", "s.png"], capsys, work, 2, "COMPOSITOR_MAX_PIXELS", "lots")


def test_photo_over_the_pixel_limit(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "100000")
    fails_cleanly(["cut", "coffee.png", "-o", "s.png"], capsys, work, 1, "coffee.png", "100,000")


def test_help_in_process(capsys):
    for argv in (["--help"], ["harmonize", "--help"], ["cut", "--help"], ["paste", "--help"]):
        code, out, err = run(argv, capsys)
        assert code == 0 and "usage: compositor" in out and not err


def test_unexpected_error_is_one_sentence_unless_traceback(work, capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("something odd")

    from compositor.cli.commands import paste

    monkeypatch.setattr(paste, "run", boom)  # program() looks the command up when called
    argv = ["paste", "chelsea.png", "sticker.png", "-o", "c.png", "--mask-out", "m.png"]
    code, _, err = run(argv, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "RuntimeError: something odd" in err and "--traceback" in err
    with pytest.raises(RuntimeError):
        cli.main(["--traceback", *argv])


def test_traceback_after_the_command(work, capsys):
    with pytest.raises(Exception) as info:
        try:
            cli.main(["cut", "missing.png", "-o", "s.png", "--traceback"])
        except SystemExit as exc:  # argparse: "unrecognized arguments: --traceback"
            raise AssertionError(f"exit {exc.code}: {capsys.readouterr().err.strip().splitlines()[-1]}") from None
    assert "missing.png" in str(info.value)


def test_models_dir_that_is_a_file(work, capsys, monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(work / "notes.png"))
    fails_cleanly(["models"], capsys, work, 2, "COMPOSITOR_MODELS_DIR", "is a file")


LONG = "x" * 300  # longer than any file system's name limit (255 bytes)


@pytest.mark.parametrize("argv", [
    ["cut", f"{LONG}.png", "-o", "s.png"],
    ["cut", "coffee.png", "--box", "60,10,430,380", "-o", f"{LONG}.png"],
    ["paste", "chelsea.png", f"{LONG}.png@100,100", "-o", "c.png", "--mask-out", "m.png"],
    ["paste", "chelsea.png", "sticker.png", "-o", f"{LONG}/c.png", "--mask-out", "m.png"],
    ["harmonize", f"{LONG}.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"],
    ["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", f"{LONG}.png"],
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", LONG],
    ["compare", "chelsea.png", "--mask", "mask.png", "--backends", "none", "-o", LONG],
    ["bench", "--backends", "none", "--cases", LONG, "-q"],
    ["batch", f"{LONG}.jsonl", "-o", "out"],
    ["synth", "--objects", LONG, "--backgrounds", ".", "-n", "1", "-o", "out"],
    ["synth", "--objects", ".", "--backgrounds", ".", "-n", "1", "-o", LONG],
])
def test_a_name_too_long_is_one_sentence(work, capsys, argv):
    """A path the OS refuses used to reach the user as `internal error: OSError`."""
    line = fails_cleanly(argv, capsys, work, 2, LONG)
    assert "too long" in line.lower()


@pytest.mark.slow
@pytest.mark.parametrize("argv", [
    ["cut", "cof\0fee.png", "-o", "s.png"],
    ["paste", "chelsea.png", "sticker.png", "-o", "c\0.png", "--mask-out", "m.png"],
    ["harmonize", "chelsea.png", "--mask", "ma\0sk.png", "--backend", "none", "-o", "h.png"],
    ["compose", "coffee.png", "chelsea.png", "--backend", "none", "-o", "o\0ut"],
    ["bench", "--backends", "none", "--json", "b\0.json", "-q"],
    ["batch", "m.jsonl", "-o", "o\0ut"],
])
def test_a_path_with_a_nul_character_is_one_sentence(work, capsys, argv):
    (work / "m.jsonl").write_text('{"background": "chelsea.png", "objects": [{"sticker": "sticker.png"}]}\n')
    line = fails_cleanly(argv, capsys, work, 2, "NUL")
    assert "\\x00" in line  # the argument, as Python writes it


def test_an_os_error_without_a_handler_is_one_sentence(work, capsys, monkeypatch):
    """The class, not the cases: any OSError that escapes a command names its file."""
    import errno

    from compositor import api

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/locked.png")
    monkeypatch.setattr(api, "load_composite", refuse)
    line = fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"],
                         capsys, work, 1, "/somewhere/locked.png")
    assert line == "compositor: error: /somewhere/locked.png: permission denied."


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([*_compositor(), "models"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "compositor: error: cannot write to standard output (No space left on device)."]


def test_a_closed_pipe_on_stdout_is_quiet(tmp_path):
    """`compositor models | head -1`: the reader stopped; no message, no traceback."""
    proc = subprocess.Popen([*_compositor(), "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # closed before anything is read
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and err == ""


def test_control_characters_in_a_message_are_escaped(work, capsys, monkeypatch):
    """A library's message with terminal colour codes stays plain text."""
    from compositor import api

    def broken(*args, **kwargs):
        raise RuntimeError("Exception encountered when calling \x1b[1mMaxPooling2D\x1b[0m.")
    monkeypatch.setattr(api, "load_composite", broken)
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "\x1b" not in err and "\\x1b[1mMaxPooling2D" in err


def test_ctrl_c_inside_a_finalizer_is_not_lost(work, capsys, monkeypatch):
    """Ctrl-C that lands in a finalizer or weakref callback (Python's import locks have one)
    used to print "Exception ignored ... KeyboardInterrupt" and let the command run on."""
    from compositor import api

    class Finalizer:
        def __del__(self):
            raise KeyboardInterrupt

    real_load = api.load_composite

    def load(*args, **kwargs):
        import time

        Finalizer()  # collected at once: its KeyboardInterrupt cannot propagate from there
        time.sleep(2)  # the work that goes on
        return real_load(*args, **kwargs)

    monkeypatch.setattr(api, "load_composite", load)
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "--backend", "none", "-o", "h.png"], capsys)
    assert code == 130 and err.strip().splitlines() == ["compositor: interrupted."], err
    assert not (work / "h.png").exists()


@pytest.mark.parametrize("argv, words", [
    (["bench", "--backends", "none", "--seed", "-1", "-q"], ("--seed", "-1")),
    (["bench", "--backends", "none", "--per-case", "1000000000000", "-q"], ("--per-case", "1000000000000")),
    (["batch", "m.jsonl", "-o", "out", "--threads", "100000000000"], ("threads", "100000000000")),
    (["batch", "m.jsonl", "-o", "out", "--workers", "100000000000"], ("workers", "100000000000")),
    (["compose", "coffee.png", "chelsea.png", "--backend", "none", "--box", "inf,0,10,10", "-o", "out"], ("inf",)),
    (["compose", "coffee.png", "chelsea.png", "--backend", "none", "--box", "1e308,0,10,10", "-o", "out"],
     ("1e308",)),
])
def test_numeric_options_have_a_range(work, capsys, argv, words):
    """Values that used to end in `internal error` (a negative seed for NumPy, a thread count
    past a C int, an infinite box) or run without end (10**12 cases per photo)."""
    (work / "m.jsonl").write_text('{"background": "chelsea.png", "objects": [{"sticker": "sticker.png"}]}\n')
    code, _, err = run(argv, capsys)
    assert code == 2 and "internal error" not in err and "Traceback" not in err, err
    for word in words:
        assert word in err.strip().splitlines()[-1]
    assert not (work / "out").exists()
