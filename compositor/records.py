"""The JSON records written beside outputs (sidecars) and into run folders.

Every front end (``api.compose``, the CLI commands, ``batch`` and ``synth``) builds its
records from these pieces, so a file, a sticker, a harmonizer's result or a placed
object is described the same way wherever it appears. Each function takes the object
and returns a JSON-ready dict (or str).
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
from functools import lru_cache
from typing import Any

import numpy as np

from .types import PlacedObject, Result, Sticker

#: The packages whose versions a record names (those installed).
PACKAGES = ("compositor", "numpy", "opencv-python", "pillow", "tensorflow", "keras", "scipy", "onnxruntime",
            "tensorflow-hub", "scikit-image")


@lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = [("python", platform.python_version())]
    for pkg in PACKAGES:
        try:
            out.append((pkg, version(pkg)))
        except PackageNotFoundError:
            continue
    return tuple(out)


def versions() -> dict[str, str]:
    """{package: version} for Python and the installed ``PACKAGES`` (looked up once per process)."""
    return dict(_versions())


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def file_record(path: str | os.PathLike, sha256: str | None = None) -> dict[str, str]:
    """{"path", "sha256"} of an input file; ``sha256`` when the caller has it already."""
    if sha256 is None:
        from .imageio import sha256_file

        sha256 = sha256_file(path)
    return {"path": str(path), "sha256": sha256}


def image_record(path: str, sha256: str, pixels: np.ndarray) -> dict[str, Any]:
    """{"path", "sha256", "width", "height"} of an image output."""
    return {"path": path, "sha256": sha256, "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}


def sticker_record(sticker: Sticker) -> dict[str, Any]:
    """A cut sticker: its label, cutter, box in the photo, score and size."""
    return {"label": sticker.label, "method": sticker.method, "source_box": list(sticker.source_box),
            "score": round(sticker.score, 4), "size": [sticker.rgba.shape[1], sticker.rgba.shape[0]]}


def result_record(result: Result) -> dict[str, Any]:
    """A harmonizer's result: backend, seconds, the settings it ran with, and its stats
    (less the loss history, which belongs to progress reports)."""
    stats = {k: v for k, v in result.stats.items() if k != "loss_history"}
    return {"backend": result.backend, "seconds": round(result.seconds, 3), "settings": result.params, "stats": stats}


def placed_record(obj: PlacedObject) -> dict[str, Any]:
    """An object as it landed on the canvas: label, centre, scale, rotation, box, visible pixels."""
    return {"label": obj.label, "center": list(obj.center), "scale": obj.scale, "rotation": obj.rotation,
            "box": list(obj.box), "visible_pixels": int((obj.mask >= 0.5).sum())}


def paste_record(background: dict, stickers: list[dict], objects, mask: str, finished: dict | None = None
                 ) -> dict[str, Any]:
    """The sidecar of a pasted composite (``compositor paste``'s, and the server's paste): the
    background's and each sticker's ``file_record``, each object as it landed (``placed_record``),
    the mask's path, and the finishing stage's record when it ran."""
    record = {"background": background,
              "objects": [{"sticker": sticker, **placed_record(o)} for sticker, o in zip(stickers, objects)],
              "mask": mask}
    if finished is not None:
        record["finish"] = finished
    return record


def worker_record() -> dict[str, Any]:
    """Who wrote a run's job record, and when: {"worker", "finished", "versions"}."""
    return {"worker": os.getpid(), "finished": now(), "versions": versions()}
