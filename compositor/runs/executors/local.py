"""Executors on this machine: inline (in this process) and local worker processes.

Local workers are started with the ``spawn`` method (TensorFlow is not fork-safe, and a
forked child would also inherit the run's lock); each gets its thread count as an
argument and caps its libraries with it (``threads.apply_threads``) so that N workers do
not oversubscribe the cores: by default the cores shared out between the workers, so a
single worker (which runs in this process) uses them all. With ``threads=1`` a worker is
one core's worth of work, and throughput grows with the number of workers up to the
number of cores. When a worker process dies (a segfault, the kernel's OOM killer) its task
is reported as failed and a new worker takes its place. On Linux a worker is killed when
its parent dies (``PR_SET_PDEATHSIG``), so a run killed with SIGKILL leaves no orphan
still writing files.
"""
from __future__ import annotations

import os
import signal
import sys
from collections import deque
from typing import Any, Callable

from ...errors import CompositorError, UsageError
from .base import Executor, Outcome, _call, check_threads, describe_error
from .threads import apply_threads, restore_threads, threads_per_worker


class InlineExecutor(Executor):
    """Runs everything in this process, one task after another (``--workers 1``).
    ``threads`` None leaves the libraries their defaults (all cores); a number caps them
    while the executor is open."""

    workers = 1

    def __init__(self, threads: int | None = None):
        check_threads(threads)
        self.threads = threads
        self._saved = apply_threads(threads) if threads else None

    def setup(self, fn, arg) -> None:
        fn(arg)

    def close(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None:
            restore_threads(saved)

    def run(self, fn, items, context=None):
        for i, item in enumerate(items):
            yield i, _call(fn, item, context)



def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this process when the parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn, parent: int, threads: int, setups: list) -> None:
    """A local worker: runs setups, then tasks one at a time until told to stop."""
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and so is SIGTERM sent to the whole group
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # and SIGHUP, when the terminal closes
    apply_threads(threads)
    try:
        for fn, arg in setups:
            fn(arg)
    except BaseException as exc:
        conn.send(("setup_error", describe_error(exc)))
        return
    conn.send(("ready", os.getpid()))
    context = None  # the current run's, sent once per run
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "stop":
            return
        if kind == "setup":
            _, fn, arg = message
            outcome = _call(fn, arg)
            conn.send(("setup_done", outcome))
        elif kind == "context":
            context = message[1]
        elif kind == "call":
            _, fn, arg = message
            conn.send(("result", _call(fn, arg, context)))


def _exit_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in words, from its exit code."""
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"it was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"it exited with code {exitcode}"


class _Worker:
    """One spawned worker process and the pipe to it; started with ``threads`` and the setups so far."""

    def __init__(self, ctx, threads: int, setups: list):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid(), threads, list(setups)),
                                   daemon=True, name="compositor-worker")
        self.process.start()
        child.close()
        self.pid: int | None = None

    def wait_ready(self) -> None:
        """Wait for the worker's first message; raises CompositorError when it failed to start or set up."""
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            raise CompositorError(
                f"a worker process failed to start: {_exit_reason(self.process.exitcode)}. Workers are spawned and "
                "re-import the main script: in a script, start the run under `if __name__ == \"__main__\":`.") from None
        if message[0] == "setup_error":
            outcome: Outcome = message[1]
            raise CompositorError(f"a worker process failed to set up: {outcome.error}"
                                  + (f"\n{outcome.detail}" if outcome.detail else ""))
        self.pid = message[1]

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to stop, kill it after ``timeout`` seconds, and close the pipe."""
        try:
            self.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


class ProcessExecutor(Executor):
    """``workers`` spawned processes, each with ``threads`` math-library threads."""

    def __init__(self, workers: int, threads: int | None = None):
        import multiprocessing

        if workers < 1:
            raise UsageError(f"workers must be 1 or more; received {workers}.")
        check_threads(threads)
        self.workers = workers
        self.threads = threads or threads_per_worker(workers)
        self._ctx = multiprocessing.get_context("spawn")
        self._setups: list[tuple[Callable, Any]] = []
        self._pool: list[_Worker] = []
        self._start(workers)

    def _start(self, n: int) -> list[_Worker]:
        """Start ``n`` workers with the setups so far and wait for them; returns them."""
        started = [_Worker(self._ctx, self.threads, self._setups) for _ in range(n)]
        try:
            for w in started:
                w.wait_ready()
        except BaseException:
            for w in started:
                w.stop(1)
            raise
        self._pool += started
        return started

    def setup(self, fn, arg) -> None:
        for w in self._pool:
            w.conn.send(("setup", fn, arg))
        for w in self._pool:
            try:
                kind, outcome = w.conn.recv()
            except (EOFError, OSError):  # killed while setting up (out of memory, a crash in a library)
                w.process.join(5)
                raise CompositorError(f"worker {w.pid} died while setting up: "
                                      f"{_exit_reason(w.process.exitcode)}.") from None
            if not outcome.ok:
                raise CompositorError(f"setting up worker {w.pid} failed: {outcome.error}")
        self._setups.append((fn, arg))

    def run(self, fn, items, context=None):
        from multiprocessing.connection import wait

        pending = deque(enumerate(items))
        for w in self._pool:  # before any call on the same pipe
            w.conn.send(("context", context))
        idle = list(self._pool)
        busy: dict[_Worker, int] = {}
        while pending or busy:
            while idle and pending:
                w = idle.pop()
                index, item = pending.popleft()
                w.conn.send(("call", fn, item))
                busy[w] = index
            handles = {}
            for w in busy:
                handles[w.conn] = w
                handles[w.process.sentinel] = w
            ready = wait(list(handles))
            for w in {handles[h] for h in ready}:
                if w not in busy:
                    continue
                index = busy.pop(w)
                message = None
                try:
                    if w.conn.poll():
                        message = w.conn.recv()
                except (EOFError, OSError):
                    message = None
                if message is not None and message[0] == "result":
                    idle.append(w)
                    yield index, message[1]
                    continue
                # the worker died while running this task: report it, replace the worker
                w.process.join(5)
                reason = _exit_reason(w.process.exitcode)
                self._pool.remove(w)
                w.stop(1)
                yield index, Outcome(False, error=f"the worker process running this job died: {reason}.")
                replacement = self._start(1)
                for r in replacement:
                    r.conn.send(("context", context))
                idle += replacement

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for w in pool:
            try:
                w.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        for w in pool:
            w.stop()
