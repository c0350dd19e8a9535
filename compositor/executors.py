"""Where batch work runs: in this process, in local worker processes, or on a Ray cluster.

All three give the same small interface, built around long-lived workers that each
keep their own caches (loaded models, cut stickers, decoded backgrounds):

``setup(fn, arg)``
    Run ``fn(arg)`` once on every worker, now and on any worker started later (a
    replacement for one that died). Used to hand each worker a run's shared context
    once instead of with every task.
``run(fn, items)``
    Run ``fn(item)`` for each item; yields ``(index, Outcome)`` in completion order. A
    worker runs one task at a time, so when a worker process dies (a segfault, the
    kernel's OOM killer) the task it was running is known: that one task is reported
    as failed, a new worker takes the dead one's place, and the rest go on.
``close()``
    Stop the workers.

Local workers are started with the ``spawn`` method (TensorFlow is not fork-safe, and
a forked child would also inherit the run's lock), each with ``threads`` BLAS/OpenMP/
TensorFlow/OpenCV/onnxruntime threads so that N workers do not oversubscribe the cores:
by default the cores shared out between the workers, so a single worker (which runs in
this process) uses them all. With ``threads=1`` a worker is one core's worth of work,
and throughput grows with the number of workers up to the number of cores. On Linux a
worker is killed when its parent dies (``PR_SET_PDEATHSIG``), so a batch killed with
SIGKILL leaves no orphan still writing files.

Ray workers are actors (one CPU each by default), so each keeps its caches for the whole
run. They read inputs and write outputs by path: on a multi-node cluster the inputs and
OUTDIR must be on a file system every node mounts at the same path, and ``compositor``
must be installed on every node.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .errors import CompositorError, UsageError, from_os_error

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


def available_cores() -> int:
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
    for key, value in saved["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if saved["cv2"] is not None:
        import cv2

        cv2.setNumThreads(saved["cv2"])


#: most workers or threads per worker asked for (a thread count goes to C libraries as an int)
MAX_PARALLEL = 1024


def check_threads(threads: int | None) -> None:
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


def _call(fn: Callable, arg: Any) -> Outcome:
    import dataclasses
    import time

    t0 = time.perf_counter()
    try:
        value = fn(arg)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a task's failure is its own; it never stops the batch
        return dataclasses.replace(describe_error(exc), seconds=time.perf_counter() - t0)
    return Outcome(True, value, seconds=time.perf_counter() - t0)


class Executor:
    """The interface; see the module's docstring."""

    workers: int = 1

    def setup(self, fn: Callable[[Any], Any], arg: Any) -> None:
        raise NotImplementedError

    def run(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[int, Outcome]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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

    def run(self, fn, items):
        for i, item in enumerate(items):
            yield i, _call(fn, item)


# ------------------------------------------------------------------------------------------
# local processes


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
    apply_threads(threads)
    try:
        for fn, arg in setups:
            fn(arg)
    except BaseException as exc:
        conn.send(("setup_error", describe_error(exc)))
        return
    conn.send(("ready", os.getpid()))
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
        elif kind == "call":
            _, fn, arg = message
            conn.send(("result", _call(fn, arg)))


def _exit_reason(exitcode: int | None) -> str:
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
    def __init__(self, ctx, threads: int, setups: list):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid(), threads, list(setups)),
                                   daemon=True, name="compositor-worker")
        self.process.start()
        child.close()
        self.pid: int | None = None

    def wait_ready(self) -> None:
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

    def run(self, fn, items):
        from multiprocessing.connection import wait

        pending = deque(enumerate(items))
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
                idle += self._start(1)

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for w in pool:
            try:
                w.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        for w in pool:
            w.stop()


# ------------------------------------------------------------------------------------------
# Ray


class _RayWorker:
    """The Ray actor: the same life as a local worker (setups, then one task at a time)."""

    def __init__(self, threads: int, setups: list):
        apply_threads(threads)
        for fn, arg in setups:
            fn(arg)

    def setup(self, fn, arg) -> Outcome:
        return _call(fn, arg)

    def call(self, fn, arg) -> Outcome:
        return _call(fn, arg)


class RayExecutor(Executor):
    """Tasks on Ray actors. ``address`` None starts a local Ray for the run (stopped at
    close); otherwise connects to that cluster (``auto``, ``ray://host:10001``, ...)."""

    def __init__(self, workers: int | None = None, *, address: str | None = None, cpus_per_worker: float = 1.0,
                 threads: int | None = None, init_options: dict | None = None, limit: int | None = None):
        try:
            import ray
        except ImportError:
            raise CompositorError("the ray executor needs Ray: pip install 'compositor[ray]' "
                                  "(or pip install 'ray>=2.9').") from None
        import logging

        if workers is not None and workers < 1:
            raise UsageError(f"workers must be 1 or more; received {workers}.")
        if workers is not None and limit:
            workers = min(workers, limit)
        if not cpus_per_worker > 0:
            raise UsageError(f"cpus per worker must be positive; received {cpus_per_worker}.")
        check_threads(threads)
        self._ray = ray
        self._owns_ray = False  # True when this executor called ray.init (and so shuts it down)
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                   **(init_options or {})}
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, **options)
                else:
                    cores = available_cores()
                    ray.init(num_cpus=max(cores, int((workers or 1) * cpus_per_worker)), **options)
                self._owns_ray = True
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise CompositorError(f"could not start or reach {where}: {type(exc).__name__}: {exc}") from None
        total = ray.cluster_resources().get("CPU", 1)
        most = max(1, int(total // cpus_per_worker))
        if workers is not None and workers > most:
            if self._owns_ray:
                ray.shutdown()
            raise UsageError(f"{workers} Ray workers of {cpus_per_worker:g} CPU each do not fit the cluster's "
                             f"{total:g} CPUs; use --workers {most} or fewer.")
        self.workers = min(workers or most, limit or most)
        self.threads = threads or max(1, int(cpus_per_worker))
        self._actor_cls = ray.remote(_RayWorker).options(num_cpus=cpus_per_worker, max_restarts=0)
        self._setups: list[tuple[Callable, Any]] = []
        self._actors = [self._new_actor() for _ in range(self.workers)]

    def _new_actor(self):
        return self._actor_cls.remote(self.threads, list(self._setups))

    def setup(self, fn, arg) -> None:
        ray = self._ray
        for outcome in ray.get([a.setup.remote(fn, arg) for a in self._actors]):
            if not outcome.ok:
                raise CompositorError(f"setting up a Ray worker failed: {outcome.error}")
        self._setups.append((fn, arg))

    def run(self, fn, items):
        ray = self._ray
        pending = deque(enumerate(items))
        idle = list(self._actors)
        busy: dict[Any, tuple[int, Any]] = {}  # object ref -> (index, actor)
        while pending or busy:
            while idle and pending:
                actor = idle.pop()
                index, item = pending.popleft()
                busy[actor.call.remote(fn, item)] = (index, actor)
            done, _ = ray.wait(list(busy), num_returns=1)
            for ref in done:
                index, actor = busy.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    self._actors.remove(actor)
                    replacement = self._new_actor()
                    self._actors.append(replacement)
                    idle.append(replacement)
                    yield index, Outcome(False, error=f"the Ray worker running this job died: {exc}")
                    continue
                except ray.exceptions.RayError as exc:
                    idle.append(actor)
                    yield index, describe_error(exc)
                    continue
                idle.append(actor)
                yield index, outcome

    def close(self) -> None:
        ray = self._ray
        for actor in getattr(self, "_actors", []):
            try:
                ray.kill(actor)
            except Exception:  # already gone; nothing to clean up
                continue
        self._actors = []
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()  # stops the local Ray we started; only disconnects from a cluster


def make_executor(kind: str = "local", workers: int | None = 1, *, address: str | None = None,
                  limit: int | None = None, threads: int | None = None) -> Executor:
    """``local`` with 1 worker runs in this process; more workers are spawned processes;
    ``ray`` runs on Ray actors (``workers`` None: one per CPU of the cluster). ``limit``:
    at most this many workers (no more than there are tasks). ``threads``: math-library
    threads per worker (None: the cores shared out between the local workers, all of
    them for one; one per Ray worker)."""
    check_executor(kind, workers, address, threads)
    if kind == "ray":
        return RayExecutor(workers, address=address, limit=limit, threads=threads)
    workers = min(1 if workers is None else workers, max(1, limit or workers or 1))
    return InlineExecutor(threads) if workers == 1 else ProcessExecutor(workers, threads)


def _executor(executor: "str | Executor", workers: int | None, address: str | None, limit: int | None = None,
              threads: int | None = None):
    """A context manager: a new executor (closed at the end) or the caller's own (left open)."""
    import contextlib

    if isinstance(executor, Executor):
        return contextlib.nullcontext(executor)
    return make_executor(executor, workers, address=address, limit=limit, threads=threads)
