"""Rendering one synth image in a worker: sample its layout from its own seed, paste,
harmonize, annotate the visible masks, and write the image and its sidecar."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..records import result_record, worker_record
from ..runs.caches import background_image, sticker_file
from ..runs.outputs import Task, spec_hash, write_outputs
from ..runs.paths import sidecar_name
from ..finish.blends import after_paste, sticker_blend
from .coco import area_and_box, encode, polygons
from .layout import Layout, sample_layout
from .objects import sticker_alpha
from .settings import SynthSettings, image_seed, image_split, layout_index


@dataclass(frozen=True)
class SynthContext:
    """What every image of a synth run shares, given to each worker once: the run's folder
    and settings, the ready objects and distractors (entries of ``objects.prepare_objects``),
    the backgrounds' paths, and the hash of all of it that each image's spec hash is made from."""

    outdir: Path
    settings: SynthSettings
    objects: tuple[dict, ...]
    distractors: tuple[dict, ...]
    backgrounds: tuple[str, ...]
    config_hash: str


def _alpha_table(entries: Sequence[dict]) -> list[tuple[np.ndarray, float]]:
    """(alpha, area) per ready sticker entry."""
    return [sticker_alpha(e["path"]) for e in entries]


def image_stem(index: int) -> str:
    """Image ``index``'s file stem (``000042``): zero-padded to 6 digits, longer from image 1,000,000
    on; it does not depend on the run's count, so a grown run keeps its names."""
    return f"{index:06d}"


def image_task(index: int, settings: SynthSettings, config_hash: str) -> Task:
    """The Task of image ``index``: its image (``images/SPLIT/STEM.EXT``), sidecar and instance
    mask (``masks/SPLIT/STEM.png``, with ``instance_masks``) paths in OUTDIR, and its spec hash."""
    stem, split = image_stem(index), image_split(settings.seed, layout_index(index, settings), settings.val)
    name = f"images/{split}/{stem}.{settings.image_format}"
    mask = f"masks/{split}/{stem}.png" if settings.instance_masks else None
    return Task(stem, name, sidecar_name(name).as_posix(), job_hash(config_hash, index), index, mask)


def layout_for(context: SynthContext, index: int) -> Layout:
    """Image ``index``'s layout in the run of ``context``, from its layout's own seed (the image's
    own with one render per layout)."""
    settings = context.settings
    rng = np.random.default_rng(image_seed(settings.seed, layout_index(index, settings)))
    bgs = context.backgrounds

    def size_of(i: int) -> tuple[int, int]:
        image = background_image(bgs[i], settings.size)
        return image.shape[1], image.shape[0]

    return sample_layout(rng, settings, backgrounds=len(bgs), background_size=size_of,
                         objects=_alpha_table(context.objects), distractors=_alpha_table(context.distractors))


def render(context: SynthContext, task: Task) -> dict:
    """Sample the layout of image ``task.payload`` (its index), paste, harmonize, annotate,
    and write the image and sidecar (and instance mask) ``task`` names, in the run of
    ``context``. Returns the fields it adds to the image's results line."""
    from .. import api
    from ..paste import Placement

    t0 = time.perf_counter()
    index: int = task.payload
    settings = context.settings
    seed = image_seed(settings.seed, index)
    layout = layout_for(context, index)
    x0, y0, W, H = layout.crop
    scaled = background_image(context.backgrounds[layout.background], settings.size)
    canvas = np.ascontiguousarray(scaled[y0:y0 + H, x0:x0 + W])
    entries = []
    placements = []
    # blends and the light are drawn from a stream of their own: the layout is the same with or without them
    extra = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    blends = [settings.blends[int(extra.integers(len(settings.blends)))] for _ in layout.placed]
    blend_params: list[dict] = []
    for p, blend in zip(layout.placed, blends):
        entry = (context.distractors if p.distractor else context.objects)[p.object]
        sticker = dataclasses.replace(sticker_file(entry["path"]), label=entry["category"])
        sticker, params = sticker_blend(sticker, blend, extra)
        blend_params.append(params)
        placements.append(Placement(sticker, p.x, p.y, p.scale, p.rotation, name=entry["name"]))
        entries.append(entry)
    if placements:
        composite = api.paste(canvas, placements)
        harmonizer = api.harmonizer(layout.backend, default_seed=seed % (2**31 - 1),
                                    **settings.backend_settings.get(layout.backend, {}))
        result = api.harmonize(composite, harmonizer)
        pixels, harmonized = result.image, result_record(result)
        masks = [o.mask for o in composite.objects]
        for i, blend in enumerate(blends):
            if blend in ("poisson", "match"):
                pixels, blend_params[i] = after_paste(pixels, masks, i, blend, seed)
        if settings.shadows:
            from ..finish import finish, make_finish_settings

            light = f"{extra.uniform(0, 360):.1f},{extra.uniform(25, 65):.1f}"
            pixels, shadowed = finish(pixels, masks, make_finish_settings({"shadow": "cast", "light": light}))
            harmonized = {**harmonized, "shadow": {k: shadowed[k] for k in ("light", "shadow_opacity",
                                                                             "shadow_softness")}}
    else:  # nothing could be placed (or zero objects were drawn): the background alone
        composite, pixels, harmonized = None, canvas, {"backend": None, "skipped": "no objects placed"}
    objects, distractors = [], []
    labels = np.zeros(canvas.shape[:2], np.uint16)  # 0 background, k the k-th annotated object
    for i, (p, entry) in enumerate(zip(layout.placed, entries)):
        item = {"object": entry["name"], "category": entry["category"], "x": round(p.x, 3), "y": round(p.y, 3),
                "scale": round(p.scale, 6), "rotation": round(p.rotation, 3), "truncation": p.truncation}
        if settings.blends != ("none",):
            item["blend"] = {"name": blends[i], **blend_params[i]}
        if p.distractor:
            distractors.append(item)
            continue
        # the object's box holds every pixel of it above 0.5/255: work on that part only
        bx, by, bw, bh = composite.objects[i].box
        alpha = composite.objects[i].mask[by:by + bh, bx:bx + bw]
        visible = alpha >= 0.5
        if not visible.any():  # hidden after all (soft edges only): not annotated
            item["hidden"] = True
            distractors.append(item)
            continue
        in_image = float(sticker_alpha(entry["path"])[1]) * p.scale * p.scale * (1 - p.truncation)
        hidden = 1.0 - float(alpha.sum()) / max(in_image, 1e-9)
        item.update(occlusion=round(max(0.0, hidden), 4))
        objects.append(item)
        # a pixel goes to the object drawn last (two visible alphas >= 0.5 meet only at exactly 0.5)
        labels[by:by + bh, bx:bx + bw][visible] = len(objects)
    annotated = []
    for k, item in enumerate(objects, 1):
        mask = labels == k
        if not mask.any():  # every pixel went to a later object: not annotated
            labels[mask] = 0
            distractors.append({**item, "hidden": True})
            continue
        labels[mask] = len(annotated) + 1  # ids stay 1..n in annotation order
        rle = encode(mask)
        area, box = area_and_box(rle)  # pycocotools' own measures of the mask it decodes
        x, y, w, h = box
        item.update(bbox=box, area=area, segmentation=rle if settings.segmentation == "rle" else
                    polygons(mask[y:y + h, x:x + w], (x, y)))
        annotated.append(item)
    objects = annotated
    record = {"id": task.id, "job_hash": task.job_hash, "index": index,
              "split": image_split(settings.seed, layout_index(index, settings), settings.val), "seed": settings.seed,
              "image_seed": seed, **({"layout": layout_index(index, settings)} if settings.renders_per_layout > 1 else {}),
              "background": {"path": context.backgrounds[layout.background], "crop": list(layout.crop),
                             "scaled_to": [scaled.shape[1], scaled.shape[0]]},
              "backend": layout.backend, "harmonize": harmonized, "objects": objects, "distractors": distractors,
              "dropped": layout.dropped, "seconds": round(time.perf_counter() - t0, 3),
              **worker_record()}
    write_outputs(context.outdir, task.image, task.sidecar, pixels, record,
                  mask=(task.mask, labels) if task.mask else None)
    return {"worker": os.getpid(), "backend": layout.backend, "objects": len(objects)}


def job_hash(config_hash: str, index: int) -> str:
    """The spec hash of image ``index`` of the run whose inputs and settings hash to ``config_hash``."""
    return spec_hash({"config": config_hash, "index": index})
