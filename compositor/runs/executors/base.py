"""The executor interface, the option checks, and how a task's outcome comes back.

Every executor gives the same small interface, built around long-lived workers that each
keep their own caches (loaded models, cut stickers, decoded backgrounds):

``setup(fn, arg)``
    Run ``fn(arg)`` once on every worker, now and on any worker started later (a
    replacement for one that died). Used to hand each worker a run's shared context
    once instead of with every task.
``run(fn, items, context=None)``
    Run ``fn(item)`` for each item, or ``fn(context, item)`` with a ``context`` (a run's
    typed, frozen context: its folder, settings, tables), which each worker is given once
    per run, not with every item; yields ``(index, Outcome)`` in completion order. A
    worker runs one task at a time, so when a worker dies the task it was running is
    known: that one task is reported as failed, a new worker (given the context too)
    takes the dead one's place, and the rest go on.
``close()``
    Stop the workers.
"""
from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ...errors import CompositorError, UsageError, from_os_error

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Outcome:
    """What came back for one task: ``value`` when ``ok``, else ``error`` (one sentence)
    and, for unexpected exceptions, ``detail`` (the traceback)."""

    ok: bool
    value: Any = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0


#: most workers or threads per worker asked for (a thread count goes to C libraries as an int)
MAX_PARALLEL = 1024


def check_threads(threads: int | None) -> None:
    """Refuse (UsageError) a thread count that is not None or a whole number 1..MAX_PARALLEL."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise UsageError(f"threads must be 1 or more; received {threads!r}.")
    if threads is not None and threads > MAX_PARALLEL:
        raise UsageError(f"threads must be at most {MAX_PARALLEL}; received {threads}.")


def check_executor(kind, workers: int | None, address: str | None = None, threads: int | None = None) -> None:
    """The executor options, checked without starting anything (so a run can refuse
    them before it creates its output folder). ``kind`` is an executor's name, or an
    Executor the caller made (then only ``threads`` is checked)."""
    if not isinstance(kind, str):
        check_threads(threads)
        return
    if kind not in EXECUTORS:
        raise UsageError(f"executor must be one of {', '.join(EXECUTORS)}; received {kind!r}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be 1 or more; received {workers!r}.")
    if workers is not None and workers > MAX_PARALLEL:
        raise UsageError(f"workers must be at most {MAX_PARALLEL}; received {workers}.")
    if address and kind != "ray":
        raise UsageError("--ray-address goes with --executor ray.")
    check_threads(threads)


def describe_error(exc: BaseException) -> Outcome:
    """A failed Outcome: our own errors are one sentence; anything else keeps its traceback."""
    if isinstance(exc, CompositorError):
        return Outcome(False, error=str(exc))
    known = from_os_error(exc)  # a path the OS refuses, a full disk: one sentence too
    if known is not None:
        return Outcome(False, error=str(known))
    detail = "".join(traceback.format_exception(exc))[-4000:]
    return Outcome(False, error=f"{type(exc).__name__}: {exc}", detail=detail)


def _call(fn: Callable, arg: Any, context: Any = None) -> Outcome:
    """``fn(arg)`` (``fn(context, arg)`` with a ``context``) as an Outcome: its value, or its
    error (never raised, but for Ctrl-C)."""
    t0 = time.perf_counter()
    try:
        value = fn(arg) if context is None else fn(context, arg)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a task's failure is its own; it never stops the batch
        return dataclasses.replace(describe_error(exc), seconds=time.perf_counter() - t0)
    return Outcome(True, value, seconds=time.perf_counter() - t0)


class Executor:
    """The interface; see the module's docstring."""

    workers: int = 1

    def setup(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """Run ``fn(arg)`` on every worker, now and on any started later."""
        raise NotImplementedError

    def run(self, fn: Callable[..., Any], items: Iterable[Any], context: Any = None) -> Iterator[tuple[int, Outcome]]:
        """Run ``fn(item)`` (``fn(context, item)`` with a ``context``) per item; yields
        (index, Outcome) as tasks finish."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers."""
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe_executor(executor: "str | Executor", workers: int | None, threads: int | None) -> dict:
    """The executor, workers and threads of a run, as its ``run.json`` records them
    (``executor`` is an executor's name or the caller's own Executor)."""
    if isinstance(executor, str):
        return {"executor": executor, "workers": workers, "threads": threads}
    return {"executor": type(executor).__name__, "workers": executor.workers,
            "threads": getattr(executor, "threads", None)}
