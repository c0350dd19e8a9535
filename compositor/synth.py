"""Synthetic detection data the "Cut, Paste and Learn" way (Dwibedi et al. 2017).

Objects (RGBA stickers, or photos cut once with a cutter) are pasted at random onto
background photos: a random number of objects per image, each with a random scale,
rotation and position, partly off the border (truncation, up to ``max_truncation`` of
its area) and partly hidden by later objects (occlusion, up to ``max_occlusion`` of its
visible area); optional distractor objects are pasted but not annotated; each image is
blended by a harmonizer drawn from ``backends``. Annotations come from the final
visible masks (after occlusion and truncation): COCO instances JSON with boxes and
segmentation, and optionally YOLO txt labels.

Reproducible: image ``i`` draws every random choice from its own generator,
``numpy.random.default_rng(image_seed(seed, i))``, so a dataset does not depend on the
number of workers and any image can be regenerated alone (``indices=[i]``). The choices
are sampled first (``sample_layout``) and applied after (``render``); the sidecar of
each image records its seed and every choice.

The objects folder holds one file per object: a file at the top level is a category
named after the file; files in a subfolder are instances of the category named after
the subfolder. A file with transparency is used as a sticker as it is; an opaque photo
is cut with ``cutter`` once per run (and kept in ``OUTDIR/objects/``, reused on resume).

OUTDIR layout::

    images/000000.png, images/000000.json   the image and its sidecar (seed, layout, annotations)
    annotations/instances.json              COCO instances (assembled from the sidecars at the end)
    labels/000000.txt, data.yaml            YOLO labels (with yolo=True)
    objects/                                stickers cut from the object photos
    results.jsonl, run.json                 per-image ok/failed, error, seconds; the run's settings
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import plugins
from .cut import DEFAULT_METHOD
from .batch import (Reporter, RunFolder, Summary, Task, confine, harmonize_settings, harmonizer, spec_hash, sticker_file,
                    verified, write_outputs, _read_json)
from .errors import CompositorError, UsageError
from .executors import Executor, _executor, check_executor
from .ops.geometry import bbox
from .paste import warp_in_box
from .records import now, result_record, sticker_record, worker_record

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
SEGMENTATIONS = ("polygon", "rle")
FORMATS = ("png", "jpg")
COCO_FILE = "annotations/instances.json"


# ------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True, kw_only=True)
class SynthSettings:
    """How images are laid out; every range is (min, max), inclusive."""

    count: int = plugins.setting(100, "number of images")
    seed: int = plugins.setting(0, "base seed; image i uses image_seed(seed, i)")
    size: tuple[int, int] | None = plugins.setting(
        None, "(width, height) of the images: backgrounds are scaled to cover it and cropped at random; "
              "None = each background's own size")
    objects_per_image: tuple[int, int] = plugins.setting((1, 4), "annotated objects per image")
    distractors_per_image: tuple[int, int] = plugins.setting((0, 2), "distractors per image (with a distractor folder)")
    scale: tuple[float, float] = plugins.setting((0.25, 0.6), "object's long side / the image's short side")
    rotation: tuple[float, float] = plugins.setting((-30.0, 30.0), "rotation in degrees, counter-clockwise")
    max_truncation: float = plugins.setting(0.25, "largest fraction of an object's area allowed off the image")
    max_occlusion: float = plugins.setting(0.5, "largest fraction of an annotated object's area later objects may hide")
    backends: tuple[str, ...] = plugins.setting(("none", "poisson"), "harmonizers; one is drawn per image")
    backend_settings: dict = field(default_factory=dict, metadata={"help": "backend -> {setting: value}"})
    cutter: str = plugins.setting(DEFAULT_METHOD, "cutter for object photos without transparency")
    image_format: str = plugins.setting("png", "image file format", FORMATS)
    segmentation: str = plugins.setting("polygon", "COCO segmentation: polygon or (uncompressed) rle", SEGMENTATIONS)
    yolo: bool = plugins.setting(False, "also write YOLO txt labels and data.yaml")
    tries: int = plugins.setting(30, "placements tried per object before it is left out")

    def validate(self) -> None:
        def pair(value, label, lo, hi=None, integer=False, ordered=True):
            if not isinstance(value, tuple) or len(value) != 2:
                raise UsageError(f"{label} must be a pair MIN,MAX; received {value!r}.")
            for v in value:
                plugins.check_range(v, lo, hi, label)
                if integer and not float(v).is_integer():
                    raise UsageError(f"{label} must be whole numbers; received {value!r}.")
            if ordered and value[0] > value[1]:
                raise UsageError(f"{label} must be MIN,MAX with MIN <= MAX; received {value[0]},{value[1]}.")

        plugins.check_range(self.count, 1, 100_000_000, "count")
        plugins.check_range(self.seed, 0, 2**63 - 1, "seed")
        if self.size is not None:
            pair(self.size, "size", 16, 16384, integer=True, ordered=False)
        pair(self.objects_per_image, "objects per image", 0, 1000, integer=True)
        pair(self.distractors_per_image, "distractors per image", 0, 1000, integer=True)
        pair(self.scale, "scale", 1e-3, 10.0)
        pair(self.rotation, "rotation", -360.0, 360.0)
        plugins.check_range(self.max_truncation, 0.0, 0.99, "max truncation")
        plugins.check_range(self.max_occlusion, 0.0, 1.0, "max occlusion")
        plugins.check_range(self.tries, 1, 10_000, "tries")
        plugins.check_choice(self.image_format, FORMATS, "image format")
        plugins.check_choice(self.segmentation, SEGMENTATIONS, "segmentation")
        if not self.backends:
            raise UsageError("backends is empty; name at least one harmonizer.")
        for name in self.backends:
            plugins.load("harmonizer", name)
        for name, values in self.backend_settings.items():
            if name not in self.backends:
                raise UsageError(f"settings are given for backend {name!r}, which is not among the backends "
                                 f"({', '.join(self.backends)}).")
            plugins.make_settings(plugins.load("harmonizer", name), values)
        plugins.load("cutter", self.cutter)


def parse_pair(text: str, label: str, integer: bool = False) -> tuple:
    """``"MIN,MAX"`` (or one number for both) -> a tuple of two numbers."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [int(p) if integer else float(p) for p in parts]
    except ValueError:
        kind = "whole numbers" if integer else "numbers"
        raise UsageError(f"{label} must be MIN,MAX ({kind}); received {text!r}.") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise UsageError(f"{label} must be MIN,MAX; received {text!r}.")
    return tuple(values)


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> (640, 480)."""
    w, sep, h = str(text).lower().partition("x")
    try:
        if not sep:
            raise ValueError
        return int(w), int(h)
    except ValueError:
        raise UsageError(f"size must be WIDTHxHEIGHT in pixels, e.g. 640x480; received {text!r}.") from None


def parse_indices(text: str, count: int) -> list[int]:
    """``"3,10-12"`` -> [3, 10, 11, 12], each checked against ``count``."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        lo, dash, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise UsageError(f"image indices must be like 3,10-12; received {text!r}.") from None
        if a > b:
            raise UsageError(f"image indices {part!r} run backwards; write the range as {b}-{a}.")
        if not 0 <= a <= b < count:
            raise UsageError(f"image indices must be between 0 and {count - 1}; received {part!r}.")
        out += range(a, b + 1)
    if not out:
        raise UsageError(f"no image indices in {text!r}.")
    return sorted(set(out))


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index``: independent streams per image (NumPy SeedSequence spawn keys)."""
    state = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(index),)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))  # 63 bits: fits every int64 seed setting


# ------------------------------------------------------------------------------------------
# objects and backgrounds


def image_files(folder: str | os.PathLike, what: str) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden ones skipped), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder of {what}.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise UsageError(f"{root}: holds no images of {what} ({', '.join(IMAGE_SUFFIXES)}).")
    return files


def object_files(folder: str | os.PathLike, what: str = "objects") -> list[tuple[str, str, Path]]:
    """(name, category, path) per object file: the category is the subfolder, or the file's stem."""
    root = Path(folder)
    out, seen = [], {}
    for path in image_files(root, what):
        rel = path.relative_to(root)
        name = rel.with_suffix("").as_posix()
        if name in seen:
            raise UsageError(f"{path}: has the same name as {seen[name]} apart from the extension; rename one.")
        seen[name] = path
        category = rel.parts[0] if len(rel.parts) > 1 else path.stem
        out.append((name, category, path.resolve()))
    return out


def prepare_object(payload: tuple) -> dict:
    """Make one object ready (runs in a worker): a file with transparency is used as it is;
    an opaque photo is cut once and kept in ``OUTDIR/objects/NAME.png`` with a sidecar
    (reused on resume when the photo, cutter and sticker are unchanged).

    Returns the ready sticker's entry: ``name`` (e.g. "mug/cup1", relative to its folder,
    without suffix), ``category``, ``path`` (an RGBA file: the original, or the cut-out in
    OUTDIR/objects), its ``sha256``, ``source`` (the file in the objects folder) and ``cut``
    (True when cut from a photo by the cutter)."""
    from . import api
    from .imageio import read_rgba, sha256_file, write_image, write_json
    from .stickers import crop_to_alpha

    name, category, source, cutter, folder, outdir = payload
    source_sha = sha256_file(source)
    rgba = read_rgba(source)
    if rgba[..., 3].min() < 255:
        crop_to_alpha(rgba, source)  # refuses a fully transparent file
        return {"name": name, "category": category, "path": source, "sha256": source_sha, "source": source,
                "cut": False}
    target = confine(outdir, f"{folder}/{name}.png", f"object {name!r}")
    sidecar_path = target.with_suffix(".json")
    old = _read_json(sidecar_path)
    if isinstance(old, dict) and old.get("source_sha256") == source_sha and old.get("cutter") == cutter:
        try:
            if sha256_file(target) == old.get("sha256"):
                return {"name": name, "category": category, "path": str(target), "sha256": old["sha256"],
                        "source": source, "cut": True}
        except OSError:
            pass
    sticker = api.cut(rgba[..., :3], cutter)[0]
    write_image(target, sticker.rgba)
    digest = sha256_file(target)
    write_json(sidecar_path, {"source": source, "source_sha256": source_sha, "cutter": cutter, "sha256": digest,
                              **sticker_record(sticker)})
    return {"name": name, "category": category, "path": str(target), "sha256": digest, "source": source,
            "cut": True}


def cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` (keeping its aspect) to the smallest size that covers (width, height)."""
    from .harmonizers.base import resize

    W, H = size
    h, w = image.shape[:2]
    s = max(W / w, H / h)
    return resize(image, (max(W, math.ceil(w * s - 1e-6)), max(H, math.ceil(h * s - 1e-6))))


@lru_cache(maxsize=16)
def background(path: str, size: tuple[int, int] | None) -> np.ndarray:
    """The background, scaled to cover ``size``; once per process and size (only the scaled copy is kept)."""
    from .imageio import read_rgb

    image = read_rgb(path)
    out = image if size is None else cover(image, size)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=512)
def sticker_alpha(path: str) -> tuple[np.ndarray, float]:
    """The sticker's alpha as float32 in [0, 1] and its area in pixels."""
    alpha = sticker_file(path).alpha
    alpha.setflags(write=False)
    return alpha, float(alpha.sum())


# ------------------------------------------------------------------------------------------
# sampling a layout (random choices) apart from rendering it


@dataclass(frozen=True)
class Placed:
    object: int  # index into the objects (or distractors) list
    distractor: bool
    x: float
    y: float
    scale: float  # the Placement's scale (sticker pixels -> image pixels)
    rotation: float
    truncation: float


@dataclass(frozen=True)
class Layout:
    background: int
    crop: tuple[int, int, int, int]  # x, y, w, h in the (scaled) background
    backend: str
    placed: tuple[Placed, ...]
    dropped: int  # objects left out: no placement met the truncation and occlusion limits


def sample_layout(rng: np.random.Generator, settings: SynthSettings, *, backgrounds: int,
                  background_size: Callable[[int], tuple[int, int]],
                  objects: Sequence[tuple[np.ndarray, float]], distractors: Sequence[tuple[np.ndarray, float]] = ()
                  ) -> Layout:
    """Every random choice of one image, drawn from ``rng`` in a fixed order.

    ``objects`` and ``distractors`` are (alpha, area) per sticker; ``background_size(i)``
    is background i's (width, height) after scaling. Each object is tried at up to
    ``settings.tries`` random placements; one is kept when the object's truncation is
    within the limit and no annotated object already placed would lose more than
    ``max_occlusion`` of its area; otherwise the object is left out (``dropped``).
    """
    bg = int(rng.integers(backgrounds))
    bw, bh = background_size(bg)
    W, H = settings.size or (bw, bh)
    crop = (int(rng.integers(bw - W + 1)), int(rng.integers(bh - H + 1)), W, H)
    backend = settings.backends[int(rng.integers(len(settings.backends)))]
    n = int(rng.integers(settings.objects_per_image[0], settings.objects_per_image[1] + 1)) if objects else 0
    nd = int(rng.integers(settings.distractors_per_image[0], settings.distractors_per_image[1] + 1)) \
        if distractors else 0
    picks = [(int(i), False) for i in rng.integers(len(objects), size=n)] if n else []
    picks += [(int(i), True) for i in rng.integers(len(distractors), size=nd)] if nd else []
    order = rng.permutation(len(picks))
    short = min(W, H)
    placed: list[Placed] = []
    visible: list[list] = []  # annotated objects: [visible alpha (whole canvas), area when placed, visible area]
    dropped = 0
    for k in order:
        index, is_distractor = picks[int(k)]
        alpha, area = (distractors if is_distractor else objects)[index]
        h, w = alpha.shape
        for _ in range(settings.tries):
            fraction = rng.uniform(*settings.scale)
            rotation = float(rng.uniform(*settings.rotation))
            x, y = float(rng.uniform(0, W)), float(rng.uniform(0, H))
            scale = fraction * short / max(h, w)
            warped, (x0, y0, x1, y1) = warp_in_box(alpha, x, y, scale, rotation, (W, H))
            box = (slice(y0, y1), slice(x0, x1))
            inside = float(warped.sum())
            truncation = max(0.0, 1.0 - inside / max(area * scale * scale, 1e-9))
            if inside < 1.0 or truncation > settings.max_truncation:
                continue
            # what each annotated object would keep: only the new object's box can change
            left = [seen - float((v[box] * warped).sum()) for v, _, seen in visible]
            if any(1.0 - kept / a > settings.max_occlusion for (_, a, _), kept in zip(visible, left)):
                continue
            cover_ = 1.0 - warped
            for entry, kept in zip(visible, left):
                entry[0][box] *= cover_
                entry[2] = kept
            if not is_distractor:
                full = np.zeros((H, W), np.float32)
                full[box] = warped
                visible.append([full, inside, inside])
            placed.append(Placed(index, is_distractor, x, y, float(scale), rotation, round(truncation, 4)))
            break
        else:
            dropped += 1
    return Layout(bg, crop, backend, tuple(placed), dropped)


# ------------------------------------------------------------------------------------------
# annotations from masks


def mask_box(mask: np.ndarray) -> list[int] | None:
    """[x, y, w, h] of the mask's nonzero pixels (a COCO bbox), or None when it has none."""
    box = bbox(mask)
    return None if box is None else list(box)


def polygons(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[list[float]]:
    """COCO polygons (x1, y1, x2, y2, ...) of the mask's outer contours, at least 3 points
    each; ``offset`` (x, y) is added to every point (for a mask cropped out of the image)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE,
                                   offset=tuple(int(v) for v in offset))
    out = []
    for c in contours:
        if len(c) >= 3:
            out.append([float(v) for v in c.reshape(-1, 2).ravel()])
        elif len(c) > 0:  # a 1-2 pixel sliver: its pixel square(s)
            x, y, w, h = cv2.boundingRect(c)
            out.append([float(x), float(y), float(x + w), float(y), float(x + w), float(y + h), float(x), float(y + h)])
    return out


def rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE: run lengths in column-major order, starting with a (maybe empty) run of 0."""
    flat = np.asarray(mask, bool).ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(segmentation: dict) -> np.ndarray:
    h, w = segmentation["size"]
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for count in segmentation["counts"]:
        flat[pos:pos + count] = value
        pos += count
        value = not value
    return flat.reshape((h, w), order="F")


# ------------------------------------------------------------------------------------------
# rendering one image (in a worker)

_CONTEXT: dict[str, Any] = {}


def set_context(context: dict) -> None:
    """Worker setup: the run's settings, object table and background list (sent once per worker)."""
    _CONTEXT.clear()
    _CONTEXT.update(context)


def _alpha_table(entries: Sequence[dict]) -> list[tuple[np.ndarray, float]]:
    return [sticker_alpha(e["path"]) for e in entries]


def image_name(index: int, count: int, fmt: str) -> str:
    return f"images/{index:0{max(6, len(str(count - 1)))}d}.{fmt}"


def layout_for(index: int, context: dict | None = None) -> Layout:
    """Image ``index``'s layout, from its own seed (the context as set by ``set_context``)."""
    ctx = context or _CONTEXT
    settings: SynthSettings = ctx["settings"]
    rng = np.random.default_rng(image_seed(settings.seed, index))
    bgs = ctx["backgrounds"]

    def size_of(i: int) -> tuple[int, int]:
        image = background(bgs[i], settings.size)
        return image.shape[1], image.shape[0]

    return sample_layout(rng, settings, backgrounds=len(bgs), background_size=size_of,
                         objects=_alpha_table(ctx["objects"]), distractors=_alpha_table(ctx["distractors"]))


def render(index: int) -> dict:
    """Sample image ``index``'s layout, paste, harmonize, annotate, and write image and sidecar."""
    from . import api
    from .paste import Placement

    t0 = time.perf_counter()
    ctx = _CONTEXT
    settings: SynthSettings = ctx["settings"]
    seed = image_seed(settings.seed, index)
    layout = layout_for(index)
    x0, y0, W, H = layout.crop
    scaled = background(ctx["backgrounds"][layout.background], settings.size)
    canvas = np.ascontiguousarray(scaled[y0:y0 + H, x0:x0 + W])
    entries = []
    placements = []
    for p in layout.placed:
        entry = (ctx["distractors"] if p.distractor else ctx["objects"])[p.object]
        sticker = dataclasses.replace(sticker_file(entry["path"]), label=entry["category"])
        placements.append(Placement(sticker, p.x, p.y, p.scale, p.rotation, name=entry["name"]))
        entries.append(entry)
    if placements:
        composite = api.paste(canvas, placements)
        result = harmonizer(layout.backend).harmonize(
            composite, harmonize_settings(layout.backend, settings.backend_settings.get(layout.backend, {}),
                                          seed % (2**31 - 1)))
        pixels, harmonized = result.image, result_record(result)
    else:  # nothing could be placed (or zero objects were drawn): the background alone
        composite, pixels, harmonized = None, canvas, {"backend": None, "skipped": "no objects placed"}
    objects, distractors = [], []
    for i, (p, entry) in enumerate(zip(layout.placed, entries)):
        item = {"object": entry["name"], "category": entry["category"], "x": round(p.x, 3), "y": round(p.y, 3),
                "scale": round(p.scale, 6), "rotation": round(p.rotation, 3), "truncation": p.truncation}
        if p.distractor:
            distractors.append(item)
            continue
        # the object's box holds every pixel of it above 0.5/255: work on that part only
        bx, by, bw, bh = composite.objects[i].box
        alpha = composite.objects[i].mask[by:by + bh, bx:bx + bw]
        visible = alpha >= 0.5
        box = mask_box(visible)
        if box is None:  # hidden after all (soft edges only): not annotated
            item["hidden"] = True
            distractors.append(item)
            continue
        box[0] += bx
        box[1] += by
        in_image = float(sticker_alpha(entry["path"])[1]) * p.scale * p.scale * (1 - p.truncation)
        hidden = 1.0 - float(alpha.sum()) / max(in_image, 1e-9)
        if settings.segmentation == "polygon":
            segmentation = polygons(visible, (bx, by))
        else:
            whole = np.zeros(composite.mask.shape, bool)
            whole[by:by + bh, bx:bx + bw] = visible
            segmentation = rle(whole)
        item.update(bbox=box, area=int(visible.sum()), occlusion=round(max(0.0, hidden), 4),
                    segmentation=segmentation)
        objects.append(item)
    name = image_name(index, settings.count, settings.image_format)
    record = {"id": Path(name).stem, "job_hash": job_hash(ctx["config_hash"], index), "index": index,
              "seed": settings.seed, "image_seed": seed,
              "background": {"path": ctx["backgrounds"][layout.background], "crop": list(layout.crop),
                             "scaled_to": [scaled.shape[1], scaled.shape[0]]},
              "backend": layout.backend, "harmonize": harmonized, "objects": objects, "distractors": distractors,
              "dropped": layout.dropped, "seconds": round(time.perf_counter() - t0, 3),
              **worker_record()}
    write_outputs(Path(ctx["outdir"]), name, str(Path(name).with_suffix(".json").as_posix()), pixels, record)
    return {"worker": os.getpid(), "backend": layout.backend, "objects": len(objects)}


def job_hash(config_hash: str, index: int) -> str:
    return spec_hash({"config": config_hash, "index": index})


# ------------------------------------------------------------------------------------------
# the run


@dataclass
class SynthSummary(Summary):
    categories: list[str] = field(default_factory=list)
    annotations: int = 0
    objects_cut: int = 0
    objects_failed: list[str] = field(default_factory=list)
    coco: Path | None = None


def _settings_record(settings: SynthSettings) -> dict:
    return dataclasses.asdict(settings)


def synth(objects: str | os.PathLike, backgrounds: str | os.PathLike, outdir: str | os.PathLike,
          settings: SynthSettings | None = None, *, distractors: str | os.PathLike | None = None,
          indices: Sequence[int] | None = None, workers: int | None = 1, threads: int | None = None,
          executor: str | Executor = "local",
          ray_address: str | None = None, resume: bool = False, reporter: Reporter | None = None,
          log: Callable[[str], None] | None = None) -> SynthSummary:
    """Generate ``settings.count`` images (or only ``indices``) into ``outdir``; see the module docstring.

    ``executor`` is ``local`` (``workers`` processes; 1 = this process), ``ray``, or an
    Executor of the caller's (kept open, e.g. to reuse its workers for several runs)."""
    t0 = time.perf_counter()
    check_executor(executor, workers, ray_address, threads)  # before OUTDIR is made
    settings = settings or SynthSettings()
    settings.validate()
    log = log or (lambda message: None)
    object_list = object_files(objects, "objects")
    distractor_list = object_files(distractors, "distractors") if distractors else []
    background_list = image_files(backgrounds, "backgrounds")
    wanted = sorted(set(indices)) if indices is not None else list(range(settings.count))
    for i in wanted:
        if not 0 <= i < settings.count:
            raise UsageError(f"image index {i} is outside 0..{settings.count - 1}.")
    inputs = [Path(objects), Path(backgrounds)] + ([Path(distractors)] if distractors else [])
    info = {"settings": _settings_record(settings), "objects": str(Path(objects).resolve()),
            "backgrounds": str(Path(backgrounds).resolve()),
            "distractors": str(Path(distractors).resolve()) if distractors else None,
            "indices": list(wanted) if indices is not None else None,
            "executor": executor if isinstance(executor, str) else type(executor).__name__,
            "workers": workers if isinstance(executor, str) else executor.workers,
            "threads": threads if isinstance(executor, str) else getattr(executor, "threads", None)}
    with RunFolder(outdir, "synth", resume=resume, info=info, inputs=inputs,
                   same=("settings", "objects", "backgrounds", "distractors")) as run:
        with _executor(executor, workers, ray_address, limit=max(len(wanted), len(object_list)), threads=threads) as ex:
            summary = SynthSummary(outdir=run.path, total=len(wanted))
            table = []
            prepare = [(name, cat, str(path), settings.cutter, folder, str(run.path))
                       for folder, listing in (("objects", object_list), ("distractors", distractor_list))
                       for name, cat, path in listing]
            for index, outcome in ex.run(prepare_object, prepare):
                folder = prepare[index][4]
                if outcome.ok:
                    table.append((index, folder, outcome.value))
                    summary.objects_cut += outcome.value["cut"]
                else:
                    path, error = prepare[index][2], str(outcome.error)
                    if error.startswith(f"{path}: "):  # the reader's message names the file already
                        error = error[len(path) + 2:]
                    summary.objects_failed.append(f"{path}: {error}")
                    log(f"{path}: left out: {error}")
            table.sort(key=lambda t: t[0])
            ready = [v for _, f, v in table if f == "objects"]
            ready_distractors = [v for _, f, v in table if f == "distractors"]
            if not ready:
                raise CompositorError(f"{objects}: no object could be made ready; "
                                      + "; ".join(summary.objects_failed[:3]))
            if summary.objects_cut:
                log(f"{summary.objects_cut} object(s) cut with {settings.cutter} (kept in {run.path / 'objects'})")
            backgrounds_info = [(str(p.resolve()), p.stat().st_size) for p in background_list]
            config_hash = spec_hash({"settings": _settings_record(settings),
                                     "objects": [(e["name"], e["category"], e["sha256"]) for e in ready],
                                     "distractors": [(e["name"], e["sha256"]) for e in ready_distractors],
                                     "backgrounds": backgrounds_info})
            ex.setup(set_context, {"outdir": str(run.path), "settings": settings, "objects": ready,
                                   "distractors": ready_distractors,
                                   "backgrounds": [p for p, _ in backgrounds_info], "config_hash": config_hash})
            tasks = []
            for i in wanted:
                name = image_name(i, settings.count, settings.image_format)
                tasks.append(Task(Path(name).stem, name, Path(name).with_suffix(".json").as_posix(),
                                  job_hash(config_hash, i), i))
            t_execute = time.perf_counter()
            result = run.execute(tasks, render, ex, reporter,
                                 models=[(b, settings.backend_settings.get(b, {})) for b in settings.backends])
        for name in ("ok", "failed", "skipped", "redone", "records"):
            setattr(summary, name, getattr(result, name))
        summary.categories = sorted({e["category"] for e in ready})
        summary.coco, summary.annotations = assemble(run.path, tasks, result.records, summary.categories, settings)
        summary.seconds = time.perf_counter() - t0
        summary.start_seconds = (t_execute - t0) + result.start_seconds
    return summary


def assemble(outdir: Path, tasks: list[Task], records: list[dict], categories: list[str],
             settings: SynthSettings) -> tuple[Path, int]:
    """Write COCO instances (and YOLO labels) from the sidecars of the images that are done."""
    from .imageio import write_json, write_text

    ids = {name: i for i, name in enumerate(categories, 1)}
    ok = {r["id"] for r in records if r["status"] == "ok"}
    images, annotations = [], []
    labels: dict[str, str] = {}
    for task in tasks:
        label_path = outdir / "labels" / (Path(task.image).stem + ".txt")
        if task.id not in ok:
            label_path.unlink(missing_ok=True)
            continue
        # every ok job was written in this run (the worker hashed its image into the sidecar)
        # or verified by hash when the run resumed: reading the sidecar is enough here
        sidecar = verified(outdir, task, hash_image=False)
        if sidecar is None:
            raise CompositorError(f"{outdir / task.sidecar}: does not match its image after the run; run again "
                                  "with --resume.")
        image = sidecar["image"]
        image_id = int(sidecar["index"]) + 1
        images.append({"id": image_id, "file_name": task.image, "width": image["width"], "height": image["height"],
                       "seed": sidecar["image_seed"]})
        lines = []
        for obj in sidecar["objects"]:
            x, y, w, h = obj["bbox"]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[obj["category"]],
                                "bbox": [float(x), float(y), float(w), float(h)], "area": obj["area"],
                                "segmentation": obj["segmentation"], "iscrowd": 0})
            W, H = image["width"], image["height"]
            cx, cy = (x + w / 2) / W, (y + h / 2) / H
            lines.append(f"{ids[obj['category']] - 1} {cx:.6f} {cy:.6f} {w / W:.6f} {h / H:.6f}")
        labels[label_path.name] = "".join(line + "\n" for line in lines)
    coco = {"info": {"description": "compositor synth (Cut, Paste and Learn)", "seed": settings.seed,
                     "date_created": now(), "settings": _settings_record(settings)},
            "images": images, "annotations": annotations,
            "categories": [{"id": i, "name": name, "supercategory": "object"} for name, i in ids.items()]}
    coco_path = outdir / COCO_FILE
    write_json(coco_path, coco, compact=True)  # one line, as COCO files are: written fast, read by programs
    if settings.yolo:
        for name, text in labels.items():
            write_text(outdir / "labels" / name, text)
        names = "".join(f"  {i - 1}: {json.dumps(name)}\n" for name, i in ids.items())  # JSON strings are YAML
        yaml = (f"# YOLO dataset written by compositor synth\npath: {json.dumps(str(outdir))}\n"
                f"train: images\nval: images\nnames:\n{names}")
        write_text(outdir / "data.yaml", yaml)
    return coco_path, len(annotations)
