"""`compositor compose`: output clashes, bad settings, failures naming the input. Fixtures in
conftest.py (TensorFlow unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import shutil

import pytest
from PIL import Image

from .helpers import fails_cleanly


def test_compose_output_clash_and_bad_setting(work, capsys):
    fails_cleanly(["compose", "coffee.png", "chelsea.png", "-o", "out", "--iterations", "abc"],
                  capsys, work, 2, "iterations", "abc")
    (work / "out").mkdir()
    shutil.copy(work / "chelsea.png", work / "out" / "composite.png")
    fails_cleanly(["compose", "coffee.png", "out/composite.png", "-o", "out"], capsys, work, 2, "composite.png")


@pytest.mark.slow
def test_compose_failures_name_the_input(work, capsys):
    Image.new("RGB", (1, 1)).save(work / "tiny.png")
    fails_cleanly(["compose", "tiny.png", "chelsea.png", "-o", "out", "--backend", "none"], capsys, work, 1, "tiny.png")
    fails_cleanly(["compose", "coffee.png", "tiny.png", "-o", "out", "--backend", "reinhard", "--box",
                   "150,100,300,250"], capsys, work, 2, "coffee.png pasted on tiny.png")
