"""Haar cascade detections (faces, cat faces, ...), each widened to the head and cut by GrabCut."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import CompositorError, UsageError
from ..plugins import setting
from ..types import Box, Sticker
from .base import CutSettings, Cutter
from .boxes import pad_box, within
from .refine import grabcut
from .sticker import make_sticker

#: Short names for the cascades that ship with opencv-python 4.x (cv2.data.haarcascades).
CASCADES = {
    "face": "haarcascade_frontalface_default.xml",
    "catface": "haarcascade_frontalcatface_extended.xml",
    "profileface": "haarcascade_profileface.xml",
    "upperbody": "haarcascade_upperbody.xml",
    "fullbody": "haarcascade_fullbody.xml",
}


def builtin_cascade(name: str) -> Path | None:
    """The file of one of OpenCV's own cascades that ``name`` means (a short name, or a file
    name in OpenCV's cascade folder); None when it means none of them."""
    folder = Path(cv2.data.haarcascades)
    if not name or "/" in name or "\\" in name:
        return None
    for candidate in (folder / CASCADES.get(name, ""), folder / name, folder / f"haarcascade_{name}.xml"):
        if candidate.is_file():
            return candidate
    return None


def cascade_path(name: str) -> Path:
    """A short name, a file name in OpenCV's cascade folder, or a path to a cascade XML."""
    folder = Path(cv2.data.haarcascades)
    builtin = builtin_cascade(name)
    if builtin is not None:
        return builtin
    if Path(name).is_file():
        return Path(name)
    raise UsageError(f"unknown cascade {name!r}; use one of {', '.join(CASCADES)}, a file in {folder}, or a path to an XML file.")


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """The classifier for ``name`` (as :func:`cascade_path`), parsed once per process and
    file version (settings validation and detection both ask for it).

    A file that is not a cascade OpenCV can load (a PNG, text, other XML) is a UsageError
    naming the file, as an unknown cascade name is; one that cannot be read is a CompositorError.
    """
    path = cascade_path(name)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    classifier = _load_cascade_file(path)
    if key is not None:
        _LOADED[key] = classifier
    return classifier


#: parsed cascades by (file, mtime, size)
_LOADED: dict[tuple, cv2.CascadeClassifier] = {}


def _load_cascade_file(path: Path) -> cv2.CascadeClassifier:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise CompositorError(f"cannot read the cascade file {path} ({exc.strerror or exc}).") from None
    not_cascade = UsageError(f"{path}: not an OpenCV cascade XML file; use one of {', '.join(CASCADES)} "
                             f"or a path to a Haar or LBP cascade XML.")
    classifier = cv2.CascadeClassifier()
    try:
        loaded = classifier.load(str(path))
    except cv2.error as exc:  # OpenCV's parser raises for a file that is not its XML/YAML storage
        raise not_cascade from exc
    if not loaded or classifier.empty():
        raise not_cascade
    return classifier


@dataclass(frozen=True, kw_only=True)
class CascadeSettings(CutSettings):
    """The shared cutter settings, plus which cascade to detect with and how."""

    cascade: str = setting("face", f"Haar cascade: {', '.join(CASCADES)}, or a path to a cascade XML",
                           path=lambda value: builtin_cascade(value) is None, selects=True)
    min_neighbors: int = setting(5, "detections a face needs around it to count (higher: fewer false ones)",
                                 bounds=(0, 100))
    head: bool = setting(True, "widen the detection to the whole head before cutting (off: cut the detected box)")

    def validate(self) -> None:
        """The box, and a cascade that loads (a built-in name or a readable cascade XML)."""
        super().validate()
        load_cascade(self.cascade)


def detect(image: np.ndarray, cascade: str, min_neighbors: int = 5) -> list[tuple[tuple[int, int, int, int], float]]:
    """(box, score) of each detection, best first; the score is the cascade's level weight."""
    classifier = load_cascade(cascade)
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    side = min(gray.shape)
    boxes, _, weights = classifier.detectMultiScale3(
        gray, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=(max(16, side // 20),) * 2, outputRejectLevels=True)
    found = [(tuple(int(v) for v in b), float(w)) for b, w in zip(boxes, np.ravel(weights))]
    return sorted(found, key=lambda r: -r[1])


class CascadeCutter(Cutter):
    """Haar cascade detections (a face by default), widened to the head and refined by GrabCut."""

    name = "cascade"
    Settings = CascadeSettings

    def run(self, image: np.ndarray, settings: CascadeSettings, box: Box | None) -> list[Sticker]:
        region, x0, y0 = within(image, box)
        found = detect(region, settings.cascade, settings.min_neighbors)
        if not found:
            raise CompositorError(f"the {settings.cascade} cascade found nothing; try --box or another --method.")
        label = Path(settings.cascade).stem.replace("haarcascade_", "")
        stickers = []
        for (x, y, w, h), score in found if settings.all else found[:1]:
            det = (x + x0, y + y0, w, h)
            if settings.head:  # a face box covers brows to mouth; the head reaches past it on every side
                rect = pad_box(det, image.shape, 0.3)
                hint = np.zeros(image.shape[:2], bool)
                hint[det[1]:det[1] + h, det[0]:det[0] + w] = True
                mask = grabcut(image, rect, hint=hint, iterations=settings.iterations, method=self.name)
            else:
                mask = np.zeros(image.shape[:2], bool)
                mask[det[1]:det[1] + h, det[0]:det[0] + w] = True
            stickers.append(make_sticker(image, mask, label=label, score=1.0 / (1.0 + np.exp(-score)),
                                         method=self.name, feather=settings.feather))
        return stickers
