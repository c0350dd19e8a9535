#!/usr/bin/env bash
# Set up from nothing: a virtual environment in .venv, the package with its test tools,
# and the offline model weights (checked by sha256), fetched into the folder the package
# reads them from: the user's cache folder, or $COMPOSITOR_MODELS_DIR when set. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
.venv/bin/compositor models fetch
# pymatting compiles its kernels (numba) on first import and caches them: do it once here,
# not in the first cut.
.venv/bin/python -c "import pymatting"
