"""Synth settings: how images are laid out, the parsers the command line uses for them,
and each image's own seed."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import plugins
from ..cut import DEFAULT_METHOD
from ..errors import UsageError

SEGMENTATIONS = ("polygon", "rle")
FORMATS = ("png", "jpg")
SPLITS = ("train", "val")
#: each setting as a sentence names it: its name and, in brackets, the synth option that sets it
#: (validation and a refused resume speak of both, for callers of the library and of the command)
LABELS = {
    "count": "count (-n)", "seed": "seed (--seed)", "size": "size (--size)",
    "objects_per_image": "objects per image (--objects-per-image)",
    "distractors_per_image": "distractors per image (--distractors-per-image)",
    "scale": "object size (scale, --object-size)", "rotation": "rotation (--rotation)",
    "max_truncation": "max truncation (--max-truncation)", "max_occlusion": "max occlusion (--max-occlusion)",
    "backends": "backends (--backend)", "backend_settings": "backend settings (--set)", "cutter": "cutter (--cutter)",
    "image_format": "image format (--format)", "segmentation": "segmentation (--segmentation)", "val": "val (--val)",
    "blends": "blends (--blends)", "shadows": "shadows (--shadows)",
    "renders_per_layout": "renders per layout (--renders-per-layout)",
}


def coco_file(split: str) -> str:
    """The COCO instances file of ``split`` in OUTDIR (``annotations/instances_train.json``)."""
    return f"annotations/instances_{split}.json"


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
    segmentation: str = plugins.setting(
        "polygon", "COCO segmentation: polygons (holes kept) or compressed RLE; both decode to the exact mask",
        SEGMENTATIONS)
    val: float = plugins.setting(0.1, "fraction of the images in the val split (each drawn from its own seed)")
    yolo: bool = plugins.setting(False, "also write YOLO txt labels and data.yaml")
    voc: bool = plugins.setting(False, "also write a Pascal VOC root (voc/: XML per image, split lists)")
    instance_masks: bool = plugins.setting(False, "also write an instance-id PNG per image (masks/SPLIT/STEM.png)")
    tries: int = plugins.setting(30, "placements tried per object before it is left out")
    blends: tuple[str, ...] = plugins.setting(("none",), "edge treatments, one drawn per object and recorded in "
                                                         "its annotation (none, gaussian, box, motion, poisson, match)")
    shadows: bool = plugins.setting(False, "a contact and cast shadow under every object, from a random light per image")
    renders_per_layout: int = plugins.setting(1, "images rendered from each layout, each with its own draw of "
                                                 "blends (and light): images K*j .. K*j+K-1 share layout j and "
                                                 "its split", bounds=(1, 1000))

    def validate(self) -> None:
        """Refuse (UsageError) settings out of range and unknown backends or cutters; each sentence
        names the setting and, in brackets, the synth option that sets it."""
        def pair(value, label, lo, hi=None, integer=False, ordered=True):
            if not isinstance(value, tuple) or len(value) != 2:
                raise UsageError(f"{label} must be a pair MIN,MAX; received {value!r}.")
            for v in value:
                plugins.check_range(v, lo, hi, label)
                if integer and not float(v).is_integer():
                    raise UsageError(f"{label} must be whole numbers; received {value!r}.")
            if ordered and value[0] > value[1]:
                raise UsageError(f"{label} must be MIN,MAX with MIN <= MAX; received {value[0]},{value[1]}.")

        plugins.check_range(self.count, 1, 100_000_000, LABELS["count"])
        plugins.check_range(self.seed, 0, 2**63 - 1, LABELS["seed"])
        if self.size is not None:
            pair(self.size, LABELS["size"], 16, 16384, integer=True, ordered=False)
        pair(self.objects_per_image, LABELS["objects_per_image"], 0, 1000, integer=True)
        pair(self.distractors_per_image, LABELS["distractors_per_image"], 0, 1000, integer=True)
        pair(self.scale, LABELS["scale"], 1e-3, 10.0)
        pair(self.rotation, LABELS["rotation"], -360.0, 360.0)
        plugins.check_range(self.max_truncation, 0.0, 0.99, LABELS["max_truncation"])
        plugins.check_range(self.max_occlusion, 0.0, 1.0, LABELS["max_occlusion"])
        plugins.check_range(self.tries, 1, 10_000, "tries")
        plugins.check_range(self.val, 0.0, 0.99, LABELS["val"])
        plugins.check_choice(self.image_format, FORMATS, LABELS["image_format"])
        plugins.check_choice(self.segmentation, SEGMENTATIONS, LABELS["segmentation"])
        if not self.backends:
            raise UsageError(f"{LABELS['backends']} is empty; name at least one harmonizer.")
        for name in self.backends:
            plugins.load("harmonizer", name)
        for name, values in self.backend_settings.items():
            if name not in self.backends:
                raise UsageError(f"settings are given for backend {name!r}, which is not among the backends "
                                 f"({', '.join(self.backends)}).")
            from .. import api

            api.harmonizer(name, **values)
        plugins.load("cutter", self.cutter)
        from ..finish.blends import parse_blends

        if parse_blends(self.blends) != tuple(self.blends):
            raise UsageError(f"{LABELS['blends']} must be distinct names of edge treatments; received {self.blends!r}.")
        plugins.check_range(self.renders_per_layout, 1, 1000, LABELS["renders_per_layout"], integer=True)
        if self.renders_per_layout > 1 and len(self.blends) < 2 and not self.shadows:
            raise UsageError(f"renders per layout {self.renders_per_layout} would repeat one image: the renders of a "
                             "layout differ by their blends (give several with --blends) or their light (--shadows).")


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


def image_split(seed: int, index: int, val: float) -> str:
    """The split ("train" or "val") of image ``index``: a draw from its own seed (a stream of
    its own, apart from the layout's), so ``--only``, resume and growth keep every image's split."""
    draw = np.random.default_rng(np.random.SeedSequence(image_seed(seed, index), spawn_key=(1,))).random()
    return "val" if draw < val else "train"


def layout_index(index: int, settings: SynthSettings) -> int:
    """The layout image ``index`` is rendered from: ``index // renders_per_layout``."""
    return int(index) // int(settings.renders_per_layout)


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index``: independent streams per image (NumPy SeedSequence spawn keys)."""
    state = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(index),)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))  # 63 bits: fits every int64 seed setting
