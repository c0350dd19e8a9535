"""Importing TensorFlow without its C++ start-up chatter on stderr, with the thread count
a worker set (``set_threads``).

TensorFlow's native libraries log through Abseil before Abseil's logging is initialised,
which ``TF_CPP_MIN_LOG_LEVEL`` cannot silence: every import prints "All log messages
before absl::InitializeLog() is called are written to STDERR" and "Could not find cuda
drivers" twice. A command's stderr is for its own progress and its one-sentence errors,
so the import runs with file descriptor 2 pointed at a temporary file; what was written
there is shown only if the import fails (not when Ctrl-C stops it). The redirection is process-wide, so another
thread's stderr output during the import (a second or two) is held back with it.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading

_LOCK = threading.Lock()
_THREADS: int | None = None


def set_threads(count: int | None) -> int | None:
    """TensorFlow's intra-op pool gets ``count`` threads (and its inter-op pool one; None:
    TensorFlow's defaults): applied by ``quiet_import``, or now when TensorFlow is imported
    already. Once TensorFlow has started running it keeps its pools. Returns the setting it
    replaces."""
    global _THREADS
    previous, _THREADS = _THREADS, count
    if "tensorflow" in sys.modules:
        _apply_threads()
    return previous


def _apply_threads() -> None:
    """Give imported TensorFlow the thread count set, if any, while it can still take it."""
    if _THREADS is None:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime has started: its pools are fixed for this process
        pass


def quiet_import() -> None:
    """Import tensorflow (once per process) with its native start-up logging held back, and
    give it the thread count set with ``set_threads``."""
    if "tensorflow" in sys.modules:
        return
    _import()
    _apply_threads()


def _import() -> None:
    """Import tensorflow with file descriptor 2 held in a temporary file (see above)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _LOCK:
        if "tensorflow" in sys.modules:
            return
        if sys.stderr is None:  # no stderr at all (started with 2>&-): nothing to keep clean
            import tensorflow  # noqa: F401
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # stderr closed underneath Python
            import tensorflow  # noqa: F401
            return
        try:
            with tempfile.TemporaryFile() as held:
                os.dup2(held.fileno(), 2)
                try:
                    import tensorflow  # noqa: F401
                except Exception:  # shown when the import fails, not when it is interrupted (Ctrl-C)
                    os.dup2(saved, 2)
                    held.seek(0)
                    if sys.stderr is not None:
                        sys.stderr.write(held.read().decode("utf-8", "replace"))
                    raise
                finally:
                    os.dup2(saved, 2)
        finally:
            os.close(saved)
