"""Where a run's jobs execute: in this process, in local worker processes, or on a Ray
cluster, all behind one interface (``base``); ``make_executor`` picks one from the
command's options. Each worker caps its libraries' threads with the count it is given
(``threads``)."""
from __future__ import annotations

import contextlib

from .base import (EXECUTORS, MAX_PARALLEL, Executor, Outcome, check_executor, check_threads, describe_error,
                   describe_executor)
from .local import InlineExecutor, ProcessExecutor
from .ray import RayExecutor
from .threads import apply_threads, available_cores, restore_threads, threads_per_worker

__all__ = ["EXECUTORS", "MAX_PARALLEL", "Executor", "InlineExecutor", "Outcome", "ProcessExecutor", "RayExecutor",
           "apply_threads", "available_cores", "check_executor", "check_threads", "describe_error",
           "describe_executor", "make_executor", "restore_threads", "threads_per_worker"]


def make_executor(kind: str = "local", workers: int | None = 1, *, address: str | None = None,
                  limit: int | None = None, threads: int | None = None) -> Executor:
    """A new Executor: ``local`` with 1 worker runs in this process; more workers are spawned
    processes; ``ray`` runs on Ray actors (``workers`` None: one per CPU of the cluster).
    ``limit``: at most this many workers (no more than there are tasks). ``threads``:
    threads per worker (None: the cores shared out between the local workers, all of them
    for one; one per Ray worker)."""
    check_executor(kind, workers, address, threads)
    if kind == "ray":
        return RayExecutor(workers, address=address, limit=limit, threads=threads)
    workers = min(1 if workers is None else workers, max(1, limit or workers or 1))
    return InlineExecutor(threads) if workers == 1 else ProcessExecutor(workers, threads)


def _executor(executor: "str | Executor", workers: int | None, address: str | None, limit: int | None = None,
              threads: int | None = None):
    """A context manager giving an Executor: a new one made from the options (closed at the
    end), or the caller's own (left open)."""
    if isinstance(executor, Executor):
        return contextlib.nullcontext(executor)
    return make_executor(executor, workers, address=address, limit=limit, threads=threads)
