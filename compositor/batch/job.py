"""A batch job's work: its tasks (outputs checked and confined to OUTDIR) and the worker
function that cuts, pastes, harmonizes and writes one job."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..records import file_record, placed_record, result_record, worker_record
from ..runs.caches import background_image, cut_sticker, file_digest, sticker_file
from ..runs.outputs import Task, spec_hash, write_outputs
from ..runs.paths import confine, is_reserved, sidecar_name
from .manifest import Job


@dataclass(frozen=True)
class BatchContext:
    """What every job of a batch run shares, given to each worker once: the run's folder."""

    outdir: Path


def run_job(context: BatchContext, task: Task) -> dict:
    """Cut (cached), paste, harmonize and write one manifest job (``task.payload``) into the
    run's OUTDIR as ``task`` names its outputs. Returns the fields it adds to the job's
    results line."""
    from .. import api
    from ..paste import Placement

    job: Job = task.payload
    t0 = time.perf_counter()
    background = background_image(job.background)
    placements, described = [], []
    for spec in job.objects:
        if spec.source is not None:
            sticker = cut_sticker(spec.source, spec.cutter, json.dumps(spec.cut, sort_keys=True))
            origin = {"source": file_record(spec.source, file_digest(spec.source)), "cutter": spec.cutter,
                      "cut": spec.cut, "source_box": list(sticker.source_box)}
        else:
            sticker = sticker_file(spec.sticker)
            origin = {"sticker": file_record(spec.sticker, file_digest(spec.sticker))}
        sticker = dataclasses.replace(sticker, label=spec.label or Path(spec.source or spec.sticker).stem)
        placements.append(Placement(sticker, spec.x, spec.y, spec.scale, spec.rotation,
                                    name=spec.source or spec.sticker or "", anchor=spec.anchor, height=spec.height))
        described.append(origin)
    composite = api.paste(background, placements)
    result = api.harmonize(composite, api.harmonizer(job.backend, default_seed=job.seed, **job.settings))
    if job.finish:
        result = api.finish_result(result, composite, {**job.finish, "seed": job.seed % 2**32}, job.background)
    objects = [{**origin, **placed_record(o)} for origin, o in zip(described, composite.objects)]
    seconds = round(time.perf_counter() - t0, 3)
    record = {"id": job.id, "job_hash": task.job_hash, "seed": job.seed,
              "background": file_record(job.background, file_digest(job.background)),
              "objects": objects, "harmonize": result_record(result), "seconds": seconds,
              **worker_record()}
    mask = (task.mask, object_ids(composite.objects, result.image.shape[:2])) if task.mask else None
    write_outputs(context.outdir, task.image, task.sidecar, result.image, record, mask=mask)
    return {"worker": os.getpid(), "backend": result.backend}


def object_ids(objects: Sequence, shape: tuple[int, int]) -> np.ndarray:
    """The object-id mask of a composite's placed ``objects``: 0 background, k where the job's
    k-th object is visible (its visible alpha at least 0.5; a later object wins a tie)."""
    ids = np.zeros(shape, np.uint16)
    for k, obj in enumerate(objects, 1):
        x, y, w, h = obj.box
        ids[y:y + h, x:x + w][obj.mask[y:y + h, x:x + w] >= 0.5] = k
    return ids


def job_tasks(jobs: list[Job], outdir: str | os.PathLike, manifest: str | os.PathLike | None = None) -> list[Task]:
    """One Task per manifest job, with every output checked: inside OUTDIR, not an input
    (nor the ``manifest``), no two jobs writing the same file (a job's mask included)."""
    from ..imageio import check_outputs

    root = Path(outdir).resolve()
    inputs = [manifest] if manifest else []
    outputs: list[Path] = []
    tasks = []
    for job in jobs:
        image = confine(root, job.output, f"job {job.id!r}")
        sidecar = sidecar_name(image)
        if sidecar == image:
            raise UsageError(f"job {job.id!r}: output {job.output!r} cannot be a .json file; it names the sidecar.")
        if is_reserved(sidecar.relative_to(root)):
            raise UsageError(f"job {job.id!r}: the sidecar of output {job.output!r} would overwrite the run's own "
                             f"{sidecar.name}; choose another id or output name.")
        inputs += [job.background] + [o.source or o.sticker for o in job.objects]
        outputs += [image, sidecar]
        rel_image, rel_sidecar = image.relative_to(root).as_posix(), sidecar.relative_to(root).as_posix()
        rel_mask = None
        if job.mask is not None:
            mask = confine(root, job.mask, f"job {job.id!r}")
            if is_reserved(mask.relative_to(root)):
                raise UsageError(f"job {job.id!r}: mask {job.mask!r} would overwrite the run's own {mask.name}.")
            outputs.append(mask)
            rel_mask = mask.relative_to(root).as_posix()
        job_hash = spec_hash(job.spec())
        tasks.append(Task(job.id, rel_image, rel_sidecar, job_hash, job, rel_mask))
    check_outputs(inputs, outputs)
    return tasks
