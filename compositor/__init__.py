"""compositor: cut objects out of photos, paste them onto backgrounds, harmonize the result.

    from compositor import cut, paste, harmonize, compose

Heavy libraries (TensorFlow) load only when a backend that needs them runs.
"""
from __future__ import annotations

# Imported eagerly (light: NumPy, Pillow, OpenCV). The harmonizer plugins live in the
# ``compositor.harmonizers`` subpackage, so nothing else claims the name ``harmonize``.
from .api import compose, cut, harmonize, load_composite, paste

__all__ = ["cut", "paste", "harmonize", "compose", "load_composite"]
