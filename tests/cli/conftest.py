"""The command line's bad-input contract.

Every bad input gives one sentence naming the file (or value) and the problem, exit
code 2 for usage errors and 1 for failures, no traceback unless ``--traceback``, and no
output file left behind (hidden ``.*.part`` temporary files included). The CLI runs
in-process through ``compositor.cli.main``; two tests start a real process. TensorFlow
is made unimportable for the in-process tests, so any harmonize case that reached the
network would fail instead of passing slowly.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..workdir import CHELSEA_SIZE, no_tensorflow, work_fixture  # noqa: F401 (no_tensorflow: autouse here)


def _inputs(folder) -> None:
    """A sticker with a soft edge, masks that are empty, white or of the wrong size, and a
    file that is no picture."""
    w, h = CHELSEA_SIZE
    sticker = np.zeros((60, 80, 4), np.uint8)
    sticker[..., 0] = 255  # red
    sticker[10:50, 10:70, 3] = 255
    sticker[5:10, 5:75, 3] = 128  # a soft edge
    Image.fromarray(sticker).save(folder / "sticker.png")
    mask = np.asarray(Image.open(folder / "mask.png"))
    Image.fromarray(np.zeros((h, w), np.uint8)).save(folder / "mask_empty.png")
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(folder / "mask_white.png")
    Image.fromarray(mask[: h // 2, : w // 2]).save(folder / "mask_small.png")
    (folder / "notes.png").write_text("not a picture\n")


work = work_fixture("coffee.png", "chelsea.png", extra=_inputs,
                    doc="A folder with copies of the samples and a few generated inputs; the current directory.")
