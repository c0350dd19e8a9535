"""Placing stickers on a background: position, scale, rotation, alpha blending, masks.

A placement puts the sticker's centre at (x, y) in background pixels, scaled by
``scale`` and rotated by ``rotation`` degrees counter-clockwise. Parts that fall off
the canvas are clipped; a sticker that lands entirely off the canvas is refused.
Blending uses premultiplied alpha, so soft edges do not darken. Later stickers cover
earlier ones; each object's mask is what stays visible of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import UsageError
from .ops.geometry import bbox
from .plugins import check_range
from .types import Composite, PlacedObject, Sticker


@dataclass(frozen=True)
class Placement:
    """Where ``paste`` puts one sticker: centre (x, y) in background pixels, scale, degrees CCW."""

    sticker: Sticker
    x: float | None = None  # centre; None = the background's centre
    y: float | None = None
    scale: float = 1.0
    rotation: float = 0.0
    name: str = ""  # for error messages (e.g. the sticker's file)


def parse_placement(spec: str) -> tuple[str, dict]:
    """``PATH[@X,Y[,SCALE[,DEG]]]`` -> (PATH, {x, y, scale, rotation}). A file name that
    itself contains ``@`` (``cup@2x.png``) is taken whole when no placement follows it."""
    if "@" in spec and Path(spec).is_file():
        return spec, {}
    path, _, where = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if not path:
        raise UsageError(f"{spec!r}: no sticker file before the '@'; placement must be STICKER@X,Y[,SCALE[,DEG]].")
    return path, parse_where(where, spec) if where else {}


def parse_where(where: str, spec: str | None = None) -> dict:
    """``X,Y[,SCALE[,DEG]]`` -> {x, y, scale, rotation}; errors quote ``spec`` (default ``where``)."""
    spec = where if spec is None else spec
    parts = where.split(",")
    if len(parts) not in (2, 3, 4):
        raise UsageError(f"{spec!r}: placement must be STICKER@X,Y[,SCALE[,DEG]].")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"{spec!r}: X, Y, SCALE and DEG must be numbers.") from None
    if not all(np.isfinite(values)):
        raise UsageError(f"{spec!r}: X, Y, SCALE and DEG must be finite numbers.")
    out = {"x": values[0], "y": values[1]}
    if len(values) > 2:
        out["scale"] = values[2]
    if len(values) > 3:
        out["rotation"] = values[3]
    return out


def placement_matrix(width: int, height: int, x: float, y: float, scale: float, rotation: float) -> np.ndarray:
    """The 2x3 affine that puts a ``width`` x ``height`` sticker's centre at (x, y), scaled and
    rotated ``rotation`` degrees counter-clockwise."""
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), rotation, scale)
    matrix[0, 2] += x - (width - 1) / 2
    matrix[1, 2] += y - (height - 1) / 2
    return matrix


def warp_box(width: int, height: int, matrix: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the part of a ``size`` (w, h) canvas that a ``width`` x ``height``
    sticker warped by ``matrix`` can touch, clipped to the canvas; empty (x0 >= x1 or
    y0 >= y1) when it misses. Bilinear sampling reads a source pixel from anywhere less than
    a pixel away, so the source's footprint is (-1, width) x (-1, height): its corners,
    warped, bound the box (plus a pixel of slack), however much the sticker is enlarged."""
    W, H = size
    corners = np.array([[-1, -1, 1], [width, -1, 1], [-1, height, 1], [width, height, 1]],
                       np.float64) @ np.asarray(matrix, np.float64).T
    x0, y0 = np.floor(corners.min(0)) - 1
    x1, y1 = np.ceil(corners.max(0)) + 2
    return int(max(0, x0)), int(max(0, y0)), int(min(W, x1)), int(min(H, y1))


def warp_in_box(pixels: np.ndarray, x: float, y: float, scale: float, rotation: float, size: tuple[int, int],
                flags: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``pixels`` (a sticker's, HxW or HxWxC) placed as ``paste`` places them (centre at
    (x, y), scale, degrees CCW), warped onto only the part of a ``size`` (w, h) canvas they
    can touch; returns the warped part and its box (x0, y0, x1, y1), empty when they miss."""
    h, w = pixels.shape[:2]
    matrix = placement_matrix(w, h, x, y, scale, rotation)
    x0, y0, x1, y1 = warp_box(w, h, matrix, size)
    if x0 >= x1 or y0 >= y1:
        return np.zeros((0, 0) + pixels.shape[2:], pixels.dtype), (x0, y0, x0, y0)
    matrix[:, 2] -= (x0, y0)  # the same transform, onto the box only
    warped = cv2.warpAffine(pixels, matrix, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=0)
    return warped, (x0, y0, x1, y1)


def _warp(sticker: Sticker, placement: Placement, size: tuple[int, int]
          ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The sticker's premultiplied RGB (0..255) and its alpha, warped onto the part of a
    ``size`` (w, h) canvas it can touch, and that part's box (x0, y0, x1, y1)."""
    W, H = size
    cx = W / 2 if placement.x is None else placement.x
    cy = H / 2 if placement.y is None else placement.y
    rgba = sticker.rgba.astype(np.float32) * np.float32(1.0 / 255.0)
    rgba[..., :3] *= rgba[..., 3:4]
    interp = cv2.INTER_AREA if placement.scale < 1 and placement.rotation % 360 == 0 else cv2.INTER_LINEAR
    warped, box = warp_in_box(rgba, cx, cy, placement.scale, placement.rotation, size, interp)
    alpha = np.clip(warped[..., 3], 0.0, 1.0)
    return warped[..., :3] * np.float32(255.0), alpha, box


def paste(background: np.ndarray, placements: list[Placement]) -> Composite:
    """Paste each placement in order onto ``background`` (RGB uint8); returns a Composite."""
    if not placements:
        raise UsageError("nothing to paste: give at least one sticker.")
    H, W = background.shape[:2]
    canvas = background.astype(np.float32)
    union = np.zeros((H, W), np.float32)
    alphas: list[np.ndarray] = []
    boxes: list[tuple[int, int, int, int]] = []
    for i, p in enumerate(placements, 1):
        label = p.name or f"sticker {i}"
        if not (p.scale > 0 and np.isfinite(p.scale)):
            raise UsageError(f"{label}: scale must be a positive number; received {p.scale}.")
        for name, value in (("x", p.x), ("y", p.y), ("rotation", p.rotation)):
            if value is not None:
                check_range(value, None, None, f"{label}: {name}", integer=False)
        if p.sticker.rgba.ndim != 3 or p.sticker.rgba.shape[2] != 4:
            raise UsageError(f"{label}: a sticker must be RGBA.")
        if not p.sticker.rgba[..., 3].any():
            raise UsageError(f"{label}: the sticker is fully transparent; there is nothing to paste.")
        fg, alpha, (x0, y0, x1, y1) = _warp(p.sticker, p, (W, H))
        if alpha.size == 0 or alpha.max() < 1.0 / 255:
            cx, cy = W / 2 if p.x is None else p.x, H / 2 if p.y is None else p.y  # as _warp places it
            where = "the centre" if p.x is None and p.y is None else f"({cx:g}, {cy:g})"
            raise UsageError(
                f"{label}: placed at {where} with scale {p.scale:g} it lands entirely outside the {W}x{H} background."
            )
        # Only the box the sticker can touch changes: later objects cover earlier ones there.
        box = (slice(y0, y1), slice(x0, x1))
        keep = 1.0 - alpha
        canvas[box] = fg + canvas[box] * keep[..., None]
        union[box] = alpha + union[box] * keep
        for a in alphas:
            a[box] *= keep
        full = np.zeros((H, W), np.float32)
        full[box] = alpha
        alphas.append(full)
        boxes.append((x0, y0, x1, y1))
    objects = []
    for p, visible, (x0, y0, x1, y1) in zip(placements, alphas, boxes):
        seen = bbox(visible[y0:y1, x0:x1] >= 0.5 / 255)
        box = (seen[0] + x0, seen[1] + y0, seen[2], seen[3]) if seen else (0, 0, 0, 0)
        objects.append(PlacedObject(
            label=p.sticker.label, box=box, mask=visible,
            center=(W / 2 if p.x is None else p.x, H / 2 if p.y is None else p.y),
            scale=p.scale, rotation=p.rotation))
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return Composite(image=image, mask=union, objects=tuple(objects))
