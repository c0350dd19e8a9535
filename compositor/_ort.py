"""onnxruntime session options shared by every model the project runs in onnxruntime.

Batch and synth workers (and ``--threads``) set ``COMPOSITOR_THREADS``; each session
then uses that many intra-op threads, and idle threads sleep instead of spinning, so
that parallel workers do not steal each other's cores.
"""
from __future__ import annotations

import os


def threads() -> str:
    """The thread setting sessions are built with now ("" when unset); part of a session cache's key."""
    return os.environ.get("COMPOSITOR_THREADS", "")


def session_options():
    """``onnxruntime.SessionOptions`` for the current thread setting, quiet below errors."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    count = threads()
    if count.isdigit() and int(count) > 0:
        options.intra_op_num_threads = int(count)
        options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
