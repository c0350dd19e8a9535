"""Paths inside a run's output folder (OUTDIR): the run's own file names, job ids, and
the confinement every output goes through (no escape from OUTDIR, no hidden or reserved
names)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError

RESULTS = "results.jsonl"
RUN_INFO = "run.json"
LOCK = ".compositor.lock"
RESERVED = (RESULTS, RUN_INFO, LOCK)  # the run's own files in OUTDIR (compared without case)
JOB_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


def check_job_id(job_id: Any, where: str = "") -> str:
    """``job_id`` (text, or a whole number >= 0) as text, checked: 1-200 of ``A-Z a-z 0-9 . _ -``,
    not starting with a dot; raises UsageError (prefixed with ``where``) otherwise."""
    prefix = f"{where}: " if where else ""
    if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id >= 0:
        job_id = str(job_id)
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise UsageError(f"{prefix}job id {job_id!r} is not allowed; use 1-200 letters, digits, '.', '_' or '-', "
                         "not starting with a dot (ids name output files).")
    return job_id


def confine(outdir: str | os.PathLike, relative: str | os.PathLike, where: str = "") -> Path:
    """``OUTDIR/relative``, resolved; refuses absolute paths, ``..`` that leaves OUTDIR,
    look-alike siblings (``../OUTDIR-evil``), symlinks out, hidden names and reserved names."""
    prefix = f"{where}: " if where else ""
    rel = Path(relative)
    if not str(relative).strip() or rel.is_absolute() or rel.anchor:
        raise UsageError(f"{prefix}output {str(relative)!r} must be a relative path inside the output folder.")
    root = Path(outdir).resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or target == root:
        raise UsageError(f"{prefix}output {str(relative)!r} escapes the output folder {root}; "
                         "outputs must stay inside it.")
    inner = target.relative_to(root)
    if any(part.startswith(".") for part in inner.parts):
        raise UsageError(f"{prefix}output {str(relative)!r} has a hidden name (starting with '.'); "
                         "those are kept for temporary files.")
    if is_reserved(inner):
        raise UsageError(f"{prefix}output {str(relative)!r} is reserved for the run's own records.")
    return target


def is_reserved(inner: str | os.PathLike) -> bool:
    """Whether a path relative to OUTDIR names one of the run's own files (``run.json``,
    ``results.jsonl``, the lock); without case, for case-insensitive file systems."""
    return Path(inner).as_posix().lower() in {name.lower() for name in RESERVED}


def sidecar_name(output: str | os.PathLike) -> Path:
    """The JSON sidecar that goes with an image output: the same name with ``.json``."""
    return Path(output).with_suffix(".json")


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies inside ``folder`` (both resolved, symlinks followed)."""
    return path.resolve().is_relative_to(folder.resolve())

