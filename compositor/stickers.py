"""Reading a sticker from an image file: the one loader behind paste, compose, batch and synth.

A sticker is cropped tightly to its alpha (``types.Sticker``), as ``cut`` writes it, so a
placement at (x, y) puts the centre of the object itself there, whichever front end
placed it and however much transparent margin the file has.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import UsageError
from .ops.geometry import bbox
from .types import Sticker


def crop_to_alpha(rgba: np.ndarray, label: str = "sticker") -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``rgba`` (HxWx4 uint8) cropped to its nonzero alpha, and the crop's box (x, y, w, h) in it.
    A fully transparent sticker is refused, naming ``label``."""
    box = bbox(rgba[..., 3])
    if box is None:
        raise UsageError(f"{label}: the sticker is fully transparent; there is nothing to paste.")
    x, y, w, h = box
    return np.ascontiguousarray(rgba[y:y + h, x:x + w]), box


def read_sticker(path: str | os.PathLike, label: str | None = None, *, rgba: np.ndarray | None = None) -> Sticker:
    """The sticker in the image file ``path`` (any mode; read as RGBA), cropped to its alpha.

    Returns a Sticker labelled ``label`` (default: the file's stem) whose ``source_box`` is
    the crop's box (x, y, w, h) in the file, with method ``"file"`` and score 1. ``rgba``: the
    file's pixels when they are already decoded (as ``imageio.read_rgba`` reads them)."""
    from .imageio import read_rgba

    rgba, box = crop_to_alpha(read_rgba(path) if rgba is None else rgba, str(path))
    return Sticker(rgba=rgba, label=Path(path).stem if label is None else label, source_box=box, score=1.0,
                   method="file")
