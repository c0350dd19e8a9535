"""A worker's share of the cores, and capping a process's thread pools at it.

N workers on one machine would oversubscribe the cores if each math library started a
thread per core, so each worker gets a thread count (by default the cores shared out
between the workers).
"""
from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Cores shared out between ``workers`` processes (at least one thread each)."""
    return max(1, (cores or available_cores()) // max(1, workers))


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap the math libraries' thread pools (read at import)."""
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": "1", "COMPOSITOR_THREADS": n}


def apply_threads(threads: int) -> dict:
    """Cap this process's math-library threads at ``threads``; returns what to pass to
    ``restore_threads`` to undo it. The environment variables reach libraries that are
    imported (or, like compositor's onnxruntime sessions, created) afterwards; OpenCV's
    pool is set now."""
    env = thread_env(threads)
    saved = {"env": {k: os.environ.get(k) for k in env}, "cv2": None}
    os.environ.update(env)
    try:
        import cv2

        saved["cv2"] = cv2.getNumThreads()
        cv2.setNumThreads(threads)
    except ImportError:
        pass
    return saved


def restore_threads(saved: dict) -> None:
    """Undo ``apply_threads`` (``saved`` is what it returned)."""
    for key, value in saved["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if saved["cv2"] is not None:
        import cv2

        cv2.setNumThreads(saved["cv2"])
