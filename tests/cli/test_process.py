"""The command as a real process: exit codes, --traceback, --help and checks without TensorFlow, python
-m. Fixtures in conftest.py (TensorFlow unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import ROOT, _compositor

pytestmark = pytest.mark.slow  # each test starts the command as a real process


def _run_compositor(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([*_compositor(), *argv], capture_output=True, text=True, env=env, timeout=60)


def test_real_process_exit_code(tmp_path):
    missing = tmp_path / "missing.png"
    done = _run_compositor("cut", str(missing), "-o", str(tmp_path / "s.png"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"compositor: error: {missing}: no such file."]
    assert os.listdir(tmp_path) == []


def test_real_process_traceback_on_request(tmp_path):
    missing = tmp_path / "missing.png"
    done = _run_compositor("--traceback", "cut", str(missing), "-o", str(tmp_path / "s.png"))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "CompositorError" in done.stderr and str(missing) in done.stderr
    assert os.listdir(tmp_path) == []


HELP_PROBE = r"""
import contextlib, io, json, sys
from compositor import cli
results = []
for argv in (["--help"], ["harmonize", "--help"], ["harmonize", "--backend", "vgg19", "--help"], ["cut", "--help"],
             ["compose", "--help"]):
    text = io.StringIO()
    try:
        with contextlib.redirect_stdout(text):
            code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    results.append({"argv": argv, "code": code, "usage": "usage: compositor" in text.getvalue(),
                    "tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules})
print(json.dumps(results))
"""


def test_help_exits_0_without_importing_tensorflow():
    done = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == 5
    for r in results:
        assert r["code"] == 0 and r["usage"], r
        assert not r["tensorflow"], f"{r['argv']} imported TensorFlow"


def test_tensorflow_import_prints_nothing(tmp_path):
    """TensorFlow's native start-up logging does not reach the command's stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", "import compositor.nst.losses; import tensorflow; "
                           "print(tensorflow.__name__)"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tensorflow" and done.stderr == ""


def test_checking_vgg19_settings_does_not_import_tensorflow(tmp_path):
    """Validating settings (as batch and synth do in the parent before their workers
    start) must not cost a TensorFlow import."""
    code = ("import sys; from compositor.harmonizers.vgg19 import VGGSettings; "
            "VGGSettings(style_layers=('block1_conv1',)).validate(); print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("module", ["compositor", "compositor.cli"])
def test_python_dash_m(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0 and done.stdout.startswith("compositor "), done.stderr
