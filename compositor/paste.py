"""Placing stickers on a background: position, size, rotation, alpha blending, masks.

A placement puts a point of the sticker, its **anchor**, at (x, y) on the background:
the sticker's centre (``centre``, the default) or the middle of its bottom edge
(``bottom``: feet on the ground, its bottom edge on the bottom edge of row y). X and Y are background pixels, or percent of the
background's width and height (``"50%"``). The sticker's size is given one of two ways:

- ``scale``: the one meaning of scale in compositor (paste, compose, batch, the studio):
  the factor its pixels are multiplied by (0.5 = half as wide and half as tall as the
  sticker file, after it is cropped to its alpha);
- ``height``: the height it should have on the background, in pixels (``300`` or
  ``"300px"``) or in percent of the background's height (``"40%"``); the scale follows
  from the sticker's own height.

It is then rotated by ``rotation`` degrees counter-clockwise about its anchor. Parts that
fall off the canvas are clipped; a sticker that lands entirely off the canvas is refused.
Blending uses premultiplied alpha, so soft edges do not darken. Later stickers cover
earlier ones; each object's mask is what stays visible of it.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import UsageError
from .ops.geometry import bbox
from .plugins import check_range
from .types import Composite, PlacedObject, Sticker

ANCHORS = ("centre", "bottom")
_ANCHOR_WORDS = {"centre": "centre", "center": "centre", "middle": "centre", "bottom": "bottom", "feet": "bottom"}
SPEC = "STICKER@X,Y[,SIZE[,DEG]][,ANCHOR]"
_LENGTH = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%|px)?\s*$")

Length = float | str  # pixels, or text: "120", "120px", "45%"


@dataclass(frozen=True)
class Placement:
    """Where ``paste`` puts one sticker: its ``anchor`` at (x, y) (pixels, or ``"N%"`` of the
    background), sized by ``scale`` or by ``height`` (pixels, or ``"N%"`` of the background's
    height), rotated ``rotation`` degrees CCW. See the module's docstring."""

    sticker: Sticker
    x: Length | None = None  # None = the background's centre
    y: Length | None = None
    scale: float = 1.0
    rotation: float = 0.0
    name: str = ""  # for error messages (e.g. the sticker's file)
    anchor: str = "centre"
    height: Length | None = None  # overrides scale when given


def parse_length(text: str | float | int, label: str, *, percent_of: str = "the background") -> Length:
    """A length as a user writes it: ``120`` or ``120px`` -> 120.0 (pixels); ``45%`` -> ``"45%"``.
    A number passes as a float. Anything else is a UsageError naming ``label``."""
    if isinstance(text, bool):
        raise UsageError(f"{label} must be a number of pixels or a percent of {percent_of}; received {text!r}.")
    if isinstance(text, (int, float)):
        value = float(text)
        unit = None
    else:
        m = _LENGTH.match(str(text))
        if not m:
            raise UsageError(f"{label} must be a number of pixels (120 or 120px) or a percent of {percent_of} "
                             f"(45%); received {text!r}.")
        value, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(value):
        raise UsageError(f"{label} must be a finite number; received {text!r}.")
    return f"{value:g}%" if unit == "%" else value


def to_pixels(value: Length, extent: int, label: str) -> float:
    """``value`` (pixels, or ``"N%"``) in pixels, a percent being of ``extent``."""
    value = parse_length(value, label)
    return float(value[:-1]) * extent / 100.0 if isinstance(value, str) else value


def anchor_name(text: str, label: str = "anchor") -> str:
    """``centre``/``center``/``middle`` -> ``centre``; ``bottom``/``feet`` -> ``bottom``."""
    name = _ANCHOR_WORDS.get(str(text).strip().lower())
    if name is None:
        raise UsageError(f"{label} must be centre or bottom; received {text!r}.")
    return name


def is_anchor(value) -> bool:
    """Whether ``value`` is a word ``anchor_name`` takes (``centre``, ``bottom``, ...)."""
    return isinstance(value, str) and value.strip().lower() in _ANCHOR_WORDS


def parse_size(value, label: str = "SIZE") -> dict:
    """SIZE -> ``{"scale": s}`` or ``{"height": h}``: a bare number (or its text) is a scale
    (0.5: the sticker's pixels times 0.5); a height carries its unit, pixels (``"300px"``) or
    percent of the background's height (``"40%"``). Anything else is a UsageError naming ``label``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return {"scale": float(value)}
    m = _LENGTH.match(value) if isinstance(value, str) else None
    if not m:
        raise UsageError(f"{label} must be a scale (0.5) or a height in pixels (300px) or in percent of the "
                         f"background's height (40%); received {value!r}.")
    return {"height": parse_length(value, label)} if m.group(2) else {"scale": float(m.group(1))}


def parse_degrees(value, label: str = "DEG"):
    """DEG, counter-clockwise: text (``"15"``) read as a number; anything else as given, for the
    caller's number check. Text that is no number is a UsageError naming ``label``."""
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{label} must be a number of degrees; received {value!r}.") from None


def parse_placement(spec: str) -> tuple[str, dict]:
    """``PATH[@X,Y[,SIZE[,DEG]][,ANCHOR]]`` -> (PATH, Placement keywords). A file name that
    itself contains ``@`` (``cup@2x.png``) is taken whole when no placement follows it."""
    if "@" in spec and Path(spec).is_file():
        return spec, {}
    path, at, where = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if not path:
        raise UsageError(f"{spec!r}: no sticker file before the '@'; placement must be {SPEC}.")
    if at and not where.strip():
        raise UsageError(f"{spec!r}: nothing after the '@'; placement must be {SPEC} (or the file alone, centred).")
    return path, parse_where(where, spec) if where else {}


def parse_where(where: str, spec: str | None = None) -> dict:
    """``X,Y[,SIZE[,DEG]][,ANCHOR]`` -> Placement keywords {x, y, scale or height, rotation, anchor}.

    X and Y: pixels (``120``, ``120px``) or percent of the background (``50%``). SIZE: a
    scale (``0.5``: the sticker's pixels times 0.5), or a height in pixels (``300px``) or in
    percent of the background's height (``40%``). DEG: degrees counter-clockwise. ANCHOR,
    last: ``centre`` (default) or ``bottom`` (X,Y is the middle of the object's bottom edge).
    Errors quote ``spec`` (default ``where``)."""
    spec = where if spec is None else spec
    parts = [p.strip() for p in where.split(",")]
    out: dict = {}
    if parts and is_anchor(parts[-1]):
        out["anchor"] = anchor_name(parts.pop())
    if len(parts) == 5 and "anchor" not in out and not _LENGTH.match(parts[-1]):
        raise UsageError(f"{spec!r}: ANCHOR must be centre or bottom; received {parts[-1]!r}.")
    if len(parts) not in (2, 3, 4):
        raise UsageError(f"{spec!r}: placement must be {SPEC}.")
    try:
        out["x"] = parse_length(parts[0], "X")
        out["y"] = parse_length(parts[1], "Y")
        if len(parts) > 2:
            out.update(parse_size(parts[2]))
        if len(parts) > 3:
            out["rotation"] = parse_degrees(parts[3])
    except (UsageError, ValueError):
        raise UsageError(f"{spec!r}: X and Y must be numbers of pixels (120, 120px) or percents (50%), SIZE a scale (0.5) "
                         f"or a height (300px, 40%), DEG a number, ANCHOR centre or bottom.") from None
    if not all(math.isfinite(v) for v in out.values() if isinstance(v, float)):
        raise UsageError(f"{spec!r}: X, Y, SIZE and DEG must be finite numbers.")
    return out


def where_text(x: Length | None, y: Length | None, *, scale: float | None = None, height: Length | None = None,
               rotation: float = 0.0, anchor: str = "centre") -> str:
    """The ``X,Y[,SIZE[,DEG]][,ANCHOR]`` text ``parse_where`` reads back to the same placement
    (numbers written with ``repr``, so they round-trip exactly)."""
    def num(v):
        return v if isinstance(v, str) else (repr(int(v)) if float(v).is_integer() else repr(float(v)))

    parts = [num(x), num(y)]
    if height is not None:
        parts.append(height if isinstance(height, str) else f"{num(height)}px")
    elif scale is not None and (scale != 1.0 or rotation):
        parts.append(num(scale))
    if rotation:
        if len(parts) == 2:
            parts.append("1")
        parts.append(num(rotation))
    if anchor != "centre":
        parts.append(anchor)
    return ",".join(parts)


def resolve(placement: Placement, size: tuple[int, int], label: str | None = None) -> tuple[float, float, float]:
    """(cx, cy, scale): where ``placement``'s sticker centre lands on a ``size`` (w, h)
    background and the scale it is drawn at, from its anchor, percents and height; errors
    name ``label`` (default: the placement's name)."""
    W, H = size
    label = label or placement.name or "sticker"
    h, w = placement.sticker.rgba.shape[:2]
    anchor = anchor_name(placement.anchor, f"{label}: anchor")
    scale = placement.scale
    if placement.height is not None:
        if scale != 1.0:
            raise UsageError(f"{label}: give a scale or a height, not both; received scale {scale:g} and height "
                             f"{placement.height}.")
        target = to_pixels(placement.height, H, f"{label}: height")
        if not target > 0:
            raise UsageError(f"{label}: height must be positive; received {placement.height}.")
        scale = target / h
    x = W / 2 if placement.x is None else to_pixels(placement.x, W, f"{label}: x")
    y = H / 2 if placement.y is None else to_pixels(placement.y, H, f"{label}: y")
    if anchor == "bottom":
        # the object's bottom edge lies scale * h / 2 below its centre, scaled and rotated with
        # it; it goes on the bottom edge of row y, half a pixel below y (at scale 1 the bottom row
        # lands on row y exactly)
        a = math.radians(placement.rotation)
        half = scale * h / 2 - 0.5
        dx, dy = half * math.sin(a), half * math.cos(a)
        if placement.y is None:
            y = H  # bottom anchor with no y: standing on the background's bottom edge
        x, y = x - dx, y - dy
    return x, y, scale


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


def _warp(sticker: Sticker, cx: float, cy: float, scale: float, rotation: float, size: tuple[int, int]
          ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The sticker's premultiplied RGB (0..255) and its alpha, centred at (cx, cy), warped onto
    the part of a ``size`` (w, h) canvas it can touch, and that part's box (x0, y0, x1, y1)."""
    rgba = sticker.rgba.astype(np.float32) * np.float32(1.0 / 255.0)
    rgba[..., :3] *= rgba[..., 3:4]
    interp = cv2.INTER_AREA if scale < 1 and rotation % 360 == 0 else cv2.INTER_LINEAR
    warped, box = warp_in_box(rgba, cx, cy, scale, rotation, size, interp)
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
    centres = []
    for i, p in enumerate(placements, 1):
        label = p.name or f"sticker {i}"
        if p.height is None and not (p.scale > 0 and np.isfinite(p.scale)):
            raise UsageError(f"{label}: scale must be a positive number; received {p.scale}.")
        for name, value in (("x", p.x), ("y", p.y), ("rotation", p.rotation)):
            if value is not None and not isinstance(value, str):
                check_range(value, None, None, f"{label}: {name}", integer=False)
        if p.sticker.rgba.ndim != 3 or p.sticker.rgba.shape[2] != 4:
            raise UsageError(f"{label}: a sticker must be RGBA.")
        if not p.sticker.rgba[..., 3].any():
            raise UsageError(f"{label}: the sticker is fully transparent; there is nothing to paste.")
        cx, cy, scale = resolve(p, (W, H), label)
        sh, sw = p.sticker.rgba.shape[:2]
        if max(sh, sw) * scale < 1:  # warped, it would come out as a few arbitrary pixels, not as nothing
            raise UsageError(f"{label}: scale {scale:g} makes the {sw}x{sh} sticker smaller than a pixel "
                             f"({sw * scale:.3g}x{sh * scale:.3g}); there is nothing left to paste.")
        centres.append((cx, cy, scale))
        fg, alpha, (x0, y0, x1, y1) = _warp(p.sticker, cx, cy, scale, p.rotation, (W, H))
        if alpha.size == 0 or alpha.max() < 1.0 / 255:
            where = "the centre" if p.x is None and p.y is None else f"({cx:g}, {cy:g})"
            raise UsageError(
                f"{label}: placed at {where} with scale {scale:g} it lands entirely outside the {W}x{H} background."
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
    for p, visible, (x0, y0, x1, y1), (cx, cy, scale) in zip(placements, alphas, boxes, centres):
        seen = bbox(visible[y0:y1, x0:x1] >= 0.5 / 255)
        box = (seen[0] + x0, seen[1] + y0, seen[2], seen[3]) if seen else (0, 0, 0, 0)
        objects.append(PlacedObject(label=p.sticker.label, box=box, mask=visible, center=(cx, cy), scale=scale,
                                    rotation=p.rotation))
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    return Composite(image=image, mask=union, objects=tuple(objects))
