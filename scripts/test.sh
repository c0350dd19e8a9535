#!/usr/bin/env bash
# Set up, then run the test suite (real VGG19 weights on small images).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
