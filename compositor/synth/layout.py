"""Sampling one image's layout: every random choice (background, crop, harmonizer, which
objects, where, how large, how turned), kept apart from rendering it so that a layout
depends only on the image's seed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..paste import warp_in_box
from .settings import SynthSettings


@dataclass(frozen=True)
class Placed:
    """One object's placement in a layout."""

    object: int  # index into the objects (or distractors) list
    distractor: bool
    x: float
    y: float
    scale: float  # the Placement's scale (sticker pixels -> image pixels)
    rotation: float
    truncation: float


@dataclass(frozen=True)
class Layout:
    """Every choice made for one image."""

    background: int
    crop: tuple[int, int, int, int]  # x, y, w, h in the (scaled) background
    backend: str
    placed: tuple[Placed, ...]
    dropped: int  # objects left out: no placement met the truncation and occlusion limits


def sample_layout(rng: np.random.Generator, settings: SynthSettings, *, backgrounds: int,
                  background_size: Callable[[int], tuple[int, int]],
                  objects: Sequence[tuple[np.ndarray, float]], distractors: Sequence[tuple[np.ndarray, float]] = ()
                  ) -> Layout:
    """Every random choice of one image, drawn from ``rng`` in a fixed order.

    ``objects`` and ``distractors`` are (alpha, area) per sticker; ``background_size(i)``
    is background i's (width, height) after scaling. Each object is tried at up to
    ``settings.tries`` random placements; one is kept when the object's truncation is
    within the limit and no annotated object already placed would lose more than
    ``max_occlusion`` of its area; otherwise the object is left out (``dropped``).
    """
    bg = int(rng.integers(backgrounds))
    bw, bh = background_size(bg)
    W, H = settings.size or (bw, bh)
    crop = (int(rng.integers(bw - W + 1)), int(rng.integers(bh - H + 1)), W, H)
    backend = settings.backends[int(rng.integers(len(settings.backends)))]
    n = int(rng.integers(settings.objects_per_image[0], settings.objects_per_image[1] + 1)) if objects else 0
    nd = int(rng.integers(settings.distractors_per_image[0], settings.distractors_per_image[1] + 1)) \
        if distractors else 0
    picks = [(int(i), False) for i in rng.integers(len(objects), size=n)] if n else []
    picks += [(int(i), True) for i in rng.integers(len(distractors), size=nd)] if nd else []
    order = rng.permutation(len(picks))
    short = min(W, H)
    placed: list[Placed] = []
    visible: list[list] = []  # annotated objects: [visible alpha (whole canvas), area when placed, visible area]
    dropped = 0
    for k in order:
        index, is_distractor = picks[int(k)]
        alpha, area = (distractors if is_distractor else objects)[index]
        h, w = alpha.shape
        for _ in range(settings.tries):
            fraction = rng.uniform(*settings.scale)
            rotation = float(rng.uniform(*settings.rotation))
            x, y = float(rng.uniform(0, W)), float(rng.uniform(0, H))
            scale = fraction * short / max(h, w)
            warped, (x0, y0, x1, y1) = warp_in_box(alpha, x, y, scale, rotation, (W, H))
            box = (slice(y0, y1), slice(x0, x1))
            inside = float(warped.sum())
            truncation = max(0.0, 1.0 - inside / max(area * scale * scale, 1e-9))
            if inside < 1.0 or truncation > settings.max_truncation:
                continue
            # what each annotated object would keep: only the new object's box can change
            left = [seen - float((v[box] * warped).sum()) for v, _, seen in visible]
            if any(1.0 - kept / a > settings.max_occlusion for (_, a, _), kept in zip(visible, left)):
                continue
            cover_ = 1.0 - warped
            for entry, kept in zip(visible, left):
                entry[0][box] *= cover_
                entry[2] = kept
            if not is_distractor:
                full = np.zeros((H, W), np.float32)
                full[box] = warped
                visible.append([full, inside, inside])
            placed.append(Placed(index, is_distractor, x, y, float(scale), rotation, round(truncation, 4)))
            break
        else:
            dropped += 1
    return Layout(bg, crop, backend, tuple(placed), dropped)
