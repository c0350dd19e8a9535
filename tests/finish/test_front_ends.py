"""The finishing stage through every front end: the Python API and the commands harmonize,
compose and paste (options, refusals before any work, the record in the sidecar)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor import api
from compositor.errors import UsageError

from ..workdir import run

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """The samples and a small sticker in a folder, the current directory."""
    for name in ("coffee.png", "chelsea.png"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    shutil.copy(SAMPLES / "masks" / "coffee_cup.png", tmp_path / "cup_mask.png")
    photo = np.asarray(Image.open(SAMPLES / "coffee.png").convert("RGB"))
    mask = np.asarray(Image.open(SAMPLES / "masks" / "coffee_cup.png").convert("L"))
    ys, xs = np.nonzero(mask >= 128)
    rgba = np.dstack([photo, mask])[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    Image.fromarray(rgba).resize((rgba.shape[1] // 3, rgba.shape[0] // 3)).save(tmp_path / "cup.png")
    monkeypatch.chdir(tmp_path)
    for name in ("tensorflow", "keras", "tensorflow_hub"):
        monkeypatch.setitem(sys.modules, name, None)
    return tmp_path


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_harmonize_match_and_shadow(work, capsys):
    code, _, err = run(["harmonize", "coffee.png", "--mask", "cup_mask.png", "--backend", "reinhard", "--match", "all",
                        "--shadow", "cast", "--light", "120,35", "--shadow-opacity", "0.5", "--finish-seed", "9",
                        "-o", "out.png", "-q"], capsys)
    assert code == 0, err
    record = json.loads(Path("out.json").read_text())["stats"]["finish"]
    assert record["match"] == ["blur", "noise", "jpeg"] and record["shadow"] == "cast" and record["seed"] == 9
    assert record["light"] == [120.0, 35.0] and record["shadow_opacity"] == 0.5
    obj = record["objects"][0]
    assert {"blur", "noise", "jpeg", "shadow"} <= set(obj)
    code, _, _ = run(["harmonize", "coffee.png", "--mask", "cup_mask.png", "--backend", "reinhard",
                      "--match", "none", "-o", "plain.png", "-q"], capsys)
    assert code == 0
    assert "finish" not in json.loads(Path("plain.json").read_text())["stats"]
    out, plain = np.asarray(Image.open("out.png")), np.asarray(Image.open("plain.png"))
    near = cv2.dilate((np.asarray(Image.open("cup_mask.png")) > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    # the object (and a blur's band at its edge) may be matched; elsewhere only the shadow, darker
    assert (out[~near] <= plain[~near]).all() and (out[~near] < plain[~near]).any()


@pytest.mark.parametrize("options, words", [
    (["--match", "blur,sharpen"], "--match must be a comma list"),
    (["--shadow", "cast"], "needs a light direction"),
    (["--shadow", "cast", "--light", "30,91"], "--light: the elevation must be between 0 and 90"),
    (["--light", "a,b", "--shadow", "cast"], "--light must be AZIMUTH,ELEVATION"),
    (["--shadow-opacity", "0.95"], "--shadow-opacity must be between 0.0 and 0.9"),
    (["--shadow-softness", "-1"], "--shadow-softness must be between"),
    (["--finish-seed", "-3"], "--finish-seed must be between"),
    # an option that would change nothing: refused, saying what to add
    (["--light", "135,40"], "--light sets a cast shadow's direction; add --shadow cast."),
    (["--shadow", "contact", "--light", "135,40"], "--light sets a cast shadow's direction; add --shadow cast."),
    (["--shadow", "none", "--shadow-opacity", "0.6"],
     "--shadow-opacity sets how dark a shadow gets; add --shadow contact or --shadow cast."),
    (["--shadow", "none", "--shadow-softness", "0.2"],
     "--shadow-softness sets how soft a shadow's edge is; add --shadow contact or --shadow cast."),
])
@pytest.mark.parametrize("command", ["harmonize", "compose", "paste"])
def test_bad_values_refused_before_any_work(work, capsys, command, options, words):
    argv = {"harmonize": ["harmonize", "coffee.png", "--mask", "cup_mask.png", "-o", "out.png"],
            "compose": ["compose", "coffee.png", "chelsea.png", "-o", "outdir"],
            "paste": ["paste", "chelsea.png", "cup.png@50%,80%", "-o", "out.png", "--mask-out", "m.png"]}[command]
    before = listing(work)
    code, _, err = run(argv + options, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, err
    assert listing(work) == before


def test_paste_with_contact_shadow(work, capsys):
    code, _, err = run(["paste", "chelsea.png", "cup.png@30%,90%,1,0,bottom", "cup.png@70%,90%,1,0,bottom",
                        "-o", "out.png", "--mask-out", "m.png", "--shadow", "contact"], capsys)
    assert code == 0, err
    record = json.loads(Path("out.json").read_text())
    assert [o["shadow"]["kind"] for o in record["finish"]["objects"]] == ["contact", "contact"]
    code, _, _ = run(["paste", "chelsea.png", "cup.png@30%,90%,1,0,bottom", "cup.png@70%,90%,1,0,bottom",
                      "-o", "plain.png", "--mask-out", "m2.png"], capsys)
    out, plain = np.asarray(Image.open("out.png")), np.asarray(Image.open("plain.png"))
    mask = np.asarray(Image.open("m.png")) == 255  # wholly object (a soft edge is shaded by its background share)
    assert (out <= plain).all() and (out[mask] == plain[mask]).all() and (out < plain).any()


def test_api_finish_and_options(work):
    comp = api.load_composite("coffee.png", "cup_mask.png")
    result = api.harmonize(comp, "none", finish={"match": "all", "shadow": "contact", "seed": 1})
    again = api.harmonize(comp, "none", finish={"match": "all", "shadow": "contact", "seed": 1})
    assert result.image.tobytes() == again.image.tobytes()
    assert result.stats["finish"]["seed"] == 1
    image, record = api.finish(comp, comp, shadow="cast", light=(200, 30))
    assert record["light"] == [200.0, 30.0] and (image <= comp.image).all()
    with pytest.raises(UsageError, match="unknown|comma list"):
        api.harmonize(comp, "none", finish={"match": "grain"})
    sticker = api.read_sticker("cup.png")
    shadowed = api.paste("chelsea.png", [(sticker, 200, 200)], finish={"shadow": "contact"})
    plain = api.paste("chelsea.png", [(sticker, 200, 200)])
    assert (shadowed.image <= plain.image).all() and (shadowed.image < plain.image).any()


def test_batch_manifest_keys(work, capsys):
    jobs = [{"id": "a", "background": "chelsea.png", "objects": [{"sticker": "cup.png", "x": 100, "y": 200}],
             "backend": "none", "match": "all", "shadow": "cast", "light": [135, 40], "seed": 5},
            {"id": "b", "background": "chelsea.png", "objects": [{"sticker": "cup.png", "x": 100, "y": 200}],
             "backend": "none"}]
    Path("m.jsonl").write_text("\n".join(json.dumps(j) for j in jobs) + "\n")
    code, _, err = run(["batch", "m.jsonl", "-o", "out", "-q"], capsys)
    assert code == 0, err
    finished = json.loads(Path("out/a.json").read_text())["harmonize"]["stats"]["finish"]
    assert finished["shadow"] == "cast" and finished["light"] == [135.0, 40.0] and finished["seed"] == 5
    assert "finish" not in json.loads(Path("out/b.json").read_text())["harmonize"]["stats"]
    assert finished["match"] == ["blur", "noise", "jpeg"] and "blur" in finished["objects"][0]
    a, b = np.asarray(Image.open("out/a.png")), np.asarray(Image.open("out/b.png"))
    x, y, w, h = json.loads(Path("out/a.json").read_text())["objects"][0]["box"]
    outside = np.ones(a.shape[:2], bool)
    outside[y:y + h, x:x + w] = False  # the object may be matched; around it only the shadow darkens
    assert (a[outside] <= b[outside]).all() and (a[outside] < b[outside]).any()


@pytest.mark.parametrize("field, value, words", [("light", "10,100", "elevation must be between 0 and 90"),
                                                 ("match", "sharpness", "match must be a comma list"),
                                                 ("shadow", "cast", "needs a light direction"),
                                                 ("light", [135, 40], "light sets a cast shadow's direction")])
def test_batch_refuses_bad_finishing(work, capsys, field, value, words):
    job = {"id": "a", "background": "chelsea.png", "objects": [{"sticker": "cup.png"}], "backend": "none",
           field: value}
    Path("m.jsonl").write_text(json.dumps(job) + "\n")
    code, _, err = run(["batch", "m.jsonl", "-o", "out", "-q"], capsys)
    assert code == 2 and words in err and "m.jsonl" in err and len(err.strip().splitlines()) == 1, err
    assert not Path("out").exists() or not any(Path("out").glob("*.png"))


@pytest.mark.slow
def test_defaults_of_compose_and_harmonize(work, capsys):
    """compose matches blur and noise and casts a contact shadow unless told not to; harmonize matches."""
    code, _, err = run(["compose", "coffee.png", "chelsea.png", "--box", "150,60,300,280", "--method", "grabcut",
                        "--backend", "none", "--at", "110,225,0.3", "-o", "c1", "-q"], capsys)
    assert code == 0, err
    finished = json.loads(Path("c1/compose.json").read_text())["harmonize"]["stats"]["finish"]
    assert finished["match"] == ["blur", "noise"] and finished["shadow"] == "contact"
    code, _, err = run(["compose", "coffee.png", "chelsea.png", "--box", "150,60,300,280", "--method", "grabcut",
                        "--backend", "none", "--at", "110,225,0.3", "-o", "c2", "-q", "--match", "none",
                        "--shadow", "none"], capsys)
    assert code == 0, err
    assert "finish" not in json.loads(Path("c2/compose.json").read_text())["harmonize"]["stats"]
    code, _, err = run(["harmonize", "coffee.png", "--mask", "cup_mask.png", "--backend", "none", "-o", "h.png",
                        "-q"], capsys)
    assert code == 0, err
    finished = json.loads(Path("h.json").read_text())["stats"]["finish"]
    assert finished["match"] == ["blur", "noise"] and finished["shadow"] == "none"


@pytest.mark.parametrize("command, options, shadow", [
    (["compose", "a.png", "b.png", "-o", "d"], [], "contact"),
    (["compose", "a.png", "b.png", "-o", "d"], ["--shadow-opacity", "0.6", "--shadow-softness", "0.2"], "contact"),
    (["compose", "a.png", "b.png", "-o", "d"], ["--shadow", "none"], "none"),
    (["harmonize", "a.png", "--mask", "m.png", "-o", "o.png"], [], None),
    (["harmonize", "a.png", "--mask", "m.png", "-o", "o.png"], ["--shadow", "contact", "--shadow-opacity", "0.6"], "contact"),
    (["paste", "b.png", "c.png@1,1", "-o", "o.png", "--mask-out", "m.png"], ["--shadow", "cast", "--light", "9,9"],
     "cast"),
])
def test_options_that_act_and_defaults_are_taken(command, options, shadow):
    """A command's own defaults never trip the rule (compose's contact shadow with the stage's
    opacity and softness), nor does an option that acts on the shadow the command will make."""
    from compositor.cli.options import finish_values
    from compositor.cli.parser import build_parser

    args = build_parser().parse_args(command + options)
    assert finish_values(args).get("shadow") == shadow


def test_api_refuses_settings_that_change_nothing(work):
    from compositor.finish import FinishSettings

    comp = api.load_composite("coffee.png", "cup_mask.png")
    with pytest.raises(UsageError, match="finish.light sets a cast shadow's direction; add finish.shadow cast."):
        api.harmonize(comp, "none", finish={"light": (135, 40)})
    with pytest.raises(UsageError, match="finish.light sets a cast shadow's direction"):
        api.harmonize(comp, "none", finish=FinishSettings(shadow="contact", light="135,40"))
    with pytest.raises(UsageError, match="finish.shadow_opacity sets how dark a shadow gets"):
        api.finish(comp, comp, shadow="none", shadow_opacity=0.6)
    with pytest.raises(UsageError, match="finish.shadow_softness sets how soft"):
        api.paste("chelsea.png", [(api.read_sticker("cup.png"), 200, 200)], finish={"shadow_softness": 0.1})
    image, record = api.finish(comp, comp, shadow="contact", shadow_opacity=0.6)  # it acts here
    assert record["shadow_opacity"] == 0.6 and (image <= comp.image).all()


def test_server_refuses_settings_that_change_nothing(work):
    """The HTTP API fills in compose's defaults (a contact shadow) and goes through the same rule."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from compositor.server.app import Config, create_app

    files = {"composite": ("c.png", Path("coffee.png").read_bytes(), "image/png"),
             "mask": ("m.png", Path("cup_mask.png").read_bytes(), "image/png")}
    with TestClient(create_app(Config(workers=1, queue=2)), base_url="http://127.0.0.1") as client:
        for finish, words in (({"light": "135,40"}, "finish.light sets a cast shadow's direction; add finish.shadow "
                                                    "cast."),
                              ({"shadow": "none", "shadow_softness": 0.2}, "finish.shadow_softness sets how soft")):
            r = client.post("/api/harmonize", files=files, data={"backend": "none", "finish": json.dumps(finish)})
            assert r.status_code == 400 and words in r.json()["error"], r.text
