"""The VGG19 harmonizer: three modes, one module each.

- ``fit`` (the default; ``harmonize`` is its older name, still accepted): a global colour
  and tone correction of the object fitted to the VGG19 statistics of the background
  around it (``vgg19.fit``).
- ``learned``: a colour correction predicted by the head the project trained
  (``vgg19.learned``; no TensorFlow).
- ``seed``: the seeds' neural style transfer, content = style = the composite
  (``vgg19.seed``).

Their settings, layers and defaults are in ``vgg19.settings``; this module holds the
plugin, which loads a mode's network and hands the composite to it.
"""
from __future__ import annotations

from ...plugins import ready_settings
from ...types import Composite
from ..base import Harmonizer, Output, Progress
from . import fit, learned, seed
from .settings import (ALIASES, COLOUR_LAYERS, CONTENT_LAYERS, DEFAULT_LR, FIT_LR, MODES, STYLE_LAYERS,
                       VGGSettings)

__all__ = ["ALIASES", "COLOUR_LAYERS", "CONTENT_LAYERS", "DEFAULT_LR", "FIT_LR", "MODES", "STYLE_LAYERS",
           "VGG19Harmonizer", "VGGSettings"]

#: each mode's module, by the mode's name (``VGGSettings.kind``: older names resolved)
RUNS = {"fit": fit.run, "learned": learned.run, "seed": seed.run}


class VGG19Harmonizer(Harmonizer):
    """VGG19 harmonization in the mode its settings name (see the module docstring)."""

    name = "vgg19"
    Settings = VGGSettings
    needs_region = False  # the learned and fit modes check the object region; style transfer needs none

    def corrects_objects(self, settings: VGGSettings) -> bool:
        """fit and learned correct each object; seed mode repaints the whole image once."""
        return settings.kind != "seed"

    def load(self, settings: VGGSettings | None = None) -> None:
        """Load the network these settings use now (weights read, model built), so that
        the first ``harmonize`` call does not; batch workers call this once at start."""
        from ...nst import network

        settings = ready_settings(VGGSettings, settings, self.name)
        if settings.kind == "learned":
            learned.parts(settings)
            return
        weights_name = network.resolve_weights(settings.network, settings.weights)
        layers = settings.colour_layers if settings.kind == "fit" else \
            tuple(dict.fromkeys(settings.content_layers + settings.style_layers))
        network.extractor(settings.network, weights_name, layers, settings.pooling)

    def run(self, composite: Composite, settings: VGGSettings, progress: Progress, region) -> Output:
        if settings.kind != "learned":  # the TensorFlow modes start from the settings' seed
            from ...nst import optimize  # noqa: F401  (imports TensorFlow quietly first)

            import tensorflow as tf

            tf.random.set_seed(settings.seed)
        return RUNS[settings.kind](composite, settings, progress)
