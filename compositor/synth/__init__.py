"""Synthetic detection data the "Cut, Paste and Learn" way (Dwibedi et al. 2017).

Objects (RGBA stickers, or photos cut once with a cutter) are pasted at random onto
background photos: a random number of objects per image, each with a random scale,
rotation and position, partly off the border (truncation, up to ``max_truncation`` of
its area) and partly hidden by later objects (occlusion, up to ``max_occlusion`` of its
visible area); optional distractor objects are pasted but not annotated; each image is
blended by a harmonizer drawn from ``backends``. Annotations come from the final
visible masks (after occlusion and truncation): COCO instances JSON with boxes and
segmentation (encoded, measured and checked with pycocotools; holes kept), and optionally
YOLO txt labels, a Pascal VOC root and instance-id masks.

Each image falls in the train or the val split (a fraction ``val`` of them) by a draw from
its own seed, so ``indices``, resume and growth keep every image's split. A run grows: the
same command with ``resume=True`` and a larger ``count`` adds the images from the old count
on, the same as a fresh run of the larger count would make them (``count`` is the one
setting a resumed run may change, and only upwards).

Reproducible: image ``i`` draws every random choice from its own generator,
``numpy.random.default_rng(image_seed(seed, i))``, so a dataset does not depend on the
number of workers and any image can be regenerated alone (``indices=[i]``). The choices
are sampled first (``sample_layout``) and applied after (``render``); the sidecar of
each image records its seed and every choice.

The objects folder holds one file per object: a file at the top level is a category
named after the file; files in a subfolder are instances of the category named after
the subfolder. A file with transparency is used as a sticker as it is; an opaque photo
is cut with ``cutter`` once per run (and kept in ``OUTDIR/objects/``, reused on resume).

OUTDIR layout (SPLIT is train or val; image ``i``'s STEM is ``i`` zero-padded to 6 digits)::

    images/SPLIT/STEM.png, STEM.json        the image and its sidecar (seed, split, layout, annotations)
    annotations/instances_SPLIT.json        COCO instances (assembled from the sidecars at the end;
                                            ``file_name`` is relative to images/SPLIT/)
    labels/SPLIT/STEM.txt, data.yaml        YOLO labels (with yolo=True)
    voc/Annotations/STEM.xml                a Pascal VOC root (with voc=True): the XML per image,
    voc/ImageSets/Main/SPLIT.txt            the ids of each split (and trainval.txt),
    voc/JPEGImages/STEM.EXT                 relative links to the images
    masks/SPLIT/STEM.png                    instance ids: 0 background, k the image's k-th annotation
                                            in the COCO file (with instance_masks=True)
    objects/                                stickers cut from the object photos
    results.jsonl, run.json                 per-image ok/failed, error, seconds; the run's settings

The package: ``settings`` (settings, parsers, seeds), ``objects`` (object files, cutting),
``layout`` (sampling), ``coco`` (boxes, polygons, RLE), ``render`` (one image in a worker),
``export`` (COCO, YOLO and VOC files); the run folder, resume, caches and executors are
``compositor.runs``'s, shared with ``batch``.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Sequence

from ..errors import CompositorError, UsageError
from ..runs.caches import load_models
from ..runs.executors import Executor, _executor, check_executor, describe_executor
from ..runs.folder import RunFolder, Summary
from ..runs.outputs import read_json, spec_hash
from ..runs.paths import RUN_INFO
from ..runs.progress import Reporter
from .export import assemble
from .objects import image_files, object_files, prepare_objects, readable_images
from .render import SynthContext, image_task, render
from .settings import (LABELS, SPLITS, SynthSettings, coco_file, image_seed, image_split, parse_indices, parse_pair,
                       parse_size)

__all__ = ["SPLITS", "SynthSettings", "coco_file", "image_seed", "image_split", "parse_indices", "parse_pair",
           "parse_size", "synth"]


@dataclass
class SynthSummary(Summary):
    """How a synth run went: the run's Summary, and its categories, annotations and objects;
    ``coco``, ``images`` and ``split_annotations`` per split."""

    categories: list[str] = field(default_factory=list)
    annotations: int = 0
    objects_cut: int = 0
    objects_failed: list[str] = field(default_factory=list)
    coco: dict[str, Path] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    split_annotations: dict[str, int] = field(default_factory=dict)
    made_unit: ClassVar[str] = "images"

def synth(objects: str | os.PathLike, backgrounds: str | os.PathLike, outdir: str | os.PathLike,
          settings: SynthSettings | None = None, *, distractors: str | os.PathLike | None = None,
          indices: Sequence[int] | None = None, workers: int | None = 1, threads: int | None = None,
          executor: str | Executor = "local",
          ray_address: str | None = None, resume: bool = False, reporter: Reporter | None = None,
          log: Callable[[str], None] | None = None) -> SynthSummary:
    """Generate ``settings.count`` images (or only ``indices``) into ``outdir`` from the
    ``objects``, ``backgrounds`` (and ``distractors``) folders; see the module docstring.
    Returns the run's SynthSummary; ``log`` gets one line per note (objects or backgrounds left out, objects cut).

    ``executor`` is ``local`` (``workers`` processes; 1 = this process), ``ray``, or an
    Executor of the caller's (kept open, e.g. to reuse its workers for several runs);
    ``threads`` is each worker's thread count."""
    t0 = time.perf_counter()
    check_executor(executor, workers, ray_address, threads)  # before OUTDIR is made
    settings = settings or SynthSettings()
    settings.validate()
    log = log or (lambda message: None)
    object_list = object_files(objects, "objects")
    distractor_list = object_files(distractors, "distractors") if distractors else []
    # headers only, so cheap: a folder with no readable background is refused before any work
    background_list, left_out = readable_images(image_files(backgrounds, "backgrounds"))
    if not background_list:
        for line in left_out:
            log(line)
        raise CompositorError(f"{backgrounds}: no background could be read ({len(left_out)} file(s) left out); "
                              f"the first: {left_out[0]}")
    wanted = sorted(set(indices)) if indices is not None else list(range(settings.count))
    for i in wanted:
        if not 0 <= i < settings.count:
            raise UsageError(f"image index {i} is outside 0..{settings.count - 1}.")
    inputs = [Path(objects), Path(backgrounds)] + ([Path(distractors)] if distractors else [])
    fixed = {k: v for k, v in dataclasses.asdict(settings).items() if k != "count"}  # all a resumed run keeps
    if fixed["blends"] == ("none",) and not fixed["shadows"]:  # a run made before them keeps its hash
        del fixed["blends"], fixed["shadows"]
    if fixed["renders_per_layout"] == 1:
        del fixed["renders_per_layout"]
    if resume:
        _check_growth(Path(outdir), settings.count)
    info = {"settings": fixed, "count": settings.count, "objects": str(Path(objects).resolve()),
            "backgrounds": str(Path(backgrounds).resolve()),
            "distractors": str(Path(distractors).resolve()) if distractors else None,
            "indices": list(wanted) if indices is not None else None,
            **describe_executor(executor, workers, threads)}
    with RunFolder(outdir, "synth", resume=resume, info=info, inputs=inputs,
                   same=("settings", "objects", "backgrounds", "distractors"), labels=LABELS) as run:
        with _executor(executor, workers, ray_address, limit=max(len(wanted), len(object_list)), threads=threads) as ex:
            summary = SynthSummary(outdir=run.path, total=len(wanted))
            ready, ready_distractors, summary.objects_failed = prepare_objects(
                ex, {"objects": object_list, "distractors": distractor_list}, settings.cutter, run.path, log)
            if not ready:
                raise CompositorError(f"{objects}: no object could be made ready; "
                                      + "; ".join(summary.objects_failed[:3]))
            summary.objects_cut = sum(e["cut"] for e in ready + ready_distractors)
            reused = sum(bool(e.get("reused")) for e in ready + ready_distractors)
            if summary.objects_cut:
                fresh = summary.objects_cut - reused
                how = f"{fresh} cut with {settings.cutter}" + (f", {reused} kept from the earlier run" if reused else "") \
                    if fresh else f"{reused} kept from the earlier run"
                log(f"{summary.objects_cut} object(s) cut from photos: {how} (in {run.path / 'objects'})")
            for line in left_out:  # told once the run is under way
                log(line)
            backgrounds_info = [(str(p.resolve()), p.stat().st_size) for p in background_list]
            config_hash = spec_hash({"settings": fixed,  # not the count: image i is the same in a longer run
                                     "objects": [(e["name"], e["category"], e["sha256"]) for e in ready],
                                     "distractors": [(e["name"], e["sha256"]) for e in ready_distractors],
                                     "backgrounds": backgrounds_info})
            context = SynthContext(outdir=Path(run.path), settings=settings, objects=tuple(ready),
                                   distractors=tuple(ready_distractors),
                                   backgrounds=tuple(p for p, _ in backgrounds_info), config_hash=config_hash)
            tasks = [image_task(i, settings, config_hash) for i in wanted]
            t_execute = time.perf_counter()
            result = run.execute(tasks, render, ex, reporter,
                                 setup=(load_models, [(b, settings.backend_settings.get(b, {}))
                                                      for b in settings.backends]), context=context)
        for name in ("ok", "failed", "skipped", "redone", "records"):
            setattr(summary, name, getattr(result, name))
        summary.categories = sorted({e["category"] for e in ready})
        exported = assemble(run.path, tasks, result.records, summary.categories, settings)
        summary.coco, summary.images, summary.split_annotations = exported.coco, exported.images, exported.annotations
        summary.annotations = sum(exported.annotations.values())
        if settings.val > 0 and not exported.images.get("val") and summary.ok:
            log(f"no image fell in the val split (val {settings.val:g} of {summary.ok} image(s)); "
                "make more images or raise --val")
        if not exported.images.get("train") and summary.ok:
            log(f"no image fell in the train split (val {settings.val:g} of {summary.ok} image(s)); "
                "make more images or lower --val")
        summary.seconds = time.perf_counter() - t0
        summary.start_seconds = (t_execute - t0) + result.start_seconds
    return summary


def _check_growth(outdir: Path, count: int) -> None:
    """Refuse (UsageError) to resume a synth run in ``outdir`` with fewer images than it was made
    with: a run grows, it does not shrink (its dataset files would leave images out)."""
    info = read_json(outdir / RUN_INFO)
    if isinstance(info, dict) and info.get("kind") == "synth" and isinstance(info.get("count"), int) \
            and count < info["count"]:
        raise UsageError(f"{outdir}: the earlier synth run made {info['count']} images; a resumed run can keep "
                         f"or grow that count, not shrink it to {count}; resume with -n {info['count']} or more.")
