"""What the command-line tests share: running ``compositor`` in-process and checking that a
bad input fails cleanly (one sentence, the exit code, no file written)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..workdir import CHELSEA_SIZE, ROOT, SAMPLES, files, run  # noqa: F401 (the cli tests import them from here)

COFFEE_SIZE = (600, 400)


def assert_error(code: int, err: str, expected_code: int, *names: object) -> str:
    """One line, ``compositor: error: ...``, naming each of ``names``, with the right exit code."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one sentence:\n{err}"
    line = lines[0]
    assert line.startswith("compositor: error: "), line
    assert "internal error" not in line
    for name in names:
        assert str(name) in line, f"{name} not named in {line!r}"
    assert code == expected_code, f"exit {code}, expected {expected_code}: {line}"
    return line


def assert_argparse_error(code: int, err: str, *words: str) -> str:
    """Argparse's usage errors: exit 2, the last line names the option and the value, no traceback."""
    assert code == 2
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "error:" in last
    for word in words:
        assert word in last, f"{word} not in {last!r}"
    return last


def fails_cleanly(argv, capsys, folder: Path, expected_code: int, *names: object) -> str:
    """Run a command that must fail; check the message, exit code and that no file changed or appeared."""
    before = files(folder)
    code, out, err = run(argv, capsys)
    line = assert_error(code, err, expected_code, *names)
    assert files(folder) == before, "an output (or temporary) file was written or an input changed"
    return line


def harmonize(*extra) -> list[str]:
    return ["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--iterations", "1", *extra]


def _compositor() -> list[str]:
    exe = Path(sys.executable).with_name("compositor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "compositor.cli"]


def _disk_full_for_sidecars(monkeypatch) -> None:
    """Writing any JSON sidecar fails as a full disk would, after the image was written."""
    from compositor import imageio
    from compositor.errors import CompositorError

    real = imageio.write_json

    def write_json(path, data, compact=False):
        real(path, data, compact)  # the temporary file is made, then the write "fails"
        raise CompositorError(f"{path}: could not write the file (No space left on device).")

    monkeypatch.setattr(imageio, "write_json", write_json)
