"""SIGTERM and Ctrl-C: snapshots removed, one line, the exit code. Fixtures in conftest.py (TensorFlow
unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from pathlib import Path

import pytest

from .helpers import ROOT

pytestmark = pytest.mark.slow  # real processes stopped by signals


SLOW_BACKEND = [str(Path(__file__).resolve().parents[1] / "data" / "slow_harmonizer.py"), "0.02"]  # script, step seconds


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "compositor: terminated."),
                                                (signal.SIGINT, 130, "compositor: interrupted.")])
def test_a_signal_removes_the_snapshots(work, signum, code, line):
    """SIGTERM is handled as Ctrl-C is: the snapshots written so far are removed (SIGTERM used
    to leave them behind), one line is printed, and the exit code tells which signal it was."""
    import time

    proc = subprocess.Popen([sys.executable, *SLOW_BACKEND, "harmonize", "chelsea.png", "--mask", "mask.png",
                             "--backend", "none", "-o", "h.png", "--snapshot-every", "2", "-q"],
                            stderr=subprocess.PIPE, text=True, cwd=work)
    snaps = work / "h_snapshots"
    deadline = time.monotonic() + 30
    while not (snaps.is_dir() and len(list(snaps.glob("*.png"))) >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert snaps.is_dir(), "no snapshot was written"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [line]
    assert not snaps.exists() and not (work / "h.png").exists()


FAKE_TENSORFLOW = """
import os
os.write(2, b"E0000 00:00:1 12345 cuda_dnn.cc:8310] Unable to register cuDNN factory\\n")
raise KeyboardInterrupt
"""


def test_ctrl_c_during_tensorflow_start_up_prints_one_line(work, tmp_path):
    """Ctrl-C while TensorFlow loads: only `compositor: interrupted.`, not TensorFlow's
    native log lines that the quiet import was holding back."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "compositor.cli", "harmonize", "chelsea.png", "--mask", "mask.png",
                           "--backend", "vgg19", "--mode", "fit", "-o", "h.png", "-q"], capture_output=True, text=True, env=env,
                          cwd=work, timeout=60)
    assert done.returncode == 130
    assert done.stderr.strip().splitlines() == ["compositor: interrupted."]
