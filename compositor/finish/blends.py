"""Edge treatments for synthetic data, as Cut-Paste-Learn (Dwibedi et al. 2017) renders them:
a detector trained on composites learns the paste's edge unless the edge varies, and a set of
treatments drawn per object ("all blends") beat every single one.

``none`` (the sticker as cut), ``gaussian`` (its alpha blurred, sigma 2), ``box`` (its alpha
box-filtered, 5 x 5), ``motion`` (sticker and alpha smeared along a random direction, 7 px)
change the sticker before it is pasted (``sticker_blend``); ``poisson`` (the object cloned
into the picture, Poisson) and ``match`` (the finishing stage's blur, noise and JPEG
matching) change the picture after it (``after_paste``).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

BLENDS = ("none", "gaussian", "box", "motion", "poisson", "match")
BEFORE = ("none", "gaussian", "box", "motion")


def parse_blends(text) -> tuple[str, ...]:
    """``none,gaussian,...`` (text or a list) -> the names, each one of ``BLENDS``."""
    from ..errors import UsageError

    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))
    bad = [n for n in names if n not in BLENDS]
    if not names or bad:
        raise UsageError(f"blends must be a comma list of {', '.join(BLENDS)}; received {text!r}.")
    return names


def motion_kernel(angle: float, length: int = 7) -> np.ndarray:
    """A normalised line kernel of ``length`` px at ``angle`` degrees."""
    k = np.zeros((length, length), np.float32)
    c = length // 2
    dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
    return k / k.sum()


def sticker_blend(sticker, name: str, rng: np.random.Generator):
    """(the sticker with the treatment ``name`` applied, its parameters) for the treatments
    applied before pasting; others return the sticker unchanged."""
    if name not in ("gaussian", "box", "motion"):
        return sticker, {}
    rgba = sticker.rgba
    pad = 6
    rgba = np.pad(rgba, ((pad, pad), (pad, pad), (0, 0)))  # room for the softened edge
    a = rgba[..., 3].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32)
    params: dict = {}
    if name == "gaussian":
        a2 = cv2.GaussianBlur(a, (0, 0), 2.0)
        params = {"sigma": 2.0}
        rgb2 = rgb
    elif name == "box":
        a2 = cv2.blur(a, (5, 5))
        params = {"size": 5}
        rgb2 = rgb
    else:
        angle = float(rng.uniform(0, 180))
        k = motion_kernel(angle)
        a2 = cv2.filter2D(a, -1, k)
        rgb2 = cv2.filter2D(rgb * a[..., None], -1, k) / np.maximum(a2[..., None], 1e-6)
        params = {"angle": round(angle, 2), "length": 7}
    # colour where the alpha grew from nothing: the nearest object colour (no dark fringe)
    out = np.dstack([np.clip(rgb2, 0, 255), np.clip(a2 * 255.0, 0, 255)]).round().astype(np.uint8)
    return dataclasses.replace(sticker, rgba=out), params


def after_paste(image: np.ndarray, masks: list[np.ndarray], index: int, name: str, seed: int) -> tuple[np.ndarray, dict]:
    """``image`` with the treatment ``name`` applied to object ``index`` (its alpha ``masks[index]``)
    after pasting: ``poisson`` or ``match``; (image, parameters)."""
    if name == "poisson":
        from .. import plugins
        from ..types import Composite

        if not (masks[index] >= 0.5).any():
            return image, {}
        poisson = plugins.ready("harmonizer", "poisson")
        result = poisson.plugin.harmonize(Composite(image=image, mask=masks[index]), poisson.settings, None)
        return result.image, {"mode": result.params.get("mode")}
    if name == "match":
        from .stage import finish, make_finish_settings

        # the object against its own surroundings: the other objects are known, untouched
        out, record = finish(image, masks, make_finish_settings({"match": "all", "seed": seed % 2**32}), only=index)
        return out, {k: v for k, v in record["objects"][index].items() if k != "index"}
    return image, {}
