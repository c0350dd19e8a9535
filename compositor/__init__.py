"""compositor: cut objects out of photos, paste them onto backgrounds, harmonize the result.

    from compositor import cut, paste, harmonize, compose

Heavy libraries (TensorFlow) load only when a backend that needs them runs.
"""
from __future__ import annotations

__all__ = ["cut", "paste", "harmonize", "compose", "load_composite"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'compositor' has no attribute {name!r}")
