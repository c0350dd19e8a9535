"""A task's outputs in OUTDIR: what a task is, its spec hash, and the image-then-sidecar
write whose sidecar (holding the image's sha256) marks the task done."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..records import image_record


@dataclass(frozen=True)
class Task:
    """One unit of work: the worker function gets ``payload`` and writes ``mask`` (when
    there is one), ``image``, then ``sidecar`` (all relative to OUTDIR); ``job_hash`` ties
    the outputs to the spec."""

    id: str
    image: str
    sidecar: str
    job_hash: str
    payload: Any
    mask: str | None = None  # an object-id mask written with the image (batch --masks, synth --instance-masks)


def spec_hash(spec: Any) -> str:
    """The sha256 (hex) of ``spec`` as canonical JSON: ties outputs to what made them."""
    text = json.dumps(spec, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_json(path: Path) -> Any:
    """The parsed JSON file at ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return None


def verified(outdir: Path, task: Task, hash_image: bool = True) -> dict | None:
    """The task's sidecar if its outputs are complete: the sidecar parses, names this task
    and spec, and its sha256 matches the image on disk (with ``hash_image`` False: the image
    exists, for outputs this run has just written or verified); else None."""
    from ..imageio import sha256_file

    sidecar = read_json(outdir / task.sidecar)
    if not isinstance(sidecar, dict) or sidecar.get("id") != task.id or sidecar.get("job_hash") != task.job_hash:
        return None
    image = sidecar.get("image") or {}
    mask = sidecar.get("mask") or {}
    if image.get("path") != task.image or mask.get("path") != task.mask:
        return None
    files = [(task.image, image)] + ([(task.mask, mask)] if task.mask else [])
    if not hash_image:
        return sidecar if all((outdir / path).is_file() for path, _ in files) else None
    try:
        return sidecar if all(sha256_file(outdir / path) == rec.get("sha256") for path, rec in files) else None
    except OSError:
        return None


def write_outputs(outdir: Path, task_image: str, task_sidecar: str, pixels: np.ndarray, record: dict,
                  mask: tuple[str, np.ndarray] | None = None) -> dict:
    """Write ``mask`` (its path relative to OUTDIR and its object ids, see
    ``imageio.write_labels``) when given, ``pixels`` to ``outdir/task_image``, then ``record``
    plus the records of the image and mask (with their sha256) to ``outdir/task_sidecar``,
    the done marker; each atomically. Returns the sidecar."""
    from ..imageio import sha256_file, write_image, write_json, write_labels

    image_path, sidecar_path = outdir / task_image, outdir / task_sidecar
    extra = {}
    if mask is not None:
        write_labels(outdir / mask[0], mask[1])
        extra["mask"] = image_record(mask[0], sha256_file(outdir / mask[0]), mask[1])
    write_image(image_path, pixels)
    sidecar = {**record, "image": image_record(task_image, sha256_file(image_path), pixels), **extra}
    write_json(sidecar_path, sidecar, compact=True)  # one line: written for every image, read by programs
    return sidecar

