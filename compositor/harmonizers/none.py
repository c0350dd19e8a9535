"""``none``: the composite as it is, the baseline every harmonizer is compared with."""
from __future__ import annotations

from dataclasses import dataclass

from ..types import Composite
from .base import Harmonizer, Output, Progress


@dataclass(frozen=True, kw_only=True)
class NoneSettings:
    """The ``none`` backend has no settings."""


class NoneHarmonizer(Harmonizer):
    """The composite unchanged: the baseline every harmonizer is compared with."""

    name = "none"
    Settings = NoneSettings
    needs_region = False
    per_object = False  # nothing is corrected

    def run(self, composite: Composite, settings: NoneSettings, progress: Progress, region) -> Output:
        return Output(composite.image.copy(), {"changed_pixels": 0})
