"""The installed package's version, for ``compositor --version``."""
from __future__ import annotations


def version() -> str:
    """The version of the installed ``compositor`` distribution, or "unknown" when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("compositor")
    except PackageNotFoundError:
        return "unknown"
