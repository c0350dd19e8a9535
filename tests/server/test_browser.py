"""The studio's page in a real Chromium (Debian's, driven by Playwright), against a real
``compositor serve`` on 127.0.0.1: load the page, open two samples, drag the sticker to a
point, run a harmonizer, and check that the image the page offers for download equals,
pixel for pixel, what its "copy as command" lines make. Skipped when chromium or playwright
is not installed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # a real server and a real browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); the browser test needs it",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def run_commands(text: str, folder: Path) -> None:
    """Run the page's command lines in ``folder`` with ``compositor`` as this Python's."""
    script = 'compositor() { "$PY" -m compositor.cli "$@"; }\nset -e\n' + text + "\n"
    env = dict(os.environ, PY=sys.executable,
               PYTHONPATH=str(SAMPLES.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def download_result_and_sticker(page, backend: str, folder: Path) -> tuple[str, np.ndarray]:
    """Download ``backend``'s result (its file name and pixels) and save the first sticker into ``folder``,
    as the page offers them."""
    with page.expect_download() as info:
        page.click(f".result[data-backend={backend}] .links a:has-text('result')")
    result_name = info.value.suggested_filename
    offered = np.asarray(Image.open(info.value.path()))
    with page.expect_download() as info:
        page.click("#downloads a:has-text('sticker 1')")
    info.value.save_as(folder / info.value.suggested_filename)
    return result_name, offered


def test_place_harmonize_download_and_reproduce(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page.set_default_timeout(180_000)  # generous: the shared test machine can be very busy
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: problems.append(f"left the server: {r.url}")
            if not r.url.startswith((live_server, "data:", "blob:")) else None)
    page.goto(live_server + "/")
    assert page.title() == "compositor studio"

    # the object photo: cut with the default cutter, sticker and mask shown
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    page.wait_for_selector(".sticker-card button.place", timeout=300_000)
    assert page.locator(".sticker-card img.mask").count() == 1
    # the background, and the sticker placed on it
    page.set_input_files("#bg-file", str(SAMPLES / "chelsea.png"))
    page.wait_for_selector("#bg-info:has-text('451×300')")
    page.click(".sticker-card button.place")
    obj = page.locator(".obj").bounding_box()
    stage = page.locator("#bg-img").bounding_box()
    f = stage["width"] / 451  # screen px per background px
    start = (obj["x"] + obj["width"] / 2, obj["y"] + obj["height"] / 2)
    target = (stage["x"] + 120 * f, stage["y"] + 200 * f)  # drag it to (120, 200) on the background
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*target, steps=8)
    page.mouse.up()
    page.wait_for_selector("#objects tbody tr")
    # the finishing form starts at compose's defaults: blur and grain matched, a contact shadow
    assert page.input_value('[data-backend="finish"][data-setting="match"]') == "blur,noise"
    assert page.input_value('[data-backend="finish"][data-setting="shadow"]') == "contact"
    # one harmonizer: reinhard
    for box in page.locator("#backends input[type=checkbox][data-backend]:not([data-setting])").all():
        box.set_checked(box.get_attribute("value") == "reinhard")
    page.click("#run")
    page.wait_for_selector(".result[data-backend=reinhard] .compare", timeout=300_000)
    assert page.text_content("#error") == ""

    # the composite landed where the sticker was dropped (its centre within a screen pixel)
    with page.expect_download() as info:
        page.click("#downloads a:has-text('composite sidecar')")
    sidecar = json.loads(Path(info.value.path()).read_text())
    cx, cy = sidecar["objects"][0]["center"]
    assert abs(cx - 120) <= 1.5 / f + 0.5 and abs(cy - 200) <= 1.5 / f + 0.5, (cx, cy)
    # the before/after divide starts at the object's centre, not the image's
    x, _, w, _ = sidecar["objects"][0]["box"]
    slider = page.locator(".result[data-backend=reinhard] input[type=range]")
    assert float(slider.input_value()) == pytest.approx(100 * (x + w / 2) / 451, abs=0.06)
    after = page.locator(".result[data-backend=reinhard] .compare .after").bounding_box()
    frame = page.locator(".result[data-backend=reinhard] .compare").bounding_box()
    assert after["width"] == pytest.approx(frame["width"] * (x + w / 2) / 451, abs=3)

    # download what the page offers: the result, and the sticker the command needs
    result_name, offered = download_result_and_sticker(page, "reinhard", tmp_path)
    shutil.copy(SAMPLES / "chelsea.png", tmp_path / "chelsea.png")

    command = page.text_content("#command")
    assert command.count("compositor paste") == 1 and "compositor harmonize" in command
    assert "--match blur,noise --shadow contact" in command  # the finishing the server applied, written out
    run_commands(command, tmp_path)
    made = np.asarray(Image.open(tmp_path / result_name))
    assert made.shape == offered.shape == (300, 451, 3)
    np.testing.assert_array_equal(made, offered)
    composite = np.asarray(Image.open(tmp_path / "composite.png"))
    assert not np.array_equal(made, composite)  # reinhard changed the object
    assert not problems, problems
    page.close()


def open_and_place(page, live_server, background=None) -> None:
    """The page with the cup cut from coffee.png placed on chelsea.png (or on ``background``, as
    Playwright's set_input_files takes a file), reinhard the one harmonizer."""
    page.goto(live_server + "/")
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    page.wait_for_selector(".sticker-card button.place", timeout=300_000)
    page.set_input_files("#bg-file", background or str(SAMPLES / "chelsea.png"))
    page.wait_for_selector("#bg-info:has-text('451×300')")
    page.wait_for_function("() => { const i = document.getElementById('bg-img'); "
                           "return i.complete && i.getBoundingClientRect().width > 0; }")
    page.click(".sticker-card button.place")
    for box in page.locator("#backends input[type=checkbox][data-backend]:not([data-setting])").all():
        box.set_checked(box.get_attribute("value") == "reinhard")


def test_finishing_sends_only_what_applies(browser, live_server):
    """The finishing form is in view at 1280x800 without scrolling. A light applies to a cast
    shadow only, a shadow's opacity and softness to a shadow only: the others are greyed out and
    neither sent nor written in the command, so nothing the page does is refused (the stage
    refuses a value that would change nothing)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    open_and_place(page, live_server)
    field = lambda name: page.locator(f'[data-backend="finish"][data-setting="{name}"]')  # noqa: E731
    for selector in ("#finish-fields", "#light", "#run"):
        box = page.locator(selector).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 800, (selector, box)  # no scrolling
    assert field("light").is_disabled() and not field("shadow_opacity").is_disabled()  # contact by default
    dial = page.locator("#light").bounding_box()
    page.mouse.click(dial["x"] + dial["width"] * 0.8, dial["y"] + dial["height"] * 0.3)  # light from the upper right
    assert field("shadow").input_value() == "cast" and not field("light").is_disabled()
    light = field("light").input_value()
    assert light and light != "none"
    field("shadow_opacity").fill("0.6")
    field("shadow").select_option("none")  # the light and the opacity no longer apply
    assert field("light").is_disabled() and field("shadow_opacity").is_disabled()
    page.click("#run")
    page.wait_for_selector(".result[data-backend=reinhard] .compare", timeout=300_000)
    assert page.text_content("#error") == ""
    command = page.text_content("#command")
    assert "--shadow none" in command and "--light" not in command and "--shadow-opacity" not in command
    field("shadow").select_option("cast")  # they apply again, as they were set
    assert field("light").input_value() == light and field("shadow_opacity").input_value() == "0.6"
    page.click("#run")
    page.wait_for_selector(".result[data-backend=reinhard] .compare", timeout=300_000)
    assert page.text_content("#error") == ""
    command = page.text_content("#command")
    assert f"--shadow cast --light {light} --shadow-opacity 0.6" in command and command.count("compositor harmonize") == 1
    page.close()


def test_draw_a_box_and_cut_again_with_another_cutter(browser, live_server):
    """Drawing a box on the photo and pressing "cut again" with grabcut cuts inside the box."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    page.goto(live_server + "/")
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    page.wait_for_selector(".sticker-card button.place", timeout=300_000)
    photo = page.locator("#photo-img").bounding_box()
    f = photo["width"] / 600  # coffee.png is 600 px wide
    page.mouse.move(photo["x"] + 150 * f, photo["y"] + 60 * f)
    page.mouse.down()
    page.mouse.move(photo["x"] + 450 * f, photo["y"] + 340 * f, steps=6)
    page.mouse.up()
    assert "box" in page.text_content("#cut-status")
    page.select_option("#cutter", "grabcut")
    with page.expect_response(lambda r: r.url.endswith("/api/cut")) as info:
        page.click("#recut")
    out = info.value.json()
    x, y, w, h = out["stickers"][0]["box"]
    assert out["stickers"][0]["method"] == "grabcut" and "--method grabcut --box" in out["command"]
    slack = 2 / f + 8  # the box drawn on a preview, and a feathered edge
    assert x >= 150 - slack and y >= 60 - slack and x + w <= 450 + slack and y + h <= 340 + slack, (x, y, w, h)
    page.wait_for_selector(".sticker-card .info:has-text('grabcut')")
    page.close()


def test_scale_rotate_and_order_objects(browser, live_server):
    """The corner handle and the wheel scale an object, the round handle rotates it, and a second
    object can be sent behind the first; the table shows each one's size against the background."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    page.goto(live_server + "/")
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    page.wait_for_selector(".sticker-card button.place", timeout=300_000)
    page.set_input_files("#bg-file", str(SAMPLES / "chelsea.png"))
    page.wait_for_selector("#bg-info:has-text('451×300')")
    page.click(".sticker-card button.place")
    size = page.locator("#objects tbody tr td").nth(4)
    assert "30% of the background" in size.text_content()

    def scale() -> float:
        return float(size.text_content().rsplit("scale ", 1)[1].rstrip(")"))

    s0 = scale()
    handle = page.locator(".obj .handle.scale").bounding_box()
    page.mouse.move(handle["x"] + 6, handle["y"] + 6)
    page.mouse.down()
    page.mouse.move(handle["x"] + 60, handle["y"] + 50, steps=5)
    page.mouse.up()
    s1 = scale()
    assert s1 > 1.3 * s0
    obj = page.locator(".obj").bounding_box()
    page.mouse.move(obj["x"] + obj["width"] / 2, obj["y"] + obj["height"] / 2)
    page.mouse.wheel(0, 100)  # down: smaller
    assert scale() < s1
    rot = page.locator(".obj .handle.rotate").bounding_box()
    obj = page.locator(".obj").bounding_box()
    page.mouse.move(rot["x"] + 6, rot["y"] + 6)
    page.mouse.down()
    page.mouse.move(obj["x"] - 80, obj["y"] + obj["height"] / 2, steps=5)  # to the left: a quarter turn CCW
    page.mouse.up()
    angle = int(page.locator("#objects tbody tr td").nth(5).text_content().rstrip("°"))
    assert 60 <= angle <= 120, angle
    page.click(".sticker-card button.place")  # a second object, on top
    assert page.locator("#objects tbody tr").count() == 2
    backward = page.locator("#objects tbody tr").nth(1).locator("button[title='send backward']")
    assert backward.text_content() == "↑"  # the arrow shows where the row goes: up, towards row 1 (the back)
    backward.click()
    rows = page.locator("#objects tbody tr")
    assert rows.nth(0).locator("td").nth(5).text_content() == "0°"  # the new one is first now: behind
    page.close()


def test_the_api_reference_renders_offline(browser, live_server):
    """/docs draws every endpoint from /openapi.json with this package's script, fetching nothing
    from elsewhere."""
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server, "data:")) else None)
    page.goto(live_server + "/docs")
    page.wait_for_selector("section.panel h2")
    titles = page.locator("section.panel h2").all_text_contents()
    for endpoint in ("POST /api/cut", "POST /api/paste", "POST /api/harmonize", "POST /api/compose",
                     "POST /api/compare", "GET /api/plugins"):
        assert endpoint in titles
    assert not outside, outside
    # the docstrings' ``literal`` spans are set as code, not shown with their backquotes
    assert "``" not in page.text_content("#api")
    assert "compositor harmonize --help" in page.locator("#api code").all_text_contents()
    page.close()


def test_a_photo_chosen_while_the_plugins_load_is_not_lost(browser, live_server):
    """The page lists the plugins before anything else; a photo picked meanwhile (on a busy server
    that listing takes seconds) is opened once they have come, not dropped (the picker's listener
    was attached only after the listing, so the test above sometimes waited out its 300 s)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    held = []
    page.route("**/api/plugins", lambda route: held.append(route))  # answered below, after the pick
    page.goto(live_server + "/")
    page.wait_for_function("document.readyState === 'complete'")
    for _ in range(200):  # the page has asked for the plugins
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for /api/plugins"
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    held[0].continue_()
    page.wait_for_selector(".sticker-card button.place", timeout=120_000)
    page.close()


def test_an_empty_page_shows_no_broken_images(browser, live_server):
    """Before anything is opened, the photo view and the background are hidden: the stylesheet's
    ``display`` on them (``.photo-view``, ``#bg-img``) must not override their ``hidden``
    attribute, which drew two broken-image icons with their alt text on the empty page."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(live_server + "/")
    page.wait_for_selector("#backends input[type=checkbox]")  # the page has started
    for selector in ("#photo-view", "#photo-img", "#bg-img"):
        assert page.locator(selector).is_hidden(), f"{selector} is drawn on the empty page"
    page.set_input_files("#bg-file", str(SAMPLES / "chelsea.png"))
    page.wait_for_selector("#bg-info:has-text('451×300')")
    page.wait_for_selector("#bg-img", state="visible", timeout=60_000)  # shown once opened and loaded
    assert page.locator("#stage .empty").is_hidden()
    page.close()


def test_a_refused_setting_is_shown_on_its_backends_card(browser, live_server):
    """A setting the server refuses (reinhard's strength 5, over its range of 0 to 1) is written on
    that backend's result card, which no longer sits at "queued" with a cancel button that does
    nothing; the other backend of the same run still gives its result."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    open_and_place(page, live_server)
    page.locator("#backends input[type=checkbox][value=boundary]").set_checked(True)
    page.locator("details.backend:has(input[value=reinhard]) summary").click()
    page.locator('[data-backend="reinhard"][data-setting="strength"]').fill("5")
    page.click("#run")
    page.wait_for_selector(".result[data-backend=boundary] .compare", timeout=300_000)
    card = page.locator(".result[data-backend=reinhard]")
    page.wait_for_function("() => !document.querySelector('.result[data-backend=reinhard] progress')", timeout=30_000)
    assert "reinhard.strength must be between 0.0 and 1.0" in card.text_content()
    assert card.locator("button", has_text="cancel").count() == 0
    assert "reinhard.strength" in page.text_content("#error")
    page.close()


def test_an_error_is_in_view_wherever_the_page_is_scrolled(browser, live_server):
    """The page's one-sentence errors are written in its footer; on a page taller than the window
    (here 1280x480, as a page with results is at 1280x800) the footer lay below the fold, so a
    refused photo opened at the top of the page showed nothing at all. The error stays in view."""
    page = browser.new_page(viewport={"width": 1280, "height": 480})
    page.goto(live_server + "/")
    page.wait_for_selector("#backends input[type=checkbox]")
    assert page.evaluate("document.body.scrollHeight") > 480  # the footer starts out of view
    page.set_input_files("#photo-file", {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image\n"})
    page.wait_for_function("() => document.getElementById('error').textContent.length > 0", timeout=60_000)
    assert "notes.png: not an image file" in page.text_content("#error")
    assert page.evaluate("window.scrollY") == 0
    box = page.locator("#error").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 480, box
    page.close()


def test_two_stickers_of_one_photo_are_two_files_in_the_command(browser, live_server, tmp_path):
    """The cup cut whole and cut again inside a box are two stickers from one photo, which both
    came as coffee-sticker.png: the page offered two different files under one name and the
    command pasted coffee-sticker.png twice, so it could not make the page's result. Each
    sticker now has its own name, in the download and in the command, which makes the same
    pixels."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page.set_default_timeout(180_000)
    open_and_place(page, live_server)  # the whole cup, in the middle
    photo = page.locator("#photo-img").bounding_box()
    page.mouse.move(photo["x"] + photo["width"] * 0.1, photo["y"] + photo["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(photo["x"] + photo["width"] * 0.6, photo["y"] + photo["height"] * 0.7, steps=6)
    page.mouse.up()
    page.click("#recut")
    page.wait_for_function("() => document.getElementById('cut-status').textContent.includes(' cut in ')")
    page.click(".sticker-card button.place")  # the boxed cut, also in the middle, on top
    page.click("#run")
    page.wait_for_selector(".result[data-backend=reinhard] .compare", timeout=300_000)
    with page.expect_download() as info:
        page.click(".result[data-backend=reinhard] .links a:has-text('result')")
    result_name = info.value.suggested_filename
    offered = np.asarray(Image.open(info.value.path()))
    names = []
    for i in (1, 2):
        with page.expect_download() as info:
            page.click(f"#downloads a:has-text('sticker {i}')")
        names.append(info.value.suggested_filename)
        info.value.save_as(tmp_path / names[-1])
    assert len(set(names)) == 2, names
    shutil.copy(SAMPLES / "chelsea.png", tmp_path / "chelsea.png")
    command = page.text_content("#command")
    assert all(f" {n}@" in command for n in names), (names, command)
    run_commands(command, tmp_path)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / result_name)), offered)
    page.close()


def test_a_cancelled_backend_is_named_in_the_runs_status(browser, live_server):
    """A long seed-mode run shows its steps and stops when its cancel button is pressed; the run's
    status then says which backend did not finish instead of a plain "done"."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    open_and_place(page, live_server)  # reinhard
    page.locator("#backends input[type=checkbox][value=vgg19]").set_checked(True)
    page.locator("details.backend:has(input[value=vgg19]) summary").click()
    field = lambda name: page.locator(f'[data-backend="vgg19"][data-setting="{name}"]')  # noqa: E731
    field("mode").select_option("seed")
    field("iterations").fill("2000")
    field("max_size").fill("64")
    page.click("#run")
    card = page.locator(".result[data-backend=vgg19]")
    steps = "() => /step \\d+ of 2000/.test(document.querySelector('.result[data-backend=vgg19]')?.textContent || '')"
    page.wait_for_function(steps, timeout=300_000)
    card.locator("button", has_text="cancel").click()
    page.wait_for_function("() => document.getElementById('run-status').textContent.startsWith('done')",
                           timeout=120_000)
    assert "was cancelled" in card.text_content()
    assert page.text_content("#run-status") == "done (vgg19 cancelled)"
    assert page.locator(".result[data-backend=reinhard] .compare").count() == 1
    page.close()


@pytest.mark.parametrize("name", ["composite.png", "result-reinhard.png"])
def test_a_background_named_as_an_output_is_neither_refused_nor_overwritten(browser, live_server, tmp_path, name):
    """A download opened again as the background (to add another object) bears the name of a file
    the command writes: as composite.png, the paste line was refused (its output is its input); as
    result-reinhard.png, the harmonize line overwrote the user's background. The command's outputs
    now take other names, and the command makes the page's result with the background untouched."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page.set_default_timeout(180_000)
    background = (SAMPLES / "chelsea.png").read_bytes()
    open_and_place(page, live_server, {"name": name, "mimeType": "image/png", "buffer": background})
    page.click("#run")
    page.wait_for_selector(".result[data-backend=reinhard] .compare", timeout=300_000)
    result_name, offered = download_result_and_sticker(page, "reinhard", tmp_path)
    (tmp_path / name).write_bytes(background)
    assert result_name != name
    run_commands(page.text_content("#command"), tmp_path)
    assert (tmp_path / name).read_bytes() == background  # the user's background is untouched
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / result_name)), offered)
    page.close()


def test_a_server_that_cannot_be_reached_is_said_so(browser, live_server):
    """With the server out of reach (here its answers to the job's progress and to an upload are
    cut off in the browser), the page says so in a sentence instead of the browser's "Failed to
    fetch", and the running backend's card says it too instead of waiting at "running"."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(180_000)
    open_and_place(page, live_server)
    page.locator("#backends input[type=checkbox][value=reinhard]").set_checked(False)
    page.locator("#backends input[type=checkbox][value=vgg19]").set_checked(True)  # long enough to be polled
    page.route("**/api/jobs/**", lambda route: route.abort())
    page.click("#run")
    card = page.locator(".result[data-backend=vgg19]")
    page.wait_for_selector(".result[data-backend=vgg19] .error", timeout=60_000)
    assert "the server cannot be reached" in card.text_content()
    assert card.locator("progress").count() == 0
    assert "the server cannot be reached" in page.text_content("#error")
    page.route("**/api/uploads", lambda route: route.abort())
    page.set_input_files("#photo-file", str(SAMPLES / "coffee.png"))
    page.wait_for_function("() => document.getElementById('error').textContent.includes('cannot be reached')")
    assert "Failed to fetch" not in page.text_content("body")
    page.close()
