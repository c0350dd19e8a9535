"""What the command prints: messages on stderr, results on stdout, and a stdout that fails.

A message goes to stderr and never fails the command; a result goes to stdout, and a
stdout that cannot take it (a full disk, ``> /dev/full``, a closed pipe) fails in one
sentence instead of a traceback at interpreter exit.
"""
from __future__ import annotations

import os
import sys

from ..errors import CompositorError, UsageError, from_os_error


def say(message: str) -> None:
    """Print ``message`` on stderr; a stderr that cannot take it is ignored (nowhere to tell)."""
    try:
        print(message, file=sys.stderr)
    except (OSError, ValueError, AttributeError):  # no usable stderr (closed, a full disk)
        pass


def out(*values) -> None:
    """``print`` to stdout; a stdout that cannot take it fails in one sentence."""
    try:
        print(*values)
    except (OSError, ValueError) as exc:
        _stdout_failed(exc)


def out_bytes(data: bytes) -> None:
    """Write ``data`` (an image piped on) to stdout's binary stream; a stdout that cannot take
    it fails in one sentence, a closed pipe quietly."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (OSError, ValueError, AttributeError) as exc:
        _stdout_failed(exc if not isinstance(exc, AttributeError) else ValueError("no standard output"))


def printable(message: str) -> str:
    """``message`` with its control characters but line breaks escaped (a NUL in a path, a
    library's terminal colour codes), so that it shows as plain text."""
    return "".join(c if c.isprintable() or c in " \n" else repr(c)[1:-1] for c in message)


def flush_stdout() -> None:
    """Flush what the command printed, so that a stdout that cannot take it (a full disk,
    ``> /dev/full``, a closed pipe) fails here, in one sentence, and not at interpreter exit."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _stdout_failed(exc)


def _stdout_failed(exc: Exception) -> None:
    """A write to stdout failed: a closed pipe is re-raised (quiet exit), anything else
    raises a one-sentence CompositorError."""
    _silence_stdout()
    if isinstance(exc, BrokenPipeError):
        raise exc
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    raise CompositorError(f"cannot write to standard output ({reason}).") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def os_error(exc: BaseException, argv: list[str] = ()) -> CompositorError | None:
    """The CompositorError that ``exc`` (an OSError or ValueError) means, or None:
    ``errors.from_os_error``, plus the command line's own cases: the argument of ``argv``
    with a NUL character is named, and an error with no file name is checked against stdout."""
    if isinstance(exc, ValueError) and "embedded null" in str(exc):
        named = next((a for a in argv if "\0" in a), None)
        if named is not None:
            return UsageError(f"{named!r}: a path cannot contain a NUL character.")
    if isinstance(exc, OSError) and exc.filename is None:
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except (OSError, ValueError):
            _silence_stdout()
            return CompositorError(f"cannot write to standard output ({exc.strerror or exc}).")
    return from_os_error(exc)
