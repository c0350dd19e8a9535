"""Where batch and synth work runs; the executors live in ``compositor.runs.executors``,
and these names stay importable from here."""
from __future__ import annotations

from .runs.executors import (EXECUTORS, MAX_PARALLEL, Executor, InlineExecutor, Outcome, ProcessExecutor,  # noqa: F401
                             RayExecutor, _executor, apply_threads, available_cores, check_executor, check_threads,
                             describe_error, describe_executor, make_executor, restore_threads, threads_per_worker)
