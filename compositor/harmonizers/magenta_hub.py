"""Magenta arbitrary image stylization as a TF Hub SavedModel.

The ``hub`` source of the ``magenta`` harmonizer (see ``harmonizers.magenta``): the module
at a tfhub.dev URL or in a local SavedModel folder, called as ``module(content, style)``.
TensorFlow is imported only when a module is loaded.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time

import numpy as np

from ..errors import CompositorError
from ..ops.resize import resize, scaled_size
from .base import Progress

# modules, loaded once per process
_LOCK = threading.Lock()
_HUB_MODULES: dict[str, object] = {}


def hub_module(handle: str):
    """``tensorflow_hub.load(handle)``, once per process (may download if ``handle`` is a URL)."""
    with _LOCK:
        module = _HUB_MODULES.get(handle)
        if module is None:
            from .._tf import quiet_import

            quiet_import()
            import tensorflow_hub as hub

            try:
                module = hub.load(handle)
            except Exception as exc:  # network, file and TF errors come in many types
                raise CompositorError(f"cannot load the TF Hub model {handle} ({exc}); the offline model works "
                                      f"with --source onnx.") from None
            _HUB_MODULES[handle] = module
        return module


def is_url(handle: str) -> bool:
    """Whether a TF Hub ``handle`` is a web address (else a local SavedModel folder)."""
    return handle.startswith(("http://", "https://"))


def hub_cache_dir() -> str:
    """Where tensorflow_hub caches downloaded models: ``$TFHUB_CACHE_DIR`` (or its
    ``--tfhub_cache_dir`` flag), else ``<tmp>/tfhub_modules``. Uses the library's own
    resolver when it is already imported; otherwise the same rule without importing
    TensorFlow (the flag cannot be set before tensorflow_hub is imported)."""
    resolver = sys.modules.get("tensorflow_hub.resolver")
    if resolver is not None:
        return resolver.tfhub_cache_dir(use_temp=True)
    return os.getenv("TFHUB_CACHE_DIR", "") or os.path.join(tempfile.gettempdir(), "tfhub_modules")


def hub_module_dir(handle: str) -> str:
    """The folder tensorflow_hub caches a URL handle in (as in
    ``tensorflow_hub.compressed_module_resolver._module_dir``, without creating the cache)."""
    return os.path.join(hub_cache_dir(), hashlib.sha1(handle.encode("utf8")).hexdigest())


def _first_image(outputs) -> np.ndarray:
    """The stylized image from a hub module's outputs (a list whose first item is [1,H,W,3])."""
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    out = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    out = np.asarray(out, np.float32)
    if out.ndim == 4:
        out = out[0]
    if out.ndim != 3 or out.shape[2] != 3:
        raise CompositorError(f"the TF Hub model returned an image of shape {out.shape}, expected [1, H, W, 3].")
    return out


def stylize(crop: np.ndarray, style: np.ndarray, settings, timings: dict, progress: Progress):
    """The crop stylized by the TF Hub module at ``settings.handle`` (``settings.hub_size`` px on its
    long side; 0: full size): (input at the working size, stylized at the working size, both
    float32 0..255, and the working size (w, h))."""
    t = time.perf_counter()
    module = hub_module(settings.handle)
    import tensorflow as tf

    timings["seconds_load"] = time.perf_counter() - t
    progress.update(1, 3)
    rh, rw = crop.shape[:2]
    work = (rw, rh) if settings.hub_size == 0 else scaled_size(rw, rh, settings.hub_size)
    small = resize(crop, work)
    content = np.clip(small / 255.0, 0.0, 1.0).astype(np.float32)[None]
    t = time.perf_counter()
    try:
        outputs = module(tf.constant(content), tf.constant(style[None]))
    except Exception as exc:  # a SavedModel with another signature fails in TF's own types
        raise CompositorError(f"the TF Hub model {settings.handle} cannot be called as "
                              f"module(content [1,H,W,3], style [1,256,256,3]) ({exc}).") from None
    stylized = _first_image(outputs)
    timings["seconds_transform"] = time.perf_counter() - t
    progress.update(2, 3)
    if stylized.shape[:2] != small.shape[:2]:
        stylized = resize(stylized, work)
    return small, np.clip(stylized, 0.0, 1.0) * 255.0, work
