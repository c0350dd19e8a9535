"""Executing on a Ray cluster (or a local Ray started for the run).

Ray workers are actors (one CPU each by default), so each keeps its caches for the whole
run, and each gets its thread count as an argument (one per CPU it holds, by default).
They read inputs and write outputs by path: on a multi-node cluster the inputs and OUTDIR
must be on a file system every node mounts at the same path, and ``compositor`` must be
installed on every node.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from ...errors import CompositorError, UsageError
from .base import Executor, Outcome, _call, check_threads, describe_error
from .threads import apply_threads, available_cores


class _RayWorker:
    """The Ray actor: the same life as a local worker (setups, then one task at a time)."""

    def __init__(self, threads: int, setups: list):
        apply_threads(threads)
        self.context = None  # the current run's, sent once per run
        for fn, arg in setups:
            fn(arg)

    def setup(self, fn, arg) -> Outcome:
        return _call(fn, arg)

    def set_context(self, context) -> None:
        self.context = context

    def call(self, fn, arg) -> Outcome:
        return _call(fn, arg, self.context)


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
        """A new actor with the thread count and the setups so far."""
        return self._actor_cls.remote(self.threads, list(self._setups))

    def setup(self, fn, arg) -> None:
        ray = self._ray
        for outcome in ray.get([a.setup.remote(fn, arg) for a in self._actors]):
            if not outcome.ok:
                raise CompositorError(f"setting up a Ray worker failed: {outcome.error}")
        self._setups.append((fn, arg))

    def run(self, fn, items, context=None):
        ray = self._ray
        pending = deque(enumerate(items))
        ray.get([a.set_context.remote(context) for a in self._actors])
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
                    replacement.set_context.remote(context)  # runs before its first call
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
