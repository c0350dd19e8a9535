#!/usr/bin/env bash
# Set up, then cut the coffee cup out of one photo, paste it in front of the cat in
# another, and harmonize it with VGG19: results in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/compositor compose samples/coffee.png samples/chelsea.png --at 110,225,0.3 --backend vgg19 -o out/demo --force "$@"
echo "Open out/demo/harmonized.png (composite.png is the pasted image before harmonization)."
