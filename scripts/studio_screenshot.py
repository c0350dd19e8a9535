"""Make docs/studio.png: the studio's page at 1280x800 in Debian's headless chromium, with the
cup cut from samples/coffee.png standing on samples/chelsea.png and three harmonizers run.

    .venv/bin/python scripts/studio_screenshot.py [--out docs/studio.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.conftest import start_server, stop_server  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--hide-scrollbars"]


#: the background is drawn (an object placed before has no size on screen yet)
BACKGROUND_SHOWN = "() => { const i = document.getElementById('bg-img'); return i.complete && i.getBoundingClientRect().width > 0; }"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "studio.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url, _ = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/")
            page.set_input_files("#photo-file", str(ROOT / "samples" / "coffee.png"))
            page.wait_for_selector(".sticker-card button.place", timeout=120_000)
            page.set_input_files("#bg-file", str(ROOT / "samples" / "chelsea.png"))
            page.wait_for_selector("#bg-info:has-text('451×300')")
            page.wait_for_function(BACKGROUND_SHOWN)
            page.click(".sticker-card button.place")
            obj = page.locator(".obj").bounding_box()
            stage = page.locator("#bg-img").bounding_box()
            f = stage["width"] / 451
            page.mouse.move(obj["x"] + obj["width"] / 2, obj["y"] + obj["height"] / 2)
            page.mouse.down()
            page.mouse.move(stage["x"] + 110 * f, stage["y"] + 215 * f, steps=8)
            page.mouse.up()
            page.select_option("#objects tbody tr select", "bottom")
            for box in page.locator("#backends input[type=checkbox][data-backend]:not([data-setting])").all():
                box.set_checked(box.get_attribute("value") in ("vgg19", "reinhard", "boundary"))
            page.click("#run")
            for name in ("vgg19", "reinhard", "boundary"):
                page.wait_for_selector(f".result[data-backend={name}] .compare", timeout=300_000)
            page.click(".obj")  # show the handles
            page.wait_for_timeout(800)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=args.out)
            browser.close()
    finally:
        stop_server(proc)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
