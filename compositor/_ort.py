"""onnxruntime session options shared by every model the project runs in onnxruntime.

Batch and synth workers (and ``--threads``) call ``set_threads``; each session made
afterwards uses that many intra-op threads, and idle threads sleep instead of spinning,
so that parallel workers do not steal each other's cores.
"""
from __future__ import annotations

_THREADS: int | None = None


def set_threads(count: int | None) -> int | None:
    """Sessions made from now on use ``count`` intra-op threads (None: onnxruntime's default,
    one per core); returns the setting it replaces."""
    global _THREADS
    previous, _THREADS = _THREADS, count
    return previous


def threads() -> str:
    """The thread setting sessions are built with now ("" when unset); part of a session cache's key."""
    return "" if _THREADS is None else str(_THREADS)


def session_options():
    """``onnxruntime.SessionOptions`` for the current thread setting, quiet below errors."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if _THREADS is not None and _THREADS > 0:
        options.intra_op_num_threads = _THREADS
        options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
