"""Build docs/realism.png: composite | colour only | + match | + shadow, with enlarged crops.

Five composites from the bundled samples and scikit-image's sample photos (no other data):
the demo (the cup on the cat, as scripts/demo.sh makes it, on the clean photo), then four
objects on backgrounds made soft, grainy or blocky here (the degradation is part of the
scene: each is named in its row), so that the finishing stage has something to match.
"colour only" is the default harmonizer; "+ match" adds ``match=all``; "+ shadow" adds a
contact shadow (or a cast one where a light is named).

Run:  .venv/bin/python scripts/realism_figure.py [--backend vgg19] [--out docs/realism.png]
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor import api  # noqa: E402
from compositor.imageio import read_mask, read_rgb, write_image  # noqa: E402
from compositor.types import Sticker  # noqa: E402

def skimage_photo(name: str) -> np.ndarray:
    import skimage

    return read_rgb(Path(skimage.__file__).parent / "data" / name)


def sticker(photo: np.ndarray, mask: np.ndarray, label: str) -> Sticker:
    ys, xs = np.nonzero(mask >= 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)
    rgba = np.dstack([photo, alpha])[y0:y1, x0:x1]
    return Sticker(rgba=rgba, label=label, source_box=(int(x0), int(y0), int(x1 - x0), int(y1 - y0)), score=1.0,
                   method="reference-mask")


def soft(img, sigma):
    return cv2.GaussianBlur(img, (0, 0), sigma)


def grainy(img, sigma, seed=1):
    f = img.astype(np.float32)
    sd = sigma * np.sqrt(np.maximum(f, 1) / 128.0)
    return np.clip(np.rint(f + np.random.default_rng(seed).standard_normal(f.shape) * sd), 0, 255).astype(np.uint8)


def blocky(img, quality):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def scenes():
    bench = ROOT / "compositor" / "data" / "bench" / "masks"
    coffee, chelsea = read_rgb(ROOT / "samples" / "coffee.png"), read_rgb(ROOT / "samples" / "chelsea.png")
    cup = sticker(coffee, read_mask(ROOT / "samples" / "masks" / "coffee_cup.png"), "cup")
    moto_photo = skimage_photo("motorcycle_left.png")
    moto = sticker(moto_photo, read_mask(bench / "motorcycle.png"), "motorcycle")
    rocket_photo = skimage_photo("rocket.jpg")
    rocket = sticker(rocket_photo, read_mask(bench / "rocket_rocket.png"), "rocket")
    astro = skimage_photo("astronaut.png")
    helmet = sticker(astro, read_mask(bench / "astronaut_helmet.png"), "helmet")
    return [
        ("the demo: cup on the cat (clean photo)", chelsea, [api.Placement(cup, 110, 225, 0.3)], {}, None),
        ("cup on a soft, grainy garage floor (blur 2.5, grain 6)", grainy(soft(moto_photo, 2.5), 6),
         [api.Placement(cup, "78%", "93%", height="22%", anchor="bottom")], {"light": "300,35"}, None),
        ("motorcycle before the rocket (JPEG quality 20)", blocky(rocket_photo, 20),
         [api.Placement(moto, "30%", "98%", height="45%", anchor="bottom")], {}, None),
        ("helmet on the rocket's ground (grain 10, brighter is grainier)", grainy(rocket_photo, 10, seed=2),
         [api.Placement(helmet, "70%", "96%", height="25%", anchor="bottom")], {}, None),
        ("rocket on the coffee table (blur 3, JPEG quality 35)", blocky(soft(coffee, 3.0), 35),
         [api.Placement(rocket, "25%", "86%", height="60%", anchor="bottom")], {"light": "110,40"}, None),
    ]


def label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 + 8 * len(text)), 20), (255, 255, 255), -1)
    cv2.putText(out, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def fit(img: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(img, (round(img.shape[1] * height / img.shape[0]), height), interpolation=cv2.INTER_AREA)


def crop_box(mask: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """A square of ``side`` px around the object's lower edge (where shadow, grain and edge show)."""
    ys, xs = np.nonzero(mask >= 0.5)
    cy, cx = int(np.percentile(ys, 92)), int(xs.mean())
    H, W = mask.shape
    side = min(side, H, W)
    y0 = int(np.clip(cy - side // 2, 0, H - side))
    x0 = int(np.clip(cx - side // 2, 0, W - side))
    return x0, y0, side, side


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default=None, help="colour harmonizer (default: the library's default)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "realism.png"))
    ap.add_argument("--height", type=int, default=210)
    args = ap.parse_args(argv)
    rows = []
    for title, background, placements, shadow, _ in scenes():
        comp = api.paste(background, placements)
        kw = {"backend": args.backend} if args.backend else {}
        colour = api.harmonize(comp, **kw)
        matched = api.finish_result(colour, comp, {"match": "all", "seed": 0})
        shadowed = api.finish_result(colour, comp, {"match": "all", "seed": 0,
                                                    "shadow": "cast" if shadow.get("light") else "contact", **shadow})
        tiles = [comp.image, colour.image, matched.image, shadowed.image]
        names = ["composite", "colour only", "+ match", "+ shadow" + (f" (light {shadow['light']})" if shadow else "")]
        x, y, w, h = crop_box(comp.mask, max(48, min(comp.mask.shape) // 4))
        top = [label(fit(t, args.height), n) for t, n in zip(tiles, names)]
        crops = [cv2.resize(t[y:y + h, x:x + w], (args.height, args.height), interpolation=cv2.INTER_NEAREST)
                 for t in tiles]
        width = sum(t.shape[1] for t in top) + 6 * 3
        gap = np.full((args.height, 6, 3), 255, np.uint8)
        line1 = np.concatenate([top[0], gap, top[1], gap, top[2], gap, top[3]], axis=1)
        line2 = np.concatenate([crops[0], gap, crops[1], gap, crops[2], gap, crops[3]], axis=1)
        W = max(line1.shape[1], line2.shape[1])
        pad = lambda a: np.pad(a, ((0, 0), (0, W - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
        head = np.full((26, W, 3), 255, np.uint8)
        cv2.putText(head, f"{title}   (below: enlarged x{args.height / w:.1f} at the object's lower edge)", (4, 18),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append((head, pad(line1), np.full((6, W, 3), 255, np.uint8), pad(line2),
                     np.full((14, W, 3), 255, np.uint8)))
        print(title, {k: v for k, v in shadowed.stats["finish"]["objects"][0].items() if k != "index"}, flush=True)
    W = max(r[1].shape[1] for r in rows)
    parts = [np.pad(p, ((0, 0), (0, W - p.shape[1]), (0, 0)), constant_values=255) for r in rows for p in r]
    write_image(args.out, np.concatenate(parts, axis=0))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
