"""The run framework shared by ``batch`` and ``synth``: a run writes one image and one
JSON sidecar per job into its output folder, can be resumed, and runs its jobs on an
executor whose workers keep per-process caches.

- ``paths``: the run's own file names, job ids, outputs confined to OUTDIR.
- ``outputs``: a task, its spec hash, and the image-then-sidecar write that marks it done.
- ``folder``: the run folder (lock, ``run.json``, ``results.jsonl``, resume) and its Summary.
- ``caches``: what each worker keeps (the run's context, plugins, models, images, stickers).
- ``progress``: reporting jobs as they finish.
- ``executors``: inline, local processes or Ray, and each worker's thread count.
"""
