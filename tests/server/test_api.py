"""The studio's HTTP API through FastAPI's TestClient (httpx): every endpoint with good input,
bad input, each limit, the token, and concurrent requests. The app, its pool and its folder
are the real ones; the pipeline runs with real weights (u2net for the default cut)."""
from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli
from compositor.imageio import read_rgb

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BASE = "http://127.0.0.1"


def client_for(**config):
    """A TestClient of the app made with ``config`` (FastAPI and httpx are imported here, when
    a test first needs them, not when the suite is collected)."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from compositor.server.app import Config, create_app

    return TestClient(create_app(Config(**config)), base_url=BASE)


@pytest.fixture(scope="module")
def client():
    with client_for(workers=2, queue=8) as c:
        yield c


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def upload(client, path: Path, name: str | None = None) -> dict:
    r = client.post("/api/uploads", files={"file": (name or path.name, path.read_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    return r.json()


def run_commands_in(folder: Path, *commands: str) -> None:
    """Run each ``compositor ...`` command line (as the API returns it) in ``folder``; each must succeed."""
    import os
    import shlex

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        for command in commands:
            assert cli.main(shlex.split(command)[1:]) == 0, command
    finally:
        os.chdir(cwd)


def one_sentence(r, status: int, *words: str) -> str:
    """The response is ``status`` with JSON {"error": one sentence} holding ``words`` and no trace or path."""
    assert r.status_code == status, (r.status_code, r.text)
    message = r.json()["error"]
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message, message
    assert "compositor-serve-" not in message, message  # no server folder
    for w in words:
        assert w in message, (w, message)
    return message


@pytest.fixture(scope="module")
def sticker_file(tmp_path_factory, cup) -> Path:
    path = tmp_path_factory.mktemp("studio") / "cup.png"
    Image.fromarray(cup.rgba).save(path)
    return path


@pytest.fixture(scope="module")
def pasted(client, sticker_file):
    """A paste through the API: the cup at 50%,95%, 40% of the height, standing on its bottom."""
    sticker = upload(client, sticker_file)
    r = client.post("/api/paste", files={"background": ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())},
                    data={"placements": json.dumps([{"sticker": sticker["id"], "x": "50%", "y": "95%",
                                                     "height": "40%", "anchor": "bottom", "rotation": 5}])})
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- page, health, plugins


def test_page_and_docs(client):
    r = client.get("/")
    assert r.status_code == 200 and "compositor studio" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "http" not in r.text.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text and "cdn" not in docs.text.lower()
    spec = client.get("/openapi.json").json()
    for path in ("/api/cut", "/api/paste", "/api/harmonize", "/api/compose", "/api/compare", "/api/plugins"):
        assert path in spec["paths"], path
    assert client.get("/api/health").json()["ok"]


def test_plugins_list_their_declared_settings(client):
    from compositor import plugins

    out = client.get("/api/plugins").json()
    names = [p["name"] for p in out["harmonizers"]]
    assert names == plugins.names("harmonizer")
    reinhard = next(p for p in out["harmonizers"] if p["name"] == "reinhard")
    strength = next(s for s in reinhard["settings"] if s["name"] == "strength")
    assert strength["type"] == "float" and strength["bounds"] == [0.0, 1.0]
    assert out["defaults"]["cutter"] in [p["name"] for p in out["cutters"]]
    # the finishing form starts at compose's defaults, read from where that command declares them
    from compositor.cli.commands.compose import DEFAULTS

    finish = {s["name"]: s["default"] for s in out["finish"]["settings"]}
    assert DEFAULTS and all(finish[k] == v for k, v in DEFAULTS.items())
    assert finish["shadow_opacity"] == 0.45  # the stage's own where compose declares none


def test_a_third_party_plugin_appears(tmp_path, monkeypatch):
    """A harmonizer registered by another package's entry point shows up in /api/plugins with
    its settings, and runs, with no change to the server or the page."""
    pkg = tmp_path / "studio_extra"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import dataclasses\nfrom compositor import plugins\nfrom compositor.types import Result\n"
        "class Brighten:\n    name = 'brighten'\n"
        "    @dataclasses.dataclass(frozen=True)\n    class Settings:\n"
        "        amount: int = plugins.setting(10, 'levels added inside the mask', bounds=(0, 100))\n"
        "    def harmonize(self, composite, settings, progress=None):\n"
        "        img = composite.image.astype(int) + (composite.mask[..., None] > 0) * settings.amount\n"
        "        return Result(image=img.clip(0, 255).astype('uint8'), backend='brighten', seconds=0.0)\n")
    info = tmp_path / "studio_extra-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: studio-extra\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[compositor.harmonizers]\nbrighten = studio_extra:Brighten\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with client_for() as c:
        out = c.get("/api/plugins").json()
        extra = next(p for p in out["harmonizers"] if p["name"] == "brighten")
        assert extra["settings"][0] == {"name": "amount", "type": "int", "default": 10, "bounds": [0, 100],
                                        "help": "levels added inside the mask (0..100)", "choices": None,
                                        "optional": False, "path": False}
        comp = np.full((40, 60, 3), 100, np.uint8)
        mask = np.zeros((40, 60), np.uint8)
        mask[10:30, 20:40] = 255
        r = c.post("/api/harmonize", files={"composite": ("c.png", png_bytes(comp)), "mask": ("m.png", png_bytes(mask))},
                   data={"backend": "brighten", "settings": json.dumps({"amount": 5}), "format": "png"})
        assert r.status_code == 200, r.text
        out = np.asarray(Image.open(io.BytesIO(r.content)))
        assert out[20, 30, 0] == 105 and out[0, 0, 0] == 100
        one_sentence(c.post("/api/harmonize", files={"composite": ("c.png", png_bytes(comp)),
                                                      "mask": ("m.png", png_bytes(mask))},
                            data={"backend": "brighten", "settings": json.dumps({"amount": 500})}),
                     400, "brighten.amount", "500")


# --------------------------------------------------------------------------- uploads and limits


def test_upload_is_decoded_by_content(client, tmp_path):
    # a PNG sent under a .txt name with a text type is still a PNG
    r = client.post("/api/uploads", files={"file": ("notes.txt", (SAMPLES / "chelsea.png").read_bytes(), "text/plain")})
    assert r.status_code == 200 and (r.json()["width"], r.json()["height"]) == (451, 300)
    fetched = client.get(r.json()["url"])
    assert fetched.status_code == 200
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(fetched.content))), np.asarray(Image.open(SAMPLES / "chelsea.png")))
    assert client.get(r.json()["preview"]).status_code == 200


@pytest.mark.parametrize("name, data, status, words", [
    ("notes.png", b"just some text, not an image", 422, ("notes.png", "not an image")),
    ("cut.png", (SAMPLES / "chelsea.png").read_bytes()[:5000], 422, ("cut.png", "truncated")),
    ("empty.png", b"", 400, ("empty",)),
    ("../../etc/passwd", b"root:x:0:0", 422, ("passwd: not an image",)),
    ("<img src=x onerror=alert(1)>.png", b"GIF89a nope", 422, ("img_src_x_onerror_alert_1",)),
])
def test_bad_uploads(client, name, data, status, words):
    message = one_sentence(client.post("/api/uploads", files={"file": (name, data, "image/png")}), status, *words)
    assert "<" not in message and "/etc" not in message
    assert client.get("/api/health").json()["ok"]  # the server stays up


def test_upload_limits_bytes_and_pixels():
    with client_for(max_bytes=20_000, max_pixels=100_000) as c:
        big = (SAMPLES / "chelsea.png").read_bytes()
        assert len(big) > 20_000
        one_sentence(c.post("/api/uploads", files={"file": ("chelsea.png", big)}), 413, "limit", "MB")
        # a small file that decodes to many pixels: a decompression bomb
        bomb = png_bytes(np.zeros((1000, 1000, 3), np.uint8))
        assert len(bomb) < 20_000
        one_sentence(c.post("/api/uploads", files={"file": ("bomb.png", bomb)}), 413, "bomb.png", "1,000,000 pixels",
                     "100,000")
        # a body streamed without a Content-Length is counted as it arrives
        def chunks():
            for _ in range(10):
                yield b"x" * 5000

        r = c.post("/api/uploads", content=chunks(), headers={"content-type": "multipart/form-data; boundary=zz"})
        one_sentence(r, 413, "limit")
        assert c.get("/api/health").json()["ok"]


def test_unknown_and_malformed_ids(client):
    one_sentence(client.get("/api/files/" + "0" * 32), 404, "not known")
    one_sentence(client.get("/api/files/../../etc/passwd"), 404)
    one_sentence(client.post("/api/cut", data={"image_id": "nope"}), 404, "image_id", "32 hex digits")
    one_sentence(client.get("/api/jobs/" + "a" * 32), 404, "job")
    one_sentence(client.get("/api/nothing-here"), 404, "nothing")


@pytest.mark.parametrize("path", ["/api/uploads", "/api/cut", "/api/paste", "/api/harmonize", "/api/compose",
                                  "/api/compare"])
def test_a_json_body_is_told_the_api_takes_forms(client, path):
    """A JSON body (what most HTTP APIs take) was answered with a missing field, "image is
    missing: upload a file as image or give image_id", though image_id was given; it is told
    that the API takes form fields and files instead."""
    one_sentence(client.post(path, json={"image_id": "0" * 32}), 415, "multipart/form-data", "application/json")


# --------------------------------------------------------------------------- cut


def test_cut_default_cutter(client):
    photo = upload(client, SAMPLES / "coffee.png")
    r = client.post("/api/cut", data={"image_id": photo["id"]})
    assert r.status_code == 200, r.text
    out = r.json()
    s = out["stickers"][0]
    assert s["method"] == "u2net" and s["score"] > 0.5
    rgba = np.asarray(Image.open(io.BytesIO(client.get(s["sticker"]["url"]).content)))
    mask = np.asarray(Image.open(io.BytesIO(client.get(s["mask"]["url"]).content)))
    assert rgba.shape[2] == 4 and mask.shape == rgba.shape[:2]
    assert np.abs(mask.astype(int) - rgba[..., 3]).max() <= 1
    assert out["command"].startswith("compositor cut coffee.png -o coffee-sticker.png --method u2net")


@pytest.mark.slow
def test_cut_with_a_box_and_another_cutter(client):
    r = client.post("/api/cut", files={"image": ("coffee.png", (SAMPLES / "coffee.png").read_bytes())},
                    data={"method": "grabcut", "box": "150,60,300,280"})
    assert r.status_code == 200, r.text
    s = r.json()["stickers"][0]
    x, y, w, h = s["box"]
    assert x >= 150 - 8 and y >= 60 - 8 and x + w <= 450 + 8 and y + h <= 340 + 8  # the box, and a feathered edge
    assert "--box 150,60,300,280" in r.json()["command"]


@pytest.mark.parametrize("data, status, words", [
    ({"method": "scissors"}, 400, ("unknown cutter 'scissors'",)),
    ({"box": "1,2,3"}, 400, ("box", "four numbers")),
    ({"settings": "{not json"}, 400, ("settings", "not valid JSON")),
    ({"settings": "[1, 2]"}, 400, ("settings", "JSON object")),
    ({"settings": json.dumps({"threshold": 5})}, 400, ("u2net.threshold", "5")),
    ({"settings": json.dumps({"bogus": 1})}, 400, ("no setting 'bogus'",)),
    ({}, 400, ("image is missing",)),
])
def test_cut_bad_input(client, data, status, words):
    one_sentence(client.post("/api/cut", data=data), status, *words)


# --------------------------------------------------------------------------- paste


def test_paste_matches_the_command_line(client, pasted, sticker_file, tmp_path):
    """The API's composite and mask are what the command it returns makes, pixel for pixel."""
    assert pasted["command"] == (f"compositor paste chelsea.png cup.png@50%,95%,40%,5,bottom -o composite.png "
                                 "--mask-out mask.png")
    (tmp_path / "chelsea.png").write_bytes((SAMPLES / "chelsea.png").read_bytes())
    (tmp_path / "cup.png").write_bytes(sticker_file.read_bytes())
    run_commands_in(tmp_path, pasted["command"])
    for key, name in (("composite", "composite.png"), ("mask", "mask.png")):
        served = np.asarray(Image.open(io.BytesIO(client.get(pasted[key]["url"]).content)))
        assert np.array_equal(served, np.asarray(Image.open(tmp_path / name))), key
    sidecar = client.get(pasted["sidecar"]["url"]).json()
    assert sidecar["objects"][0]["box"] == pasted["objects"][0]["box"]
    # the sidecar is the one compositor paste writes: the same keys, in the same order, and the same
    # files by name and sha256
    assert sidecar == json.loads((tmp_path / "composite.json").read_text())
    assert list(sidecar) == ["background", "objects", "mask"] and sidecar["background"]["sha256"]


def test_paste_command_runs_for_names_starting_with_a_dash(client, sticker_file, tmp_path):
    """Uploads named -bg.png, --help.png and - give a command that runs: the labels were kept
    with their leading dash, so compositor paste read them as options (exit 2)."""
    for i, (bg_name, sticker_name) in enumerate((("-bg.png", "--help.png"), ("-", "-"))):
        sticker = upload(client, sticker_file, sticker_name)
        r = client.post("/api/paste", files={"background": (bg_name, (SAMPLES / "chelsea.png").read_bytes())},
                        data={"placements": json.dumps([{"sticker": sticker["id"], "x": "50%", "y": "50%"}])})
        assert r.status_code == 200, r.text
        sidecar = client.get(r.json()["sidecar"]["url"]).json()
        names = [sidecar["background"]["path"], sidecar["objects"][0]["sticker"]["path"]]
        assert not any(n.startswith("-") for n in names), names
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / names[0]).write_bytes((SAMPLES / "chelsea.png").read_bytes())
        (folder / names[1]).write_bytes(sticker_file.read_bytes())
        run_commands_in(folder, r.json()["command"])
        served = np.asarray(Image.open(io.BytesIO(client.get(r.json()["composite"]["url"]).content)))
        assert np.array_equal(served, np.asarray(Image.open(folder / "composite.png")))


@pytest.mark.parametrize("placements, words", [
    ("not json", ("placements", "not valid JSON")),
    ("[" * 100_000, ("placements is nested too deeply",)),
    ("[]", ("placements is empty",)),
    ('[{"sticker": 3}]', ("placements[0].sticker is 3", "1 sticker file")),
    ('[{"sticker": "abc"}]', ("placements[0].sticker", "32 hex digits")),
    ('[{"sticker": 0, "x": "half"}]', ("sticker 1: x must be a number of pixels", "'half'")),
    ('[{"sticker": 0}, {"sticker": 0, "anchor": "top"}]', ("sticker 2: anchor must be centre or bottom",)),
    ('[{"sticker": 0, "colour": 1}]', ("sticker 1: a placement mapping takes", "colour")),
    ('[{"sticker": 0, "x": 5000, "y": 5000}]', ("lands entirely outside",)),
])
def test_paste_bad_input(client, sticker_file, placements, words):
    r = client.post("/api/paste", files=[("background", ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())),
                                         ("stickers", ("cup.png", sticker_file.read_bytes()))],
                    data={"placements": placements})
    one_sentence(r, 404 if "32 hex" in words[-1] else 400, *words)


@pytest.mark.parametrize("item", [{"x": "half"}, {"scale": -1}, {"scale": "0.5"}, {"rotation": float("inf")},
                                  {"height": True}, {"anchor": "top"}, {"colour": 1}])
def test_paste_refuses_a_placement_as_the_library_does(client, sticker_file, item):
    """A placement's fields are checked by the library's one check: the API's sentence is the
    one ``compositor.paste`` gives for the same placement."""
    from compositor import api
    from compositor.inputs import InputError

    with pytest.raises(InputError) as library:
        api.paste(np.zeros((40, 40, 3), np.uint8), [{"sticker": np.full((4, 4, 4), 255, np.uint8), **item}])
    r = client.post("/api/paste", files=[("background", ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())),
                                         ("stickers", ("cup.png", sticker_file.read_bytes()))],
                    data={"placements": json.dumps([{"sticker": 0, **item}])})
    assert one_sentence(r, 400) == str(library.value)


# --------------------------------------------------------------------------- harmonize, jobs


def test_harmonize_json_png_and_command(client, pasted):
    data = {"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"], "backend": "reinhard",
            "settings": json.dumps({"strength": 0.5})}
    out = client.post("/api/harmonize", data=data).json()
    assert out["backend"] == "reinhard" and set(out["metrics"]) == {"color_gap", "contrast_gap", "seam_ratio"}
    # finishing as compose's by default (blur and grain matched, a contact shadow), all of it
    # written out in the command, whatever harmonize's own defaults
    assert out["finish"]["match"] == ["blur", "noise"] and out["finish"]["shadow"] == "contact"
    assert out["command"] == ("compositor harmonize composite.png --mask mask.png --backend reinhard "
                              "-o result-reinhard.png --set strength=0.5 --match blur,noise --shadow contact")
    off = client.post("/api/harmonize", data={**data, "finish": json.dumps({"match": "none", "shadow": "none"})})
    assert off.json()["command"].endswith("--set strength=0.5 --match none --shadow none")
    # a setting at the stage's own default that applies to nothing here is not written out
    idle = client.post("/api/harmonize", data={**data, "finish": json.dumps(
        {"match": "none", "shadow": "none", "shadow_opacity": 0.45, "light": None, "seed": 0})})
    assert idle.json()["command"] == off.json()["command"]
    r = client.post("/api/harmonize", data={**data, "format": "png"})
    assert r.headers["content-type"] == "image/png"
    as_png = np.asarray(Image.open(io.BytesIO(r.content)))
    as_json = np.asarray(Image.open(io.BytesIO(client.get(out["result"]["url"]).content)))
    assert np.array_equal(as_png, as_json)
    composite = np.asarray(Image.open(io.BytesIO(client.get(pasted["composite"]["url"]).content)))
    assert not np.array_equal(as_png, composite)  # it changed the object
    sidecar = client.get(out["sidecar"]["url"]).json()
    assert sidecar["backend"] == "reinhard" and sidecar["settings"]["strength"] == 0.5


@pytest.mark.parametrize("data, status, words", [
    ({"backend": "nope"}, 400, ("unknown harmonizer 'nope'",)),
    ({"backend": "reinhard", "settings": json.dumps({"strength": 7})}, 400, ("reinhard.strength", "7")),
    ({"backend": "reinhard", "settings": "{"}, 400, ("settings", "not valid JSON")),
    ({"format": "gif"}, 400, ("format must be json or png",)),
])
def test_harmonize_bad_input(client, pasted, data, status, words):
    base = {"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"]}
    one_sentence(client.post("/api/harmonize", data={**base, **data}), status, *words)


@pytest.mark.parametrize("path", ["/api/harmonize", "/api/compare"])
def test_settings_are_checked_once(client, pasted, monkeypatch, path):
    """The backend's settings and the finishing settings are checked once, before any work, and
    what was checked is what runs (not made again from the request's text)."""
    from compositor import plugins

    checked = []
    real = plugins.check_fields
    monkeypatch.setattr(plugins, "check_fields", lambda settings, owner="": (checked.append(owner), real(settings, owner)))
    data = {"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"]}
    data.update({"backend": "reinhard", "settings": json.dumps({"strength": 0.5}),
                 "finish": json.dumps({"shadow_opacity": 0.6})} if path == "/api/harmonize" else
                {"backends": "reinhard,boundary", "settings": json.dumps({"reinhard": {"strength": 0.5}})})
    r = client.post(path, data=data)
    assert r.status_code == 200, r.text
    expected = ["reinhard", "finish"] if path == "/api/harmonize" else ["reinhard", "finish", "boundary"]
    assert checked == expected


def test_harmonize_mask_of_another_size(client, pasted):
    mask = png_bytes(np.full((10, 10), 255, np.uint8))
    r = client.post("/api/harmonize", data={"composite_id": pasted["composite"]["id"], "backend": "none"},
                    files={"mask": ("small.png", mask)})
    one_sentence(r, 400, "small.png", "same size")


@pytest.mark.slow
def test_background_job_progress_and_cancel(client, pasted):
    """A seed-mode job reports its steps and stops when cancelled."""
    data = {"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"], "backend": "vgg19",
            "settings": json.dumps({"mode": "seed", "iterations": 2000, "max_size": 64}), "wait": "false"}
    r = client.post("/api/harmonize", data=data)
    assert r.status_code == 202, r.text
    job = r.json()
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["step"] >= 2:
            break
        time.sleep(0.2)
    assert job["state"] == "running" and job["total"] == 2000 and job["step"] >= 2, job
    client.delete(f"/api/jobs/{job['id']}")
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["state"] != "running":
            break
        time.sleep(0.1)
    assert job["state"] == "cancelled" and job["step"] < 2000 and "cancelled" in job["error"]


def test_queue_is_bounded():
    """With one worker and a queue of two, a third job is refused with 503 at once."""
    with client_for(workers=1, queue=2) as c:
        pool = c.app.state.pool
        release = threading.Event()
        blockers = [pool.submit("blocking", lambda job: release.wait(30), lambda e: (500, str(e))) for _ in range(2)]
        try:
            r = c.post("/api/uploads", files={"file": ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())})
            one_sentence(r, 503, "busy", "limit is 2")
            assert r.headers["retry-after"] == "2"
        finally:
            release.set()
        for b in blockers:
            b.future.result(timeout=30)
        assert c.post("/api/uploads", files={"file": ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())}).status_code == 200


def test_concurrent_requests(client, pasted):
    """Twelve clients at once: every answer is 200 (or 503 when the queue is full), the same
    request gives the same image, and the server answers afterwards."""
    data = {"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"], "backend": "boundary",
            "format": "png"}

    def call(_):
        r = client.post("/api/harmonize", data=data)
        return r.status_code, r.content if r.status_code == 200 else r.json()["error"]

    with ThreadPoolExecutor(12) as ex:
        answers = list(ex.map(call, range(12)))
    ok = [np.asarray(Image.open(io.BytesIO(body))) for status, body in answers if status == 200]
    assert all(status in (200, 503) for status, _ in answers), answers
    assert len(ok) >= 8  # a queue of 8: at least that many get through
    assert all(np.array_equal(o, ok[0]) for o in ok)
    assert client.get("/api/health").json()["in_flight"] == 0


# --------------------------------------------------------------------------- compose, compare


@pytest.mark.slow
def test_compose(client):
    r = client.post("/api/compose", files={"photo": ("coffee.png", (SAMPLES / "coffee.png").read_bytes()),
                                           "background": ("chelsea.png", (SAMPLES / "chelsea.png").read_bytes())},
                    data={"method": "grabcut", "cut_settings": json.dumps({"box": [150, 60, 300, 280]}),
                          "at": "50%,95%,30%,0,bottom", "backend": "boundary"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["record"]["paste"]["anchor"] == "bottom" and out["record"]["harmonize"]["backend"] == "boundary"
    assert out["record"]["inputs"]["photo"]["path"] == "coffee.png"
    finish = out["record"]["harmonize"]["stats"]["finish"]  # compose's finishing by default, as the command
    assert finish["match"] == ["blur", "noise"] and finish["shadow"] == "contact"
    x, y, w, h = out["record"]["paste"]["box"]
    assert abs(y + h - 1 - 0.95 * 300) <= 1.5 and abs(h - 90) <= 2
    one_sentence(client.post("/api/compose", data={"at": "1,2,3,4,5,6"}), 400, "placement must be")


def test_compare_shows_none_once(client, pasted, monkeypatch):
    r = client.post("/api/compare", data={"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"],
                                          "backends": "none,reinhard,boundary"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["backend"] for row in rows] == ["none", "reinhard", "boundary"]
    assert rows[0]["result"]["id"] == pasted["composite"]["id"]
    assert rows[1]["metrics"]["color_gap"] < rows[0]["metrics"]["color_gap"]
    # the composite and its mask are loaded once for all the backends
    from compositor import api

    loads = []
    real = api.load_composite
    monkeypatch.setattr(api, "load_composite", lambda *a, **k: (loads.append(a), real(*a, **k))[1])
    r = client.post("/api/compare", data={"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"],
                                          "backends": "none,reinhard,boundary"})
    assert r.status_code == 200 and len(loads) == 1, (r.text, len(loads))
    one_sentence(client.post("/api/compare", data={"composite_id": pasted["composite"]["id"],
                                                   "mask_id": pasted["mask"]["id"], "backends": "none,zap"}),
                 400, "zap")
    one_sentence(client.post("/api/compare", data={"composite_id": pasted["composite"]["id"],
                                                   "mask_id": pasted["mask"]["id"], "backends": "none",
                                                   "settings": json.dumps({"reinhard": {"strength": 1}})}),
                 400, "reinhard", "not among")


# --------------------------------------------------------------------------- safety


def test_token_is_checked_on_every_request():
    with client_for(token="s3cret-token") as c:
        one_sentence(c.get("/api/health"), 401, "token")
        one_sentence(c.get("/"), 401, "token")
        one_sentence(c.get("/api/health", headers={"Authorization": "Bearer wrong-token"}), 401, "wrong")
        assert c.get("/api/health", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        page = c.get("/?token=s3cret-token")
        assert page.status_code == 200 and "compositor_token" in page.headers["set-cookie"]
        assert "httponly" in page.headers["set-cookie"].lower()
        assert c.get("/api/plugins").status_code == 200  # the cookie the page got


def test_non_local_bind_needs_a_token(capsys):
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "--token" in err and err.count("\n") == 1


def test_cross_site_requests_and_foreign_hosts_are_refused(client):
    one_sentence(client.post("/api/uploads", headers={"Origin": "http://evil.example"},
                             files={"file": ("c.png", b"x")}), 403, "another site")
    one_sentence(client.get("/api/health", headers={"Host": "evil.example"}), 403, "Host")
    assert "access-control-allow-origin" not in client.get("/api/health", headers={"Origin": BASE}).headers


def test_files_go_after_idle_time_and_on_exit():
    with client_for(idle_seconds=3600) as c:
        store = c.app.state.store
        entry = upload(c, SAMPLES / "chelsea.png")
        assert any(store.folder.iterdir())
        import time

        assert store.sweep(time.monotonic() + 7200) == 1
        assert not any(store.folder.iterdir())
        one_sentence(c.get(entry["url"]), 404, "not known")
        folder = store.folder
    assert not folder.exists()


def test_harmonize_per_object_with_finishing_matches_the_command_line(client, pasted, sticker_file, tmp_path):
    """Harmonize after a paste corrects the paste's objects (its record), with a contact shadow;
    the paste and harmonize commands the API returns make the same image, pixel for pixel."""
    out = client.post("/api/harmonize", data={
        "composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"], "backend": "boundary",
        "finish": json.dumps({"shadow": "contact", "shadow_opacity": 0.6})})
    assert out.status_code == 200, out.text
    out = out.json()
    assert out["finish"] is not None and "--shadow contact --shadow-opacity 0.6" in out["command"]
    assert "--objects" not in out["command"]  # the paste record beside composite.png, as the server used it
    (tmp_path / "chelsea.png").write_bytes((SAMPLES / "chelsea.png").read_bytes())
    (tmp_path / "cup.png").write_bytes(sticker_file.read_bytes())
    run_commands_in(tmp_path, pasted["command"], out["command"])
    served = np.asarray(Image.open(io.BytesIO(client.get(out["result"]["url"]).content)))
    np.testing.assert_array_equal(served, np.asarray(Image.open(tmp_path / "result-boundary.png")))
    one_sentence(client.post("/api/harmonize", data={"composite_id": pasted["composite"]["id"],
                                                     "mask_id": pasted["mask"]["id"],
                                                     "finish": json.dumps({"shadow": "cast"})}), 400, "light")
    one_sentence(client.post("/api/harmonize", data={"composite_id": pasted["composite"]["id"],
                                                     "mask_id": pasted["mask"]["id"], "objects": "each"}),
                 400, "objects must be auto, union or components")


@pytest.mark.slow
def test_a_12_megapixel_background_has_a_preview_and_full_size_results(client, sticker_file):
    """The page shows a preview of a big background; placements and results stay full size."""
    import cv2

    big = cv2.resize(read_rgb(SAMPLES / "chelsea.png"), (4000, 3000), interpolation=cv2.INTER_LINEAR)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="JPEG", quality=90)
    bg = client.post("/api/uploads", files={"file": ("big.jpg", buf.getvalue())}).json()
    assert (bg["width"], bg["height"]) == (4000, 3000)
    preview = Image.open(io.BytesIO(client.get(bg["preview"]).content))
    assert max(preview.size) == 1600 and preview.size[0] / preview.size[1] == pytest.approx(4 / 3, abs=0.01)
    sticker = upload(client, sticker_file)
    r = client.post("/api/paste", data={"background_id": bg["id"], "placements": json.dumps(
        [{"sticker": sticker["id"], "x": 3000.5, "y": 2900, "height": "30%", "anchor": "bottom"}])})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["composite"]["width"], out["composite"]["height"]) == (4000, 3000)
    x, y, w, h = out["objects"][0]["box"]
    assert abs(h - 900) <= 2 and abs(y + h - 1 - 2900) <= 1.5 and abs(x + w / 2 - 3001) <= 2  # bilinear edges


def test_the_command_lines_pixel_limit_is_the_default(monkeypatch):
    monkeypatch.setenv("COMPOSITOR_MAX_PIXELS", "200000")
    with client_for() as c:
        bomb = png_bytes(np.zeros((1000, 1000), np.uint8))
        one_sentence(c.post("/api/uploads", files={"file": ("bomb.png", bomb)}), 413, "bomb.png", "200,000 pixels")
        assert not any(c.app.state.store.folder.iterdir())  # nothing of it kept


@pytest.fixture(scope="module")
def jpeg_background(tmp_path_factory) -> Path:
    """The cat as a JPEG whose luma is quantised as at quality 35 and its colour far coarser (as at
    15): an estimate from its pixels reads the luma's quality, its file's tables say both."""
    folder = tmp_path_factory.mktemp("jpeg")
    cat = Image.fromarray(read_rgb(SAMPLES / "chelsea.png"))
    tables = {}
    for quality in (35, 15):
        cat.save(folder / f"q{quality}.jpg", format="JPEG", quality=quality)
        with Image.open(folder / f"q{quality}.jpg") as im:
            tables[quality] = im.quantization
    cat.save(folder / "cat.jpg", format="JPEG", qtables=[tables[35][0], tables[15][1]], subsampling=2)
    return folder / "cat.jpg"


@pytest.mark.slow
def test_jpeg_matching_on_a_jpeg_background_is_what_the_commands_make(client, sticker_file, jpeg_background,
                                                                       tmp_path):
    """The page's flow on a JPEG background with jpeg matching: the result the API offers for
    download is, byte for byte, the file its paste and harmonize commands write."""
    bg = upload(client, jpeg_background)
    sticker = upload(client, sticker_file)
    pasted = client.post("/api/paste", data={"background_id": bg["id"], "placements": json.dumps(
        [{"sticker": sticker["id"], "x": "50%", "y": "95%", "height": "40%", "anchor": "bottom"}])}).json()
    out = client.post("/api/harmonize", data={"composite_id": pasted["composite"]["id"], "mask_id": pasted["mask"]["id"],
                                              "backend": "reinhard", "finish": json.dumps({"match": "all"})})
    assert out.status_code == 200, out.text
    out = out.json()
    assert out["finish"]["objects"][0]["jpeg"].get("reencoded"), out["finish"]
    (tmp_path / "cat.jpg").write_bytes(jpeg_background.read_bytes())
    (tmp_path / "cup.png").write_bytes(sticker_file.read_bytes())
    run_commands_in(tmp_path, pasted["command"], out["command"])
    assert client.get(out["result"]["url"]).content == (tmp_path / "result-reinhard.png").read_bytes()


@pytest.mark.slow
def test_compose_on_a_jpeg_background_reads_its_tables_as_the_command_does(client, jpeg_background, tmp_path):
    """/api/compose with jpeg matching takes the quality from the uploaded background file's
    tables, as ``compositor compose`` does from the file: the same image."""
    settings = {"at": "50%,95%,35%,0,bottom", "method": "grabcut", "backend": "reinhard"}
    r = client.post("/api/compose", files={"photo": ("coffee.png", (SAMPLES / "coffee.png").read_bytes()),
                                           "background": ("cat.jpg", jpeg_background.read_bytes())},
                    data={**settings, "cut_settings": json.dumps({"box": [150, 60, 300, 280]}),
                          "finish": json.dumps({"match": "all"})})
    assert r.status_code == 200, r.text
    out = r.json()
    jpeg = out["record"]["harmonize"]["stats"]["finish"]["objects"][0]["jpeg"]
    assert jpeg["source"] == "file" and jpeg.get("reencoded"), jpeg
    assert cli.main(["compose", str(SAMPLES / "coffee.png"), str(jpeg_background), "-o", str(tmp_path / "c"),
                     "--at", settings["at"], "--method", "grabcut", "--box", "150,60,300,280", "--backend", "reinhard",
                     "--match", "all"]) == 0
    served = np.asarray(Image.open(io.BytesIO(client.get(out["result"]["url"]).content)))
    np.testing.assert_array_equal(served, np.asarray(Image.open(tmp_path / "c" / "harmonized.png")))
