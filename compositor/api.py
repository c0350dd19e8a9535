"""The Python API: what the CLI does, callable from code.

    from compositor import cut, paste, harmonize
    sticker = cut("photo.jpg")[0]
    comp = paste("background.jpg", [(sticker, 320, 240, 0.5, 10)])
    result = harmonize(comp, backend="vgg19", iterations=20)
    result = harmonize(comp, finish={"match": "all", "shadow": "contact"})  # + the finishing stage

Images, masks and stickers may be given as paths, PIL images or arrays; every argument is
checked (and an array normalised) by ``inputs``, in one place, before any work: a value that
cannot be used raises ``inputs.InputError``, one sentence naming it.

Every front end (the command line, batch and synth workers, compare, bench, the server)
runs plugins through this module: ``cutter`` and ``harmonizer`` make a plugin ready with
checked settings (``plugins.ready``), before any work, so a bad setting is refused as
itself; ``cut`` and ``harmonize`` take either a name and settings or such a ready plugin.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Any, Iterable

import numpy as np

from . import inputs, plugins
from .errors import CompositorError
from .finish import FinishSettings, make_finish_settings, object_masks
from .finish import finish as _run_finish
from .cut import DEFAULT_METHOD
from .harmonizers import DEFAULT_BACKEND
from .harmonizers.base import Progress
from .paste import Placement
from .paste import paste as _paste
from .records import file_record, result_record, sticker_record, versions
from .stickers import read_sticker
from .types import Composite, Result, Sticker

ImageLike = str | os.PathLike | np.ndarray  # or a PIL image


def _image(value: ImageLike, what: str = "image") -> np.ndarray:
    return inputs.image(value, what)


def cutter(method: str = DEFAULT_METHOD, /, **settings: Any) -> plugins.Ready:
    """The cutter ``method`` ready to run, its ``settings`` checked (UsageError naming the
    setting); give it to ``cut``."""
    return plugins.ready("cutter", method, settings)


def harmonizer(backend: str = DEFAULT_BACKEND, /, *, default_seed: int | None = None,
               **settings: Any) -> plugins.Ready:
    """The harmonizer ``backend`` ready to run, its ``settings`` checked (UsageError naming
    the setting); ``default_seed`` is its seed when ``settings`` give none and it has one.
    Give it to ``harmonize``."""
    return plugins.ready("harmonizer", backend, settings, default_seed=default_seed)


def _ready(kind: str, plugin: str | plugins.Ready, settings: dict) -> plugins.Ready:
    """``plugin`` when it is a ready plugin of ``kind`` (and no ``settings`` come with it), else
    the plugin of that name made ready with ``settings``."""
    if not isinstance(plugin, plugins.Ready):
        return plugins.ready(kind, inputs.plugin_name(plugin, kind, "method" if kind == "cutter" else "backend"),
                             settings)
    if plugin.kind != kind:
        raise inputs.InputError(f"expected a ready {kind}, got the {plugin.kind} {plugin.name!r}.")
    if settings:
        raise inputs.InputError(f"settings go to the call that made the {kind} ready; received "
                                f"{', '.join(settings)}.")
    return plugin


def cut(photo: ImageLike, method: str | plugins.Ready = DEFAULT_METHOD, *, named: str | None = None,
        **settings: Any) -> list[Sticker]:
    """Cut objects out of ``photo`` with the cutter ``method`` (a name, or ``cutter(...)``);
    ``settings`` are the cutter's (e.g. box=(x, y, w, h), all=True). Errors in the cut start
    with ``named`` when given (the photo's file). Returns the stickers, best first."""
    ready = _ready("cutter", method, settings)
    image = _image(photo, "photo")
    with _named(named):
        return ready.plugin.cut(image, ready.settings)


def paste(background: ImageLike, stickers: Iterable[Sticker | Placement | tuple], *,
          finish: FinishLike = None) -> Composite:
    """Paste stickers on ``background``, in order: each a Sticker (centred), a Placement, a
    mapping of its fields, or (sticker, x, y[, size[, degrees]][, anchor]) read as the command
    line reads STICKER@X,Y[,SIZE[,DEG]][,ANCHOR] (x, y: pixels or "50%"; size: a scale or a
    height, "300px" or "40%"; see ``inputs.placements``). With ``finish`` (see ``finish``), the
    pasted objects are matched and shadowed too. Returns the Composite."""
    ready = _finish_settings(finish)
    placements = inputs.placements(stickers)
    comp = _paste(_image(background, "background"), placements)
    if ready is None or not ready.active:
        return comp
    image, _ = _finish(comp.image, comp, ready, background)
    return dataclasses.replace(comp, image=image)


FinishLike = dict | FinishSettings | None


def _finish_settings(value: FinishLike) -> FinishSettings | None:
    """The finishing stage's settings from a dict (``match``, ``shadow``, ``light``, ...) or as
    given; refused before any work."""
    value = inputs.finish_settings(value)
    return None if value is None else make_finish_settings(value)


def _finish(image: np.ndarray, composite: Composite, settings: FinishSettings,
            background: ImageLike | None = None) -> tuple[np.ndarray, dict]:
    tables = None
    if "jpeg" in settings.cues and isinstance(background, inputs.PATH_TYPES):
        from .finish.jpeg import file_tables

        tables = file_tables(background)
    return _run_finish(image, object_masks(composite.mask, composite.objects), settings, background_jpeg=tables)


def finish(image: ImageLike | Result | Composite, composite: Composite, *, background: ImageLike | None = None,
           **settings: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The finishing stage on ``image`` (a harmonized image, a Result, or the Composite itself) of ``composite``: each object
    matched to the photo around it (``match``: "blur,noise,jpeg", "all" or "none") and shadowed
    (``shadow``: "contact", "cast" with ``light=(azimuth, elevation)``, or "none";
    ``shadow_opacity``, ``shadow_softness``, ``seed``). ``background``: the background file, whose
    JPEG tables give the quality. Returns (image, record of what each step estimated)."""
    ready = make_finish_settings(settings)
    composite = inputs.composite(composite)
    pixels = image.image if isinstance(image, (Result, Composite)) else _image(image)
    if pixels.shape != composite.image.shape:
        raise inputs.InputError(f"image: is {pixels.shape[1]}x{pixels.shape[0]} but the composite is "
                                f"{composite.image.shape[1]}x{composite.image.shape[0]}; they must be the same size.")
    return _finish(pixels, composite, ready, background)


def load_composite(image: ImageLike, mask: str | os.PathLike | np.ndarray, objects: str | os.PathLike = "union") -> Composite:
    """A Composite from an image and a mask (nonzero = object; a path, PIL image or array,
    normalised to 0..1 as ``inputs.mask`` says), checked for size and content.

    ``objects`` says what the harmonizer corrects one by one: ``union`` (the whole mask as one
    object), ``components`` (each connected part of the mask), a paste record (the JSON sidecar
    ``paste`` writes; its object boxes split the mask, later objects on top), or ``auto`` (the
    paste record beside ``image`` when there is one, else ``union``). A record whose boxes do not
    match the mask is refused."""
    img = _image(image)
    path = inputs.label_of(image, "")
    m = inputs.mask(mask, img.shape[:2], against=f"the image {path}" if path else "the image", image_path=path or None,
                    require_object=True)
    return Composite(image=img, mask=m, objects=_objects(objects, m, image))


def paste_record_beside(image: ImageLike) -> str | None:
    """The paste record (JSON sidecar with object boxes) beside the image file, if there is one."""
    beside = _record_beside(image)
    return beside[0] if beside else None


def _record_beside(image: ImageLike) -> tuple[str, dict] | None:
    """(path, parsed record) of the paste record beside the image file, read once; None without one."""
    import json
    from pathlib import Path

    if not isinstance(image, inputs.PATH_TYPES):
        return None
    sidecar = Path(image).with_suffix(".json")
    try:
        record = json.loads(sidecar.read_text())
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return None
    entries = record.get("objects") if isinstance(record, dict) else None
    if isinstance(entries, list) and entries and all(isinstance(e, dict) and "box" in e for e in entries):
        return str(sidecar), record
    return None


def _objects(how: str | os.PathLike, mask: np.ndarray, image: ImageLike) -> tuple:
    """``load_composite``'s objects (see there)."""
    import json
    from pathlib import Path

    from .errors import UsageError
    from .harmonizers.objects import split_by_boxes, split_components

    found, record = how == "auto", None
    if found:
        how, record = _record_beside(image) or ("union", None)
    if how == "union":
        return ()
    if how == "components":
        return split_components(mask)
    path = Path(how)
    try:
        record = json.loads(path.read_text()) if record is None else record
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the paste record ({exc.strerror or exc}); objects must be union, "
                         "components or a paste record.") from None
    except ValueError:
        raise UsageError(f"{path}: not a paste record (not JSON).") from None
    except RecursionError:
        raise UsageError(f"{path}: not a paste record (JSON nested too deeply to read).") from None
    entries = record.get("objects") if isinstance(record, dict) else None
    try:
        boxes = [tuple(int(v) for v in e["box"]) for e in entries]
        if any(len(b) != 4 for b in boxes):
            raise ValueError
    except (TypeError, KeyError, ValueError):
        raise UsageError(f"{path}: not a paste record (it needs an objects list, each with a box [x, y, w, h]).") from None
    try:
        return split_by_boxes(mask, boxes, [str(e.get("label", f"object {k + 1}")) for k, e in enumerate(entries)])
    except ValueError as exc:
        beside = " (found beside the composite)" if found else ""
        raise UsageError(f"{path}: the paste record{beside} does not match the mask ({exc}); use objects union "
                         "or components, or the record of this composite.") from None


def harmonize(composite: Composite, backend: str = DEFAULT_BACKEND, *, progress: Progress | None = None,
              finish: FinishLike = None, **settings: Any) -> Result:
    """Harmonize a composite with the named backend; ``settings`` are the backend's; ``progress``
    receives the backend's progress reports; ``finish`` (a dict of the finishing stage's
    settings, see ``finish``) runs the stage after the backend, its record in the Result's
    stats["finish"]. ``backend`` is a name or ``harmonizer(...)``. Returns the Result."""
    composite = inputs.composite(composite)
    progress = inputs.progress(progress)
    ready = _ready("harmonizer", backend, settings)
    ready_finish = _finish_settings(finish)
    result = ready.plugin.harmonize(composite, ready.settings, progress)
    return _finished(result, composite, ready_finish)


def finish_result(result: Result, composite: Composite, finish: FinishLike,
                  background: ImageLike | None = None) -> Result:
    """``result`` after the finishing stage (``finish``: its settings, see ``finish``), the
    stage's record in stats["finish"]; ``result`` itself when there is nothing to do."""
    return _finished(result, composite, _finish_settings(finish), background)


def _finished(result: Result, composite: Composite, settings: FinishSettings | None,
              background: ImageLike | None = None) -> Result:
    if settings is None or not settings.active:
        return result
    image, record = _finish(result.image, composite, settings, background)
    return dataclasses.replace(result, image=image, stats={**result.stats, "finish": record})


@contextlib.contextmanager
def _named(what):
    """Errors raised inside name ``what`` (a file, or a description) first, when they do
    not already: a compose step's failure says which input it was about."""
    try:
        yield
    except CompositorError as exc:
        label = what if isinstance(what, str) else inputs.label_of(what, "") or None
        if label is None or str(exc).startswith(label):
            raise
        try:
            named = type(exc)(f"{label}: {exc}")
        except TypeError:  # an error type with another signature
            named = CompositorError(f"{label}: {exc}")
        raise named from exc


def compose(photo: ImageLike, background: ImageLike, *, method: str | plugins.Ready = DEFAULT_METHOD, cut_settings: dict | None = None,
            x: float | str | None = None, y: float | str | None = None, scale: float = 1.0, rotation: float = 0.0,
            anchor: str = "centre", height: float | str | None = None, backend: str | plugins.Ready = DEFAULT_BACKEND, harmonize_settings: dict | None = None,
            progress: Progress | None = None, finish: FinishLike = None,
            background_file: str | os.PathLike | None = None) -> tuple[Sticker, Composite, Result, dict[str, Any]]:
    """Cut the best object from ``photo``, paste it on ``background`` with its ``anchor`` at (x, y)
    (default: the centre; pixels or "N%"), sized by ``scale`` or ``height`` and rotated by
    ``rotation`` (as ``paste.Placement``), harmonize with ``backend``. Returns (sticker, composite,
    result, record), the record a JSON-ready dict of the inputs, steps, settings and timings.
    ``finish`` runs the finishing stage after harmonizing (see ``finish``). ``method`` and
    ``backend`` are names (with ``cut_settings``, ``harmonize_settings``) or ready plugins
    (``cutter(...)``, ``harmonizer(...)``), as ``cut`` and ``harmonize`` take them.
    ``background_file``: the file ``background``'s pixels were read from, when they are given as
    pixels; its JPEG tables give the jpeg step's quality, as the file itself would."""
    ready_finish = _finish_settings(finish)
    background_file = inputs.file_path(background_file, "background_file")  # a typo is not a silent fallback
    cut_settings = inputs.settings_dict(cut_settings, "cut_settings")
    harmonize_settings = inputs.settings_dict(harmonize_settings, "harmonize_settings")
    ready_cut = _ready("cutter", method, cut_settings)  # both refused as themselves, first
    ready_harmonize = _ready("harmonizer", backend, harmonize_settings)
    photo_name = inputs.label_of(photo, "")
    where = inputs.placements([{"sticker": np.full((1, 1, 4), 255, np.uint8), "x": x, "y": y, "scale": scale,
                                "rotation": rotation, "anchor": anchor, "height": height,
                                "name": photo_name or "photo"}])[0]  # the numbers, checked now
    progress = inputs.progress(progress)
    photo_pixels, background_pixels = _image(photo, "photo"), _image(background, "background")
    t0 = time.perf_counter()
    with _named(photo):
        sticker = cut(photo_pixels, ready_cut)[0]
    t_cut = time.perf_counter() - t0
    comp = _paste(background_pixels, [dataclasses.replace(where, sticker=sticker, name=photo_name)])
    t_paste = time.perf_counter() - t0 - t_cut
    both = inputs.label_of(photo, ""), inputs.label_of(background, "")
    with _named(f"{both[0]} pasted on {both[1]}" if all(both) else None):
        result = harmonize(comp, ready_harmonize, progress=progress)
        result = _finished(result, comp, ready_finish, background if background_file is None else background_file)
    record = {
        "inputs": {name: file_record(v) for name, v in (("photo", photo), ("background", background))
                   if isinstance(v, inputs.PATH_TYPES)},
        "cut": {"method": ready_cut.name, "settings": dataclasses.asdict(ready_cut.settings), **sticker_record(sticker),
                "seconds": round(t_cut, 3)},
        "paste": {"x": x, "y": y, "scale": scale, "rotation": rotation, "anchor": anchor, "height": height,
                  "center": list(comp.objects[0].center), "scale_used": comp.objects[0].scale,
                  "box": list(comp.objects[0].box),
                  "size": [comp.image.shape[1], comp.image.shape[0]], "seconds": round(t_paste, 3)},
        "harmonize": result_record(result),
        "seed": result.params.get("seed"),
        "seconds": round(time.perf_counter() - t0, 3),
        "versions": versions(),
    }
    return sticker, comp, result, record


__all__ = ["cutter", "harmonizer", "cut", "paste", "harmonize", "finish", "compose", "load_composite",
           "read_sticker", "Placement"]
