"""The static parser: plugin settings as options checked against the chosen plugin, negative number
lists. Fixtures in conftest.py (TensorFlow unimportable; ``work``), helpers in helpers.py."""
from __future__ import annotations

import json
import shutil

import pytest

from compositor import cli

from .helpers import SAMPLES, fails_cleanly, run


def test_negative_number_lists_need_no_equals_sign():
    from compositor.cli.argv import join_negative_values

    assert join_negative_values(["synth", "--rotation", "-45,45", "--box", "-10,-10,5,5", "--seed", "-3"]) == \
        ["synth", "--rotation=-45,45", "--box=-10,-10,5,5", "--seed", "-3"]
    assert join_negative_values(["cut", "--", "--box", "-1,2"]) == ["cut", "--", "--box", "-1,2"]
    parser = cli.build_parser()
    args = parser.parse_args(join_negative_values(
        ["synth", "--objects", "o", "--backgrounds", "b", "-n", "1", "-o", "x", "--rotation", "-45,45"]))
    assert args.rotation == "-45,45"


def test_the_parser_is_the_same_for_any_command_line():
    """Every plugin's settings are options whatever argv holds; the chosen plugin is checked later."""
    args = cli.build_parser().parse_args(["harmonize", "c.png", "--mask", "m.png", "-o", "h.png",
                                          "--mode", "mixed", "--source", "onnx", "--ring", "3"])
    assert (args.set_mode, args.set_source, args.set_ring) == ("mixed", "onnx", "3")
    assert args.backend is None  # resolved when the command runs


@pytest.mark.parametrize("extra, words", [
    (["--backend", "magenta", "--mode", "fit"], ("--mode", "magenta harmonizer", "poisson and vgg19", "--style")),
    (["--backend", "none", "--iterations", "3"], ("--iterations", "none harmonizer", "no settings")),
    (["--backend", "poisson", "--mode", "fit"], ("--mode", "poisson", "normal, mixed", "'fit'")),
])
def test_a_setting_the_chosen_backend_lacks_is_one_sentence(work, capsys, extra, words):
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", *extra], capsys, work, 2, *words)


def test_another_cutters_setting_is_refused(work, capsys):
    fails_cleanly(["cut", "coffee.png", "-o", "s.png", "--method", "grabcut", "--cascade", "face"], capsys, work, 2,
                  "--cascade", "grabcut cutter", "cascade takes it")


@pytest.mark.parametrize("option", [["--cascade", "face"], ["--set", "cascade=face"]])
def test_a_setting_marked_selects_chooses_its_plugin(work, capsys, option):
    """``cut --cascade NAME`` runs the cascade cutter: its ``cascade`` setting says so, not the CLI."""
    shutil.copy(SAMPLES / "astronaut.png", work / "astronaut.png")
    code, _, err = run(["cut", "astronaut.png", "-o", "face.png", *option], capsys)
    assert code == 0, err
    assert json.loads((work / "face.json").read_text())["method"] == "cascade"


def test_a_plugin_that_fails_to_load_leaves_the_parser_alone(work, capsys, monkeypatch):
    from compositor import plugins
    from compositor.errors import CompositorError

    real = plugins.load

    def load(kind, name):
        if name == "magenta":
            raise CompositorError("the harmonizer plugin 'magenta' (x:y) failed to load: broken.")
        return real(kind, name)

    monkeypatch.setattr(plugins, "load", load)
    code, out, _ = run(["harmonize", "--help"], capsys)
    assert code == 0 and "--iterations" in out and "--hub-size" not in out
    fails_cleanly(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--backend", "magenta"],
                  capsys, work, 1, "magenta", "failed to load")
    code, _, err = run(["harmonize", "chelsea.png", "--mask", "mask.png", "-o", "h.png", "--backend", "none", "-q"],
                       capsys)
    assert code == 0, err
