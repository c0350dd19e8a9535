"""Exceptions the CLI maps to exit codes: usage mistakes exit 2, failures exit 1.

Every message is one sentence that names the file or value and the problem.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path


class CompositorError(Exception):
    """A failure while doing the work (unreadable file, missing weights): exit code 1."""

    exit_code = 1


class UsageError(CompositorError):
    """The user asked for something invalid (bad option value, output equals input): exit code 2."""

    exit_code = 2


class ModelMissingError(CompositorError):
    """Weights are not on disk; the message names the command that fetches them."""


def from_os_error(exc: BaseException) -> CompositorError | None:
    """One sentence for an OS error that reached no code that knew its file: a path the OS
    refuses (too long, a NUL character, a loop of links, not a folder) is a usage error,
    anything else (no permission, a full disk, an I/O error) a failure. None for an error
    of another kind (a ValueError that is not about a NUL character)."""
    if isinstance(exc, ValueError):
        if "embedded null" in str(exc):
            return UsageError("a path cannot contain a NUL character.")
        return None
    if not isinstance(exc, OSError):
        return None
    reason = str(exc.strerror or exc).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    if exc.filename is None:
        return CompositorError(f"{reason}.")
    names = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    usage = exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR)
    return (UsageError if usage else CompositorError)(f"{names}: {reason}.")


def resolve(path: str | os.PathLike, what: str = "") -> Path:
    """``Path(path).resolve()``, or a one-sentence ``UsageError`` naming ``path`` (and ``what``
    it is) where the system cannot follow it: a loop of symbolic links (Python raises a bare
    ``RuntimeError: Symlink loop`` for it), a name too long, a NUL character."""
    label = f"{what} {os.fsdecode(path)!r}" if what else os.fsdecode(path)
    try:
        return Path(path).resolve()
    except RuntimeError:  # Path.resolve's "Symlink loop from ..." (Python before 3.13)
        raise UsageError(f"{label}: a loop of symbolic links; it cannot be followed to a file.") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{label}: a loop of symbolic links; it cannot be followed to a file.") from None
        raise UsageError(f"{label}: {(exc.strerror or str(exc)).rstrip('.').lower()}.") from None
    except ValueError as exc:
        if "null" in str(exc):
            raise UsageError(f"{label!r}: a path cannot contain a NUL character.") from None
        raise
