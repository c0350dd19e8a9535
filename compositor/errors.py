"""Exceptions the CLI maps to exit codes: usage mistakes exit 2, failures exit 1.

Every message is one sentence that names the file or value and the problem.
"""
from __future__ import annotations


class CompositorError(Exception):
    """A failure while doing the work (unreadable file, missing weights): exit code 1."""

    exit_code = 1


class UsageError(CompositorError):
    """The user asked for something invalid (bad option value, output equals input): exit code 2."""

    exit_code = 2


class ModelMissingError(CompositorError):
    """Weights are not on disk; the message names the command that fetches them."""
