"""The work pool: a fixed number of threads, a bounded queue, jobs with progress and cancel.

The event loop only awaits: every cut, paste, harmonization and file decode runs on one of
``workers`` threads (models load once per process and stay warm for the next request). At
most ``queue`` jobs wait or run at once; one more is refused at once (``Busy``, HTTP 503),
so a burst of requests cannot pile up memory. A job run in the background (``submit``) has
an id, reports its progress (the harmonizer's own ``update(step, total)`` calls) and can be
cancelled: its next progress report raises ``Cancelled`` inside the worker.
"""
from __future__ import annotations

import asyncio
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import CompositorError


class Busy(CompositorError):
    """The queue is full."""


class Cancelled(CompositorError):
    """A job was cancelled by its client."""


@dataclass
class Job:
    """A background job: its state (queued, running, done, failed, cancelled), progress and result."""

    id: str
    what: str
    state: str = "queued"
    step: int = 0
    total: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    status: int = 200
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    cancel_requested: bool = False
    future: Future | None = None

    # the harmonizer's Progress protocol
    snapshot_every = 0

    def update(self, step: int, total: int, **info) -> None:
        """Record progress; raise ``Cancelled`` when the client asked to stop."""
        if self.cancel_requested:
            raise Cancelled(f"{self.what} was cancelled.")
        self.state = "running"
        self.step, self.total = int(step), int(total)
        self.info = {k: (float(v) if isinstance(v, (int, float)) else str(v)) for k, v in info.items()}

    def snapshot(self, step: int, image) -> None:
        pass

    def public(self) -> dict[str, Any]:
        """The job as its client sees it (no result objects, no server paths)."""
        end = self.finished or time.monotonic()
        out = {"id": self.id, "what": self.what, "state": self.state, "step": self.step, "total": self.total,
               "seconds": round(end - self.started, 3), "info": self.info}
        if self.error is not None:
            out["error"] = self.error
        if self.state == "done" and isinstance(self.result, dict):
            out["result"] = self.result
        return out


class Pool:
    """``workers`` threads and at most ``queue`` jobs in flight (see the module's docstring)."""

    def __init__(self, workers: int = 2, queue: int = 8, keep_jobs: int = 64):
        self.workers, self.queue = workers, queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compositor-work")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._jobs: dict[str, Job] = {}
        self._keep = keep_jobs

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _take(self, what: str) -> None:
        with self._lock:
            if self._in_flight >= self.queue:
                raise Busy(f"the server is busy ({self._in_flight} jobs queued or running, the limit is "
                           f"{self.queue}); try {what} again in a moment.")
            self._in_flight += 1

    def _release(self, _future=None) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, what: str, fn: Callable, *args, **kwargs) -> Any:
        """Run ``fn(*args, **kwargs)`` on a worker thread and await its result; ``Busy`` when full."""
        self._take(what)
        future = self._executor.submit(fn, *args, **kwargs)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def submit(self, what: str, fn: Callable[[Job], Any], on_error: Callable[[BaseException], tuple[int, str]]) -> Job:
        """Start ``fn(job)`` in the background and return the job at once; ``Busy`` when full.
        ``on_error`` turns an exception into (HTTP status, one sentence) for the job's record."""
        self._take(what)
        job = Job(secrets.token_hex(16), what)

        def work():
            job.started = time.monotonic()
            if job.cancel_requested:
                raise Cancelled(f"{what} was cancelled.")
            job.state = "running"
            return fn(job)

        def done(future: Future):
            self._release()
            job.finished = time.monotonic()
            if future.cancelled():  # cancelled before it started
                job.state, job.error, job.status = "cancelled", f"{what} was cancelled.", 409
                return
            exc = future.exception()
            if exc is None:
                job.result, job.state = future.result(), "done"
            elif isinstance(exc, Cancelled):
                job.state, job.error, job.status = "cancelled", str(exc), 409
            else:
                job.state = "failed"
                job.status, job.error = on_error(exc)

        with self._lock:
            self._jobs[job.id] = job
            if len(self._jobs) > self._keep:  # forget the oldest finished jobs
                for old in [j for j in self._jobs.values() if j.finished is not None][: len(self._jobs) - self._keep]:
                    del self._jobs[old.id]
        job.future = self._executor.submit(work)
        job.future.add_done_callback(done)
        return job

    def job(self, ident: str) -> Job | None:
        with self._lock:
            return self._jobs.get(ident)

    def cancel(self, job: Job) -> None:
        """Ask ``job`` to stop: at once if it has not started, else at its next progress report."""
        job.cancel_requested = True
        if job.future is not None:
            job.future.cancel()  # succeeds only if it has not started; the done callback records it

    def close(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel_requested = True
        self._executor.shutdown(wait=False, cancel_futures=True)
