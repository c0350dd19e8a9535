"""Build docs/demo.png (source photo | composite | harmonized) from out/demo/ after scripts/demo.sh."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.ops.resize import resize  # noqa: E402
from compositor.imageio import read_rgb, write_image  # noqa: E402


def main(outdir: Path = ROOT / "out" / "demo", height: int = 300) -> None:
    tiles = [read_rgb(ROOT / "samples" / "coffee.png"), read_rgb(outdir / "composite.png"), read_rgb(outdir / "harmonized.png")]
    row = [resize(t, (round(t.shape[1] * height / t.shape[0]), height)) for t in tiles]
    gap = np.full((height, 8, 3), 255, np.uint8)
    figure = np.concatenate([row[0], gap, row[1], gap, row[2]], axis=1)
    write_image(ROOT / "docs" / "demo.png", figure)
    print(ROOT / "docs" / "demo.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "demo")
