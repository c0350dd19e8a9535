"""What the command-line tests share: a fresh work folder made current (a fixture factory,
``work_fixture``, taking what each module puts in it), TensorFlow made unimportable, and
running ``compositor`` in-process."""
from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CHELSEA_SIZE = (451, 300)  # w, h


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """Importing TensorFlow (or Keras) fails: every case here must finish before the network."""
    for name in ("tensorflow", "keras", "tensorflow_hub"):
        monkeypatch.setitem(sys.modules, name, None)


def work_fixture(*samples: str, cup: bool = False, extra=None, doc: str = ""):
    """A ``work`` fixture: a fresh folder, the current directory, holding copies of the sample
    files ``samples``, ``mask.png`` (a 100x50 block on chelsea's size), with ``cup`` a small red
    RGBA sticker ``cup.png``, and whatever ``extra(folder)`` adds."""
    @pytest.fixture
    def work(tmp_path, monkeypatch):
        for name in samples:
            shutil.copy(SAMPLES / name, tmp_path / name)
        w, h = CHELSEA_SIZE
        mask = np.zeros((h, w), np.uint8)
        mask[100:150, 100:200] = 255
        Image.fromarray(mask).save(tmp_path / "mask.png")
        if cup:
            rgba = np.zeros((40, 60, 4), np.uint8)
            rgba[..., 0] = 255
            rgba[5:35, 5:55, 3] = 255
            Image.fromarray(rgba).save(tmp_path / "cup.png")
        if extra is not None:
            extra(tmp_path)
        monkeypatch.chdir(tmp_path)
        return tmp_path

    work.__doc__ = doc or work_fixture.__doc__
    return work


def run(argv, capsys) -> tuple[int, str, str]:
    """``compositor ARGV`` in-process: (exit code, stdout, stderr). Argparse's own errors exit."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_err(argv, capsys) -> tuple[int, str]:
    """``run``, answering (exit code, stderr)."""
    code, _, err = run(argv, capsys)
    return code, err


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ``.name.part`` ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class ReadOnly:
    """Makes the OS refuse every change under ``folder`` with EROFS, as a read-only mount does
    (a chmod does not stop root, who may run the suite); with ``access``, ``os.access`` also
    reports it not writable, as a read-only mount or a folder of mode 0555 does for a user."""

    def __init__(self, monkeypatch, folder: Path, *, access: bool = False):
        self.folder = str(folder.resolve())
        real_open, real_os_open, real_access = open, os.open, os.access
        for name in ("mkdir", "rename", "replace", "unlink", "rmdir"):
            monkeypatch.setattr(os, name, self._refusing(getattr(os, name)))

        def os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                self._check(path)
            return real_os_open(path, flags, *args, **kwargs)

        def builtin_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
                self._check(file)
            return real_open(file, mode, *args, **kwargs)

        def not_writable(path, mode, *args, **kwargs):
            if mode & os.W_OK and self._inside(path):
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(os, "open", os_open)
        if access:
            monkeypatch.setattr(os, "access", not_writable)
        monkeypatch.setattr("builtins.open", builtin_open)

    def _inside(self, path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(self.folder)

    def _check(self, path) -> None:
        if self._inside(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    def _refusing(self, real):
        def call(path, *args, **kwargs):
            self._check(path)
            return real(path, *args, **kwargs)
        return call
