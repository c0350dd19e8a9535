"""The cutter contract: ``CutSettings`` (the settings the GrabCut-based cutters share) and
the ``Cutter`` base class.

A cutter is a class with ``name``, a ``Settings`` dataclass and ``cut(image, settings) ->
list[Sticker]``; the built-in ones derive from ``Cutter``, which holds the shared opening.
Pixels in and out are RGB uint8. The pieces the cutters share live beside it: ``boxes``
(box geometry), ``spectral`` (spectral-residual saliency), ``refine`` (GrabCut) and
``sticker`` (stickers from masks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import CompositorError, UsageError
from ..plugins import ready_settings, setting
from ..types import Box, Sticker
from .boxes import check_box

#: The smallest photo side any cutter takes: an object needs background around it to be told from it.
MIN_PHOTO_SIDE = 3


@dataclass(frozen=True, kw_only=True)
class CutSettings:
    """The settings every GrabCut-based cutter shares (grabcut, saliency, contour, cascade)."""

    box: tuple[int, ...] | None = setting(None, "X,Y,W,H: where the object is; without it an automatic proposal is used")
    all: bool = setting(False, "return every object found, not just the best one")
    feather: float = setting(1.5, "soft alpha edge, in px at the photo's resolution", bounds=(0, 100))
    iterations: int = setting(5, "GrabCut iterations", bounds=(1, 50))
    min_area: float = setting(0.002, "smallest object kept, as a fraction of the image area", bounds=(0, 1))

    def validate(self) -> None:
        """The box is None or X,Y,W,H (the fields' own bounds are checked by ``check_fields``)."""
        check_box_setting(self.box)


def check_box_setting(box) -> None:
    """Refuse a ``box`` setting that is not None or four numbers (X,Y,W,H)."""
    if box is not None and len(box) != 4:
        raise UsageError(f"box must be X,Y,W,H (four numbers); received {','.join(map(str, box))}.")


class Cutter:
    """Base class of the built-in cutters.

    ``cut(image, settings=None) -> list[Sticker]`` builds the default settings when none
    are given and validates them, clips the settings' ``box`` to the image
    (``check_box``; None without a box) and returns ``run(image, settings, box)``.
    """

    name: ClassVar[str]
    #: The settings dataclass; the shared ``CutSettings`` unless the cutter has its own.
    Settings: ClassVar[type] = CutSettings

    def cut(self, image: np.ndarray, settings=None) -> list[Sticker]:
        """The stickers cut from ``image`` (RGB uint8), best first (see the class docstring)."""
        settings = ready_settings(self.Settings, settings, self.name)
        h, w = image.shape[:2]
        if min(h, w) < MIN_PHOTO_SIDE:
            raise CompositorError(f"the {self.name} cutter needs a photo at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE} px, "
                             f"room for an object and background around it; received a photo {w}x{h}.")
        box = check_box(getattr(settings, "box", None), image.shape)
        return self.run(image, settings, box)

    def run(self, image: np.ndarray, settings, box: Box | None) -> list[Sticker]:
        """The cutter's own work on ready settings and a clipped ``box`` (or None): the stickers."""
        raise NotImplementedError
