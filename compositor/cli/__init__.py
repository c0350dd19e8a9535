"""The ``compositor`` command. Thin: it parses, calls the library, writes, reports.

``main(argv) -> int`` maps errors to exit codes (2 usage, 1 failure, 130 Ctrl-C, 143
SIGTERM, 129 SIGHUP) and prints one sentence; ``--traceback`` shows the stack. ``program(args) -> int``
runs the parsed command (``commands/<name>.py``'s ``run``) without error handling. The
parser is defined in ``parser.py``; shared plumbing lives in ``output``, ``signals``,
``argv``, ``bar``, ``options``, ``settings``, ``paths`` and ``version``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import CompositorError
from .argv import join_negative_values
from .output import flush_stdout, os_error, printable, say
from .parser import build_parser
from .signals import Terminated, handled_interrupt, sigterm_as_interrupt

__all__ = ["main", "program", "build_parser"]


def program(args: argparse.Namespace) -> int:
    """Run the command ``args.command`` with the parsed ``args``; returns its exit code.
    The command's module is looked up when called."""
    return importlib.import_module(f"{__name__}.commands.{args.command}").run(args)


def _internal(exc: BaseException) -> str:
    """The one sentence for an unexpected exception ``exc``, pointing at ``--traceback``."""
    return printable(f"compositor: internal error: {type(exc).__name__}: {exc} (run with --traceback for details)")


def main(argv: list[str] | None = None) -> int:
    """Run ``compositor ARGV`` (default: ``sys.argv[1:]``) and return the exit code: 0 done,
    1 failure, 2 usage error, 130 interrupted, 143 terminated, 129 hung up. Errors are one sentence on
    stderr, unless ``--traceback`` is given, in which case they propagate."""
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    traceback = "--traceback" in argv
    try:
        with sigterm_as_interrupt():
            args = build_parser().parse_args(argv)
            code = program(args)
            flush_stdout()
            return code
    except Terminated as exc:  # SIGTERM or SIGHUP
        handled_interrupt()
        say(exc.line)
        return exc.code
    except KeyboardInterrupt:
        handled_interrupt()
        say("compositor: interrupted.")
        return 130
    except CompositorError as exc:
        if traceback:
            raise
        say(printable(f"compositor: error: {exc}"))
        return exc.exit_code
    except (OSError, ValueError) as exc:
        error = os_error(exc, argv)
        if error is None or traceback:
            if traceback:
                raise
            say(_internal(exc))
            return 1
        if not isinstance(exc, BrokenPipeError):  # a reader that stopped early (`| head`) needs no message
            say(printable(f"compositor: error: {error}"))
        return error.exit_code
    except Exception as exc:  # anything unexpected still gets one sentence; --traceback shows it
        if traceback:
            raise
        say(_internal(exc))
        return 1
