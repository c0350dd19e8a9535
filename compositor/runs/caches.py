"""What each worker process keeps for the length of its life: the harmonizers' loaded
models (``load_models``; the plugins keep them in their modules' per-process caches),
file digests, decoded backgrounds and stickers, and the stickers cut from photos. Every
cache is per process, so a worker reads, decodes or cuts a file once however many jobs
use it. The run's own context (its folder, settings, tables) is not kept here: the
executor hands it to the worker function with each task."""
from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Iterable

import numpy as np

from ..errors import CompositorError, UsageError


@lru_cache(maxsize=1024)
def file_digest(path: str) -> str:
    """The sha256 (hex) of the file at ``path``, hashed once per process."""
    from ..imageio import sha256_file

    return sha256_file(path)


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled (keeping its aspect) to the smallest size that covers (width, height)."""
    from ..ops.resize import resize

    W, H = size
    h, w = image.shape[:2]
    s = max(W / w, H / h)
    return resize(image, (max(W, math.ceil(w * s - 1e-6)), max(H, math.ceil(h * s - 1e-6))))


@lru_cache(maxsize=16)
def background_image(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """The RGB image at ``path`` (read-only), scaled to ``cover`` ``size`` when given; read once
    per process and size (only the scaled copy is kept)."""
    from ..imageio import read_rgb

    image = read_rgb(path)
    out = image if size is None else cover(image, size)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=512)
def sticker_file(path: str):
    """``stickers.read_sticker(path)`` (cropped to its alpha), read once per process."""
    from ..stickers import read_sticker

    sticker = read_sticker(path)
    sticker.rgba.setflags(write=False)
    return sticker


@lru_cache(maxsize=256)
def cut_sticker(path: str, cutter: str, settings_json: str):
    """The best object cut from ``path``; each photo is cut once per process and setting."""
    from .. import api

    try:
        return api.cut(path, cutter, **json.loads(settings_json))[0]
    except UsageError:
        raise
    except CompositorError as exc:
        raise CompositorError(f"{path}: {exc}") from exc


def load_models(backends: list[tuple[str, dict]]) -> None:
    """Worker setup: load each (backend, settings)'s model before the first job, for the
    backends whose plugin has a ``load`` method. One that cannot load is passed over here:
    its jobs fail with the reason, and the others run."""
    from .. import api

    for name, values in backends:
        try:
            ready = api.harmonizer(name, default_seed=0, **values)
            load = getattr(ready.plugin, "load", None)
            if load is not None:
                load(ready.settings)
        except Exception:  # reported by each job that uses it
            continue


def backends_to_load(pairs: Iterable[tuple[str, dict]], limit: int = 8) -> list[tuple[str, dict]]:
    """The distinct (backend, settings) pairs, first seen first, at most ``limit``."""
    out: list[tuple[str, dict]] = []
    for name, values in pairs:
        if (name, values) not in out:
            out.append((name, values))
        if len(out) >= limit:
            break
    return out
