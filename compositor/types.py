"""The data that flows through the pipeline.

Pixels are RGB uint8 HxWx3 everywhere; stickers are RGBA uint8 HxWx4; masks are
float32 HxW in [0, 1] (soft alpha). Boxes are (x, y, w, h) in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sticker:
    """An object cut out of a photo: RGBA pixels cropped tightly to the alpha."""

    rgba: np.ndarray
    label: str
    source_box: Box
    score: float
    method: str

    @property
    def alpha(self) -> np.ndarray:
        """The sticker's alpha as a float32 HxW mask in [0, 1]."""
        return self.rgba[..., 3].astype(np.float32) / 255.0


@dataclass(frozen=True)
class PlacedObject:
    """One sticker as it landed on the canvas; ``mask`` is its visible alpha after later objects."""

    label: str
    box: Box
    mask: np.ndarray
    center: tuple[float, float]
    scale: float
    rotation: float


@dataclass(frozen=True)
class Composite:
    """A pasted image and the union mask of its objects."""

    image: np.ndarray
    mask: np.ndarray
    objects: tuple[PlacedObject, ...] = ()


@dataclass(frozen=True)
class Result:
    """A harmonized image with what produced it."""

    image: np.ndarray
    backend: str
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
