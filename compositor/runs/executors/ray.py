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


#: seconds to wait for a cluster address to answer before giving up (Ray itself would retry for minutes)
CONNECT_TIMEOUT = 5.0
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + empty SETTINGS


def check_address(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse, within ``timeout`` seconds, a cluster address (``HOST:PORT`` or
    ``ray://HOST:PORT``) where nothing answers as Ray does: no connection (refused, no route,
    an unknown host, no answer), or a server that does not speak gRPC (HTTP/2), which is what
    Ray's head and its client server speak. ``auto`` and ``local`` are left to Ray, which
    refuses them quickly when no cluster runs here. A malformed address is a UsageError."""
    import socket

    if address in ("auto", "local"):
        return
    scheme, _, target = address.rpartition("://")
    if scheme not in ("", "ray"):
        raise UsageError(f"--ray-address {address}: the address must be HOST:PORT, ray://HOST:PORT or auto.")
    host, sep, port_text = target.rpartition(":")
    if not sep:
        host, port_text = target, "10001" if scheme == "ray" else "6379"
    host = host.strip("[]")
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        raise UsageError(f"--ray-address {address}: the port must be a number from 1 to 65535; received "
                         f"{port_text!r}.") from None
    if not host:
        raise UsageError(f"--ray-address {address}: no host before the port.")
    hint = ("is a Ray cluster running there? Start one with `ray start --head`, or leave out --ray-address to "
            "run a local Ray")
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_HTTP2_PREFACE)
            frame = conn.recv(9)
    except socket.gaierror as exc:
        raise CompositorError(f"cannot reach the Ray cluster at {address}: unknown host {host!r} "
                              f"({exc.strerror or exc}).") from None
    except (socket.timeout, TimeoutError):
        raise CompositorError(f"cannot reach the Ray cluster at {address}: no answer within {timeout:g} s; "
                              f"{hint}.") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).rstrip(".").lower()
        raise CompositorError(f"cannot reach the Ray cluster at {address}: {reason}; {hint}.") from None
    if len(frame) < 9 or frame[3] != 0x04:  # an HTTP/2 server's first frame is its SETTINGS
        raise CompositorError(f"cannot reach the Ray cluster at {address}: something answers there, but not Ray "
                              f"(not a gRPC server); {hint}.")


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
            if address:
                check_address(address)  # Ray itself waits minutes on an address where no cluster answers
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
