"""A worker's share of the cores, and capping a process's thread pools at it.

N workers on one machine would oversubscribe the cores if each math library started a
thread per core, so each worker gets a thread count (by default the cores shared out
between the workers) and sets every library it uses through the library's own API.
"""
from __future__ import annotations

import os

# Native libraries loaded after the cap is set (an OpenMP runtime, the OpenBLAS bundled
# with SciPy, loaded on first use) read their thread count from these when they load;
# threadpoolctl reaches only the pools loaded already. TensorFlow reads the TF_ ones when its
# runtime starts: they cover a plugin that imports it directly, not through _tf.quiet_import
# (TF_NUM_INTEROP_THREADS is set to 1, as _tf does). That is all the environment is used for.
_LOAD_TIME_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
_ONE_THREAD_ENV = ("TF_NUM_INTEROP_THREADS",)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Cores shared out between ``workers`` processes (at least one thread each)."""
    return max(1, (cores or available_cores()) // max(1, workers))


def apply_threads(threads: int) -> dict:
    """Cap this process's thread pools at ``threads``: OpenCV's now (``cv2.setNumThreads``),
    the BLAS and OpenMP pools loaded now (threadpoolctl), onnxruntime sessions made from now
    on (``_ort.set_threads``) and TensorFlow's intra-op pool (``_tf.set_threads``: when it is
    imported through ``_tf.quiet_import``, or now if it is imported and not yet running; a
    direct import reads the TF_ environment variables set here). Returns what ``restore_threads``
    takes to undo it."""
    from threadpoolctl import threadpool_limits

    from ... import _ort, _tf

    saved = {"env": {k: os.environ.get(k) for k in _LOAD_TIME_ENV + _ONE_THREAD_ENV}, "cv2": None,
             "ort": _ort.set_threads(threads), "tf": _tf.set_threads(threads),
             "pools": threadpool_limits(limits=threads)}
    os.environ.update({k: str(threads) for k in _LOAD_TIME_ENV})
    os.environ.update({k: "1" for k in _ONE_THREAD_ENV})
    try:
        import cv2

        saved["cv2"] = cv2.getNumThreads()
        cv2.setNumThreads(threads)
    except ImportError:
        pass
    return saved


def restore_threads(saved: dict) -> None:
    """Undo ``apply_threads`` (``saved`` is what it returned). TensorFlow keeps the pool it
    started with, if it started meanwhile."""
    from ... import _ort, _tf

    for key, value in saved["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _ort.set_threads(saved["ort"])
    _tf.set_threads(saved["tf"])
    saved["pools"].restore_original_limits()
    if saved["cv2"] is not None:
        import cv2

        cv2.setNumThreads(saved["cv2"])
