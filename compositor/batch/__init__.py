"""Many composites at once: ``run_batch`` runs the jobs of a manifest (see ``manifest``)
into a run folder.

**The run folder** (OUTDIR) holds each job's image and JSON sidecar, ``run.json`` (what
was run: settings, versions) and ``results.jsonl`` (one line per job: ``ok`` or
``failed``, the error, seconds). A job writes its image first and its sidecar last,
each atomically; the sidecar holds the image's sha256, so a sidecar whose hash matches
its image is the job's "done" marker. ``resume=True`` skips the jobs whose outputs are
complete and verified that way (and made by the same job spec), removes temporary files
a killed run left behind, and runs the rest; at the end ``results.jsonl`` is rewritten
with exactly one line per job. A failing job never stops the batch. Options are checked
before OUTDIR is made, and a fresh run that fails before its first job leaves no run
record behind, so the corrected command needs no ``--resume``. The run folder, resume,
caches, progress and executors are ``compositor.runs``'s, shared with ``synth``.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from ..harmonizers import DEFAULT_BACKEND
from ..records import file_record
from ..runs.caches import backends_to_load, file_digest, load_models
from ..runs.executors import Executor, _executor, check_executor, describe_executor
from ..runs.folder import RunFolder, Summary
from ..runs.progress import Reporter
from .job import BatchContext, job_tasks, run_job
from .manifest import mask_beside, read_manifest

__all__ = ["job_tasks", "read_manifest", "run_batch"]


def run_batch(manifest: str | os.PathLike, outdir: str | os.PathLike, *, workers: int | None = 1,
              threads: int | None = None,
              executor: str | Executor = "local", ray_address: str | None = None, resume: bool = False,
              default_backend: str = DEFAULT_BACKEND, masks: bool = False,
              reporter: Reporter | None = None) -> Summary:
    """Run every job of ``manifest`` into ``outdir``; see the module docstring. Returns the
    run's Summary. ``masks``: every job that names no ``mask`` writes one beside its output
    (``NAME_mask.png``).

    ``executor`` is ``local`` (``workers`` processes; 1 = this process), ``ray``, or an
    Executor of the caller's (kept open, e.g. to reuse its workers for several runs);
    ``threads`` is each worker's thread count."""
    t0 = time.perf_counter()
    check_executor(executor, workers, ray_address, threads)  # before OUTDIR is made
    jobs = read_manifest(manifest, default_backend=default_backend)
    if masks:
        jobs = [j if j.mask else dataclasses.replace(j, mask=mask_beside(j.output)) for j in jobs]
    tasks = job_tasks(jobs, outdir, manifest)
    info = {"manifest": file_record(Path(manifest).resolve(), file_digest(str(Path(manifest).resolve()))),
            "jobs": len(jobs), **describe_executor(executor, workers, threads)}
    with RunFolder(outdir, "batch", resume=resume, info=info) as run:
        with _executor(executor, workers, ray_address, limit=len(tasks), threads=threads) as ex:
            t_execute = time.perf_counter()
            summary = run.execute(tasks, run_job, ex, reporter,
                                  setup=(load_models, backends_to_load((j.backend, j.settings) for j in jobs)),
                                  context=BatchContext(outdir=Path(run.path)))
    summary.start_seconds += t_execute - t0
    summary.seconds = time.perf_counter() - t0
    return summary
