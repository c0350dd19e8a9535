"""The command line's bad-input contract.

Every bad input gives one sentence naming the file (or value) and the problem, exit
code 2 for usage errors and 1 for failures, no traceback unless ``--traceback``, and no
output file left behind (hidden ``.*.part`` temporary files included). The CLI runs
in-process through ``compositor.cli.main``; two tests start a real process. TensorFlow
is made unimportable for the in-process tests, so any harmonize case that reached the
network would fail instead of passing slowly.
"""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from .helpers import CHELSEA_SIZE, SAMPLES


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """Importing TensorFlow (or Keras) fails: every case here must finish before the network."""
    for name in ("tensorflow", "keras", "tensorflow_hub"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with copies of the samples and a few generated inputs; the current directory."""
    shutil.copy(SAMPLES / "coffee.png", tmp_path / "coffee.png")
    shutil.copy(SAMPLES / "chelsea.png", tmp_path / "chelsea.png")
    w, h = CHELSEA_SIZE
    sticker = np.zeros((60, 80, 4), np.uint8)
    sticker[..., 0] = 255  # red
    sticker[10:50, 10:70, 3] = 255
    sticker[5:10, 5:75, 3] = 128  # a soft edge
    Image.fromarray(sticker).save(tmp_path / "sticker.png")
    mask = np.zeros((h, w), np.uint8)
    mask[100:150, 100:200] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(np.zeros((h, w), np.uint8)).save(tmp_path / "mask_empty.png")
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(tmp_path / "mask_white.png")
    Image.fromarray(mask[: h // 2, : w // 2]).save(tmp_path / "mask_small.png")
    (tmp_path / "notes.png").write_text("not a picture\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path
