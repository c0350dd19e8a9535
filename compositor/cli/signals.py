"""Ctrl-C and SIGTERM while a command runs: both become a KeyboardInterrupt, never lost.

``main`` runs the command inside ``sigterm_as_interrupt()`` and, after catching the
interrupt, calls ``handled_interrupt()`` so that the exit code is 130 (SIGINT) or 143
(SIGTERM, raised as ``Terminated``).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that it gets the same
    clean-up (snapshots, a run folder's start-up, workers) and one line; exit code 143."""


def _on_sigterm(signum, frame) -> None:
    """The SIGTERM handler: raises ``Terminated``."""
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While the command runs, SIGTERM is handled like SIGINT (only the main thread can set
    it), and neither is lost when it lands in a finalizer or a weakref callback: those cannot
    raise, so Python prints "Exception ignored" and goes on; the signal is raised again.
    Takes nothing and yields nothing; the previous handlers are restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    previous_hook = sys.unraisablehook

    timers: list[threading.Timer] = []

    def unraisable(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            # sent again, a moment later, from another thread: raised now it would land in this hook
            # (a command that ends before then has finished its work, and is not interrupted)
            signum = signal.SIGTERM if isinstance(info.exc_value, Terminated) else signal.SIGINT
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timers.append(timer)
            timer.start()
            return
        previous_hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)


def handled_interrupt() -> None:
    """Tell CPython the KeyboardInterrupt was handled. CPython can keep one marked unhandled
    although it was caught here (seen when Ctrl-C lands while modules import, under
    ``python -m compositor.cli``, about one run in ten) and then, at exit, kills the process
    with SIGINT itself: exit -2 instead of 130, after the message. Code run through
    ``PyRun_SimpleString`` starts by clearing that mark."""
    try:
        import ctypes

        ctypes.pythonapi.PyRun_SimpleString(b"pass")
    except (ImportError, AttributeError, OSError):
        pass
