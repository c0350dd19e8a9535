"""The library's arguments, checked in one place: images, masks, stickers, placements, composites.

Every entry point (``api.cut``, ``paste``, ``load_composite``, ``harmonize``, ``compose``, and
any front end built on them) passes what it was given through these functions, so a value
means the same wherever it goes, and a value that cannot be used is refused before any work
in one sentence that names the argument and the problem, in the CLI's wording.

- An **image** is a path, a PIL image or an array, returned as RGB uint8 HxWx3. Arrays may be
  HxW (grey), HxWx1, HxWx3 or HxWx4 (composited over white, as ``read_rgb`` does a file);
  uint8 as is, uint16 by its full range (65535 -> 255), other integers when within 0..255,
  floats when within 0..1. Anything else (NaN, a float image in 0..255, a boolean array,
  another shape) is refused: guessing a scale would give a wrong image without a word.
- A **mask** is a path, a PIL image or an HxW (or HxWx1) array, returned as float32 in
  [0, 1] by the rule ``read_mask`` applies to files (``imageio.mask_from_values``): a mask with
  one nonzero level, 1 or full scale, is binary (bool, 0/1, 0/255, 0/65535); otherwise
  integers are scaled by their full range (255 for uint8 and integers within 0..255, 65535
  for uint16) and floats must already be within 0..1.
- A **sticker** is a ``Sticker``, a path, a PIL image or an array (RGBA, or RGB and opaque),
  cropped to its alpha.

A refusal is an ``InputError``: a ``UsageError`` (exit code 2 in the CLI, a 4xx over HTTP)
that is also a ``TypeError`` and a ``ValueError`` for Python callers.
"""
from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import UsageError
from .ops.pixels import to_uint8
from .types import Composite, PlacedObject, Sticker


class InputError(UsageError, TypeError, ValueError):
    """An argument of the library that cannot be used: one sentence naming it and the problem."""


PATH_TYPES = (str, os.PathLike)
#: how far outside 0..1 a float mask or image may stray (a resize's or a blur's rounding: 1.0000001)
#: and still be read as 0..1, clipped; anything further is another scale and is refused
FLOAT_SLACK = 1e-3


def _is_pil(value) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(value, Image.Image)


def _kind(value) -> str:
    """A short description of ``value`` for a message: its type, and an array's dtype and shape."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _range_text(arr: np.ndarray) -> str:
    return f"{float(arr.min()):.6g}..{float(arr.max()):.6g}" if arr.size else "no values"


def _as_path(value, what: str) -> str | os.PathLike:
    """``value`` if it is a usable path; an empty one, or one with a NUL character, is refused."""
    text = os.fspath(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise InputError(f"{what}: the path is empty; give an image file.")
    if "\0" in text:
        raise InputError(f"{what}: {text!r}: a path cannot contain a NUL character.")
    return value


def label_of(value, default: str) -> str:
    """The name a message uses for ``value``: the path itself, or ``default`` for pixels."""
    if isinstance(value, PATH_TYPES):
        try:
            return os.fsdecode(os.fspath(value))
        except (TypeError, ValueError):
            return default
    return default


# ----------------------------------------------------------------------------- images


def _pixels_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    """An image array's values as uint8, by the rules in the module docstring."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        raise InputError(f"{what}: {_kind(arr)} is a mask, not an image; give RGB uint8 pixels (HxWx3).")
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise InputError(f"{what}: {_kind(arr)} has values {_range_text(arr)}; integer pixels must be within "
                             "0..255 (or uint16 for 16-bit images).")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{what}: {_kind(arr)} contains NaN or infinite values.")
        if arr.size and (arr.min() < -FLOAT_SLACK or arr.max() > 1 + FLOAT_SLACK):
            raise InputError(f"{what}: {_kind(arr)} has values {_range_text(arr)}; float pixels must be within 0..1 "
                             "(divide 0..255 values by 255, or give uint8).")
        return to_uint8(arr.astype(np.float32) * 255.0)
    raise InputError(f"{what}: {_kind(arr)} is not an image; give RGB uint8 pixels (HxWx3).")


def _array_channels(value: np.ndarray, what: str, channels: tuple[int, ...]) -> np.ndarray:
    """``value`` as HxWxC with C in ``channels`` (HxW is one channel); other shapes refused."""
    arr = value
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in channels:
        wanted = ", ".join(f"HxWx{c}" for c in channels)
        raise InputError(f"{what}: {_kind(value)} is not an image; its shape must be HxW, {wanted}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{what}: {_kind(value)} has no pixels.")
    return arr


def rgba(value, what: str = "image") -> np.ndarray:
    """``value`` (a path, a PIL image or an array) as RGBA uint8 HxWx4, opaque where it has no alpha."""
    if isinstance(value, PATH_TYPES):
        from .imageio import read_rgba

        return read_rgba(_as_path(value, what))
    if _is_pil(value):
        from .imageio.read import _pil_to_rgba

        try:
            return _pil_to_rgba(value)
        except (ValueError, OSError) as exc:
            raise InputError(f"{what}: cannot convert the PIL image's {value.mode} pixels to RGB ({exc}).") from None
    if not isinstance(value, np.ndarray):
        raise InputError(f"{what}: expected an image file's path, a PIL image or an RGB uint8 array; "
                         f"received {_kind(value)}.")
    arr = _array_channels(value, what, (1, 3, 4))
    arr = _pixels_to_uint8(arr, what)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 3:
        arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(arr)


def image(value, what: str = "image") -> np.ndarray:
    """``value`` (a path, a PIL image or an array) as RGB uint8 HxWx3; transparent pixels
    composited over white, as ``read_rgb`` does a file."""
    if isinstance(value, PATH_TYPES):
        from .imageio import read_rgb

        return read_rgb(_as_path(value, what))
    if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3 and value.shape[2] == 3 \
            and value.shape[0] and value.shape[1]:
        return np.ascontiguousarray(value)
    from .imageio.read import over_white

    return over_white(rgba(value, what))


# ----------------------------------------------------------------------------- masks


def _mask_array(value: np.ndarray, what: str) -> np.ndarray:
    """An HxW (or HxWx1) mask array as float32 in [0, 1], by the rules in the module docstring."""
    from .imageio import mask_from_values

    arr = value
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InputError(f"{what}: {_kind(value)} is not a mask; a mask is HxW (one value per pixel, nonzero = object).")
    if arr.size == 0:
        raise InputError(f"{what}: {_kind(value)} has no pixels.")
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint16:
        return mask_from_values(arr, 65535.0)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise InputError(f"{what}: {_kind(value)} has values {_range_text(arr)}; an integer mask must be within "
                             "0..255 (or uint16 for a 16-bit mask).")
        return mask_from_values(arr, 255.0)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{what}: {_kind(value)} contains NaN or infinite values.")
        if arr.min() < -FLOAT_SLACK or arr.max() > 1 + FLOAT_SLACK:
            raise InputError(f"{what}: {_kind(value)} has values {_range_text(arr)}; a float mask must be within 0..1 "
                             "(divide 0..255 values by 255, or give a uint8 mask).")
        if arr.min() < 0 or arr.max() > 1:  # rounding of a resize or a blur: clipped, not refused
            return np.clip(arr, 0, 1).astype(np.float32)
        return np.ascontiguousarray(arr, dtype=np.float32)
    raise InputError(f"{what}: {_kind(value)} is not a mask; give a uint8, uint16, bool or float array.")


def mask(value, shape: tuple[int, int] | None = None, what: str = "mask", *, against: str = "the image",
         image_path=None, require_object: bool = False) -> np.ndarray:
    """``value`` (a path, a PIL image or an array) as a float32 HxW mask in [0, 1].

    With ``shape`` (height, width) its size must match (``against`` names what it must match;
    ``image_path``, the image's file, for a mask file's message); with ``require_object`` an
    empty or all-object mask is refused, in ``read_mask``'s words."""
    if isinstance(value, PATH_TYPES):
        from .imageio import read_mask

        path = _as_path(value, what)
        if shape is not None and require_object:  # read_mask's own checks, naming the file
            return read_mask(path, shape, image_path=image_path)
        m = read_mask(path)
        what = label_of(value, what)
    elif _is_pil(value):
        from .imageio import mask_from_values
        from .imageio.read import _mask_values

        try:
            values, hi = _mask_values(value)
        except (ValueError, OSError) as exc:
            raise InputError(f"{what}: cannot read the PIL image's {value.mode} pixels as a mask ({exc}).") from None
        m = mask_from_values(values, hi)
    elif isinstance(value, np.ndarray):
        m = _mask_array(value, what)
    else:
        raise InputError(f"{what}: expected a mask file's path, a PIL image or an HxW array; received {_kind(value)}.")
    if shape is not None:
        _sized(m, shape, what, against)
    if require_object:
        region = m > 0
        if not region.any():
            raise InputError(f"{what}: mask is empty (no nonzero pixels), so there is no object to harmonize.")
        if region.all():
            raise InputError(f"{what}: mask covers the whole image, so there is no background to harmonize against.")
    return m


def _sized(m: np.ndarray, shape: tuple[int, int], what: str, against: str) -> np.ndarray:
    h, w = shape[:2]
    if m.shape != (h, w):
        raise InputError(f"{what}: mask is {m.shape[1]}x{m.shape[0]} but {against} is {w}x{h}; "
                         "they must be the same size.")
    return m


# ----------------------------------------------------------------------------- composites


def composite(value, what: str = "composite") -> Composite:
    """``value`` as a checked ``Composite``: its image RGB uint8 HxWx3, its mask (and each
    object's) float32 in [0, 1] at the image's size, whatever dtype they were given in."""
    if not isinstance(value, Composite):
        raise InputError(f"{what}: expected a Composite (from paste(...) or load_composite(image, mask)); "
                         f"received {_kind(value)}.")
    img = image(value.image, f"{what}.image")
    m = mask(value.mask, img.shape[:2], f"{what}.mask", against=f"{what}.image")
    objects = value.objects
    if objects is None:
        objects = ()
    if not isinstance(objects, (tuple, list)):
        raise InputError(f"{what}.objects: expected a tuple of PlacedObject; received {_kind(objects)}.")
    for i, o in enumerate(objects):
        if not isinstance(o, PlacedObject):
            raise InputError(f"{what}.objects[{i}]: expected a PlacedObject; received {_kind(o)}.")
    checked = tuple(dataclasses.replace(o, mask=mask(o.mask, img.shape[:2], f"{what}.objects[{i}].mask",
                                                    against=f"{what}.image"))
                    for i, o in enumerate(objects))
    if img is value.image and m is value.mask and all(a.mask is b.mask for a, b in zip(checked, objects)) \
            and isinstance(objects, tuple):
        return value
    return Composite(image=img, mask=m, objects=checked)


# ----------------------------------------------------------------------------- stickers and placements


def number(value, what: str, *, positive: bool = False, optional: bool = False) -> float | None:
    """``value`` as a finite float (None allowed with ``optional``); a string, a bool or NaN is refused."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number; received {value!r}.")
    v = float(value)
    if not np.isfinite(v):
        raise InputError(f"{what} must be a finite number; received {value!r}.")
    if positive and not v > 0:
        raise InputError(f"{what} must be a positive number; received {value!r}.")
    return v


def sticker(value, what: str = "sticker") -> Sticker:
    """``value`` (a Sticker, a path, a PIL image or an array) as a ``Sticker`` cropped to its alpha."""
    from .stickers import crop_to_alpha, read_sticker

    if isinstance(value, Sticker):
        four = value.rgba
        if not isinstance(four, np.ndarray) or four.dtype != np.uint8 or four.ndim != 3 or four.shape[2] != 4:
            raise InputError(f"{what}: a Sticker's rgba must be RGBA uint8 HxWx4; received {_kind(four)}.")
        if not four[..., 3].any():
            raise InputError(f"{what}: the sticker is fully transparent; there is nothing to paste.")
        return value
    if isinstance(value, PATH_TYPES):
        return read_sticker(_as_path(value, what))
    if _is_pil(value) or isinstance(value, np.ndarray):
        four, box = crop_to_alpha(rgba(value, what), what)
        return Sticker(rgba=four, label=what, source_box=box, score=1.0, method="array")
    raise InputError(f"{what}: expected a Sticker, a sticker file's path, a PIL image or an RGBA array; "
                     f"received {_kind(value)}.")


PLACEMENT_KEYS = ("sticker", "x", "y", "scale", "rotation", "name", "anchor", "height")


def length(value, what: str, *, optional: bool = True, percent_of: str = "the background"):
    """A position or height as ``paste.Placement`` takes it: a number of pixels, or text
    (``"120"``, ``"120px"``, ``"45%"``); a bool, NaN or other text is refused."""
    from .paste import parse_length

    if value is None and optional:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return number(value, what)
    if not isinstance(value, str):
        raise InputError(f"{what} must be a number of pixels or a percent of {percent_of} (\"45%\"); "
                         f"received {value!r}.")
    try:
        return parse_length(value, what, percent_of=percent_of)
    except UsageError as exc:
        raise InputError(str(exc)) from None


def _height(value, label: str):
    """A placement's height (``length``), refused unless positive, as the scale is."""
    height = length(value, f"{label}: height", percent_of="the background's height")
    if height is not None and not float(str(height).rstrip("%")) > 0:
        raise InputError(f"{label}: height must be positive; received {value!r}.")
    return height


def placements(items) -> list:
    """``paste``'s stickers as ``Placement``s: each a Sticker, path, PIL image or array
    (centred), a Placement, a mapping of Placement's fields (``sticker`` and optional x, y,
    scale, rotation, anchor, height, name), or a tuple (sticker, x, y[, size[, degrees]][, anchor])
    read as the command line reads ``STICKER@X,Y[,SIZE[,DEG]][,ANCHOR]``: x and y in pixels or
    ``"50%"``, size a scale or a height (``"300px"``, ``"40%"``), anchor ``"centre"`` or ``"bottom"``.
    Refuses an empty or malformed list."""
    from .paste import Placement, anchor_name, is_anchor, parse_degrees, parse_size

    if isinstance(items, (str, bytes, os.PathLike, np.ndarray, Sticker, Placement, Mapping)) or _is_pil(items) \
            or not isinstance(items, Iterable):
        raise InputError(f"stickers: expected a list of stickers or placements; received {_kind(items)} "
                         "(wrap a single sticker in a list).")
    out = []
    for i, item in enumerate(items, 1):
        what = f"sticker {i}"
        if isinstance(item, Placement):
            fields = dataclasses.asdict(item) | {"sticker": item.sticker}
        elif isinstance(item, Mapping):
            unknown = set(item) - set(PLACEMENT_KEYS)
            if "sticker" not in item or unknown:
                raise InputError(f"{what}: a placement mapping takes {', '.join(PLACEMENT_KEYS)} (sticker required); "
                                 f"received keys {', '.join(map(str, item))}.")
            fields = dict(item)
        elif isinstance(item, tuple) or (isinstance(item, list) and item and not isinstance(item[0], numbers.Real)):
            anchored = len(item) >= 4 and is_anchor(item[-1])  # the anchor, last, after x and y
            if len(item) == 6 and not anchored:  # six values fit the tuple only with an anchor last
                raise InputError(f"{label_of(item[0], '') or what}: anchor (a placement tuple's sixth value) must be "
                                 f"centre or bottom; received {item[-1]!r}.")
            if not 1 <= len(item) - anchored <= 5:
                raise InputError(f"{what}: a placement tuple is (sticker, x, y[, size[, degrees]][, anchor]); "
                                 f"received {len(item)} values.")
            fields = dict(zip(("sticker", "x", "y", "size", "rotation"), item[:len(item) - anchored]))
            if anchored:
                fields["anchor"] = item[-1]
        else:
            fields = {"sticker": item}
        name = fields.get("name") or label_of(fields["sticker"], "")
        label = name or what
        if "size" in fields:  # a tuple's size and degrees, as the command line reads them
            try:
                size = fields.pop("size")
                fields.update(parse_size(size, f"{label}: size") if size is not None else {})
                fields["rotation"] = parse_degrees(fields.get("rotation"), f"{label}: rotation")
            except UsageError as exc:
                raise InputError(str(exc)) from None
        anchor = fields.get("anchor") or "centre"
        if not isinstance(anchor, str):
            raise InputError(f"{label}: anchor must be centre or bottom; received {anchor!r}.")
        try:
            anchor = anchor_name(anchor, f"{label}: anchor")
        except UsageError as exc:
            raise InputError(str(exc)) from None
        out.append(Placement(
            sticker(fields["sticker"], label),
            length(fields.get("x"), f"{label}: x"),
            length(fields.get("y"), f"{label}: y"),
            number(1.0 if fields.get("scale") is None else fields["scale"], f"{label}: scale", positive=True),
            number(fields.get("rotation") or 0.0, f"{label}: rotation"),
            name=str(name), anchor=anchor,
            height=_height(fields.get("height"), label)))
    if not out:
        raise InputError("stickers: nothing to paste; give at least one sticker.")
    return out


def file_path(value, what: str) -> str | os.PathLike | None:
    """An optional path to a file that is read for what it says beyond its pixels (None
    passes): a str or PathLike naming a readable file; anything else is refused in one sentence,
    a missing or unreadable file with the reason (``imageio.check_readable``)."""
    if value is None:
        return None
    if not isinstance(value, PATH_TYPES):
        raise InputError(f"{what} must be the path of an image file; received {_kind(value)}.")
    from .imageio import check_readable

    path = _as_path(value, what)
    check_readable(path)
    return path


# ----------------------------------------------------------------------------- everything else


def plugin_name(value, kind: str, what: str) -> str:
    """A plugin's name as given to an entry point: a string (unknown names are refused by
    ``plugins.load`` with the list of known ones)."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be the name of a {kind}; received {value!r}.")
    return value


def settings_dict(value, what: str) -> dict:
    """A settings argument: None or a mapping of setting names to values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InputError(f"{what} must be a dict of setting names to values; received {_kind(value)}.")
    return dict(value)


def finish_settings(value, what: str = "finish"):
    """The finishing stage's settings argument: None, a mapping of its settings, or its
    settings object (a dataclass) as given."""
    if value is None or isinstance(value, Mapping) or dataclasses.is_dataclass(value):
        return value
    raise InputError(f"{what} must be a dict of the finishing stage's settings (e.g. {{'match': 'all'}}); "
                     f"received {_kind(value)}.")


def progress(value, what: str = "progress"):
    """A progress listener: None, or an object with an ``update(step, total, **info)`` method
    (and ``snapshot(step, image)`` when its ``snapshot_every`` is set)."""
    if value is None:
        return None
    if not callable(getattr(value, "update", None)):
        raise InputError(f"{what}: expected an object with an update(step, total, **info) method; "
                         f"received {_kind(value)}.")
    every = getattr(value, "snapshot_every", 0)
    if every and not callable(getattr(value, "snapshot", None)):
        raise InputError(f"{what}: snapshot_every is {every!r} but it has no snapshot(step, image) method.")
    return value


__all__ = ["InputError", "image", "rgba", "mask", "composite", "sticker", "placements", "number", "plugin_name",
           "settings_dict", "progress", "label_of", "length"]
