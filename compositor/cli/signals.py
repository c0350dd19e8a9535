"""Ctrl-C, SIGTERM and SIGHUP while a command runs: all become a KeyboardInterrupt, never lost.

``main`` runs the command inside ``sigterm_as_interrupt()`` and, after catching the
interrupt, calls ``handled_interrupt()`` so that the exit code is 130 (SIGINT), 143
(SIGTERM, raised as ``Terminated``) or 129 (SIGHUP, a closed terminal, raised as ``HungUp``).
"""
from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so that it gets the same
    clean-up (snapshots, a run folder's start-up, workers) and one line; exit code 143."""

    signum = signal.SIGTERM
    code = 143
    line = "compositor: terminated."


class HungUp(Terminated):
    """SIGHUP (the terminal was closed), handled as SIGTERM is; exit code 129."""

    signum = signal.SIGHUP
    code = 129
    line = "compositor: hung up."


#: the signals handled as Ctrl-C is, and what each raises
HANDLED = {signal.SIGTERM: Terminated, signal.SIGHUP: HungUp}


def _on_sigterm(signum, frame) -> None:
    """The SIGTERM and SIGHUP handler: raises ``Terminated`` or ``HungUp``."""
    raise HANDLED.get(signum, Terminated)()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While the command runs, SIGTERM and SIGHUP are handled like SIGINT (only the main thread can set
    them), and neither is lost when it lands in a finalizer or a weakref callback: those cannot
    raise, so Python prints "Exception ignored" and goes on; the signal is raised again.
    Takes nothing and yields nothing; the previous handlers are restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _on_sigterm) for signum in HANDLED}
    previous_hook = sys.unraisablehook

    finished = threading.Event()

    def send_later(signum: int) -> None:
        if not finished.wait(0.05):
            os.kill(os.getpid(), signum)

    def unraisable(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            # sent again, a moment later, from another thread: raised now it would land in this hook
            # (a command that ends before then has finished its work, and is not interrupted). The
            # thread is started without waiting for it to run (threading.Thread.start waits, and on a
            # busy machine the signal could then land in that wait, inside this hook, and be lost).
            signum = info.exc_value.signum if isinstance(info.exc_value, Terminated) else signal.SIGINT
            _thread.start_new_thread(send_later, (signum,))
            return
        previous_hook(info)

    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        finished.set()
        sys.unraisablehook = previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
