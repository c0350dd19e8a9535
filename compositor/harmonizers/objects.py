"""Per-object harmonization: each object of a composite corrected against its own surroundings.

A composite with several objects pasted from different photos needs one correction per
object: a single correction fitted to the union would move a too-red and a too-blue object
by the same amount. ``Harmonizer.harmonize`` runs the backend once per object, in paste
order, through ``harmonize_objects``:

- what the backend sees for object *i* is the current image (the objects before it already
  corrected) with every *other* object filled in from the background around it
  (``ops.poisson.fill``), so the other objects count neither as the object nor as its
  surroundings (its ring, its edge, its context crop);
- except the objects it was pasted on top of: an earlier object whose box overlaps object
  *i*'s is left in place as background, already corrected, as a viewer sees it;
- the backend's change is kept everywhere except on the other objects' pixels, which keep
  their own correction.

``split_components`` and ``split_by_boxes`` turn a bare mask into objects (the mask's
connected parts, or a paste record's boxes) for a composite read from files.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from ..ops.geometry import bbox
from ..ops.pixels import to_uint8
from ..ops.poisson import fill
from ..types import Composite, PlacedObject


def visible(objects: tuple[PlacedObject, ...]) -> list[int]:
    """Indices of the objects with any visible pixel (an object hidden under later ones has nothing to correct)."""
    return [i for i, o in enumerate(objects) if (o.mask > 0).any()]


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def others(objects: tuple[PlacedObject, ...], i: int) -> np.ndarray:
    """Where the objects other than ``i`` lie that are not its background (float32 HxW in
    [0, 1]): every other object except the earlier ones object ``i`` was pasted on top of
    (their boxes overlap)."""
    out = np.zeros(objects[i].mask.shape, np.float32)
    for j, o in enumerate(objects):
        if j == i or (j < i and _overlap(o.box, objects[i].box)):
            continue
        np.maximum(out, o.mask, out=out)
    return out


def view_for(image: np.ndarray, objects: tuple[PlacedObject, ...], i: int) -> tuple[Composite, np.ndarray]:
    """(what the backend sees for object ``i``, where its change may land). The view is
    ``image`` with the other objects (``others``) filled from the background around them,
    and object ``i``'s mask; the change lands everywhere but on those other objects."""
    own = objects[i].mask
    hidden = (others(objects, i) > 0) & (own < 0.5)
    view = image
    if hidden.any() and not hidden.all():
        view = to_uint8(fill(image.astype(np.float32), ~hidden))
    return Composite(image=view, mask=own, objects=(objects[i],)), ~hidden


class _ObjectProgress:
    """Forwards one object's progress as part of the whole: steps offset by the objects done,
    snapshots of the whole image (the objects done, and this one's current state)."""

    def __init__(self, progress, k: int, n: int, image: np.ndarray, lands: np.ndarray):
        self.progress, self.k, self.n, self.image, self.lands = progress, k, n, image, lands
        self.snapshot_every = getattr(progress, "snapshot_every", 0) or 0
        self.total = 1

    def update(self, step: int, total: int, **info) -> None:
        self.total = max(int(total), 1)
        self.progress.update(self.k * self.total + step, self.n * self.total, object=self.k + 1, **info)

    def snapshot(self, step: int, image: np.ndarray) -> None:
        self.progress.snapshot(self.k * self.total + step, np.where(self.lands[..., None], image, self.image))


def harmonize_objects(run, composite: Composite, settings, progress, region_of) -> tuple[np.ndarray, dict, dict | None]:
    """Run ``run(composite, settings, progress, region) -> Output`` once per visible object of
    ``composite`` in paste order (see the module docstring); ``region_of(composite)`` gives the
    ``region`` argument. Returns (image, stats with one entry per object under ``objects``,
    params: the settings' record less what differs between objects, which goes to each
    object's entry)."""
    objects = composite.objects
    image = composite.image
    done: list[tuple[PlacedObject, Any]] = []
    order = visible(objects)
    for k, i in enumerate(order):
        view, lands = view_for(image, objects, i)
        out = run(view, settings, _ObjectProgress(progress, k, len(order), image, lands), region_of(view))
        image = np.where(lands[..., None], out.image, image)
        done.append((objects[i], out))
    params = None
    records = [dataclasses.asdict(settings) if out.params is None else dict(out.params) for _, out in done]
    shared = {key: value for key, value in records[0].items() if all(r.get(key) == value for r in records[1:])}
    if any(out.params is not None for _, out in done):
        params = shared
    entries = []
    for (obj, out), record in zip(done, records):
        entry = {"label": obj.label, "box": [int(v) for v in obj.box]}
        entry.update({key: value for key, value in record.items() if key not in shared})
        entry.update({key: value for key, value in out.stats.items() if key != "loss_history"})
        entries.append(entry)
    return image, {"objects": entries}, params


# --------------------------------------------------------------------------- objects from a bare mask


def _placed(label: str, mask: np.ndarray) -> PlacedObject:
    x, y, w, h = bbox(mask > 0)
    return PlacedObject(label=label, box=(x, y, w, h), mask=mask.astype(np.float32),
                        center=(x + w / 2, y + h / 2), scale=1.0, rotation=0.0)


def split_components(mask: np.ndarray) -> tuple[PlacedObject, ...]:
    """One object per connected part of ``mask > 0`` (8-connected), in reading order of their
    first pixel; each keeps the mask's soft values on its part."""
    n, labels = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
    return tuple(_placed(f"part {k}", np.where(labels == k, mask, 0)) for k in range(1, n))


def split_by_boxes(mask: np.ndarray, boxes: list[tuple[int, int, int, int]], labels: list[str]) -> tuple[PlacedObject, ...]:
    """The objects of a paste record: each mask pixel belongs to the last object (the topmost)
    whose box holds it. Raises ValueError saying how the boxes and the mask disagree: a box
    outside the mask, a box with no mask pixel, or mask pixels outside every box."""
    H, W = mask.shape
    owner = np.full((H, W), -1, np.int32)
    for k, (x, y, w, h) in enumerate(boxes):
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W or y + h > H:
            raise ValueError(f"object {k + 1}'s box {[x, y, w, h]} does not lie inside the {W}x{H} mask")
        owner[y:y + h, x:x + w] = k
    on = mask > 0
    outside = int((on & (owner < 0)).sum())
    if outside:
        raise ValueError(f"{outside} mask pixels lie outside every object's box")
    out = []
    for k, label in enumerate(labels):
        part = on & (owner == k)
        if not part.any():
            x, y, w, h = boxes[k]
            if on[y:y + h, x:x + w].any():
                continue  # covered entirely by later objects
            raise ValueError(f"object {k + 1}'s box {list(boxes[k])} holds no mask pixel")
        out.append(_placed(label, np.where(part, mask, 0)))
    return tuple(out)
