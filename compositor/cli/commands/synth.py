"""``compositor synth``: make synthetic detection data (Cut, Paste and Learn).

Paste objects at random onto backgrounds (objects per image, object size, rotation, truncation at the
border, an occlusion limit, unannotated distractors, a harmonizer drawn per image), reproducible
from --seed. Each image falls in the train or val split (--val, drawn from the image's own seed).
Writes, for SPLIT in train and val:
  OUTDIR/images/SPLIT/      the images, each with a JSON sidecar (its seed, split and layout)
  OUTDIR/annotations/instances_SPLIT.json
                            COCO instances: boxes and segmentation of the visible masks
                            (polygons with holes kept, or compressed RLE; made with pycocotools)
  OUTDIR/labels/SPLIT/, OUTDIR/data.yaml   with --yolo
  OUTDIR/voc/                              with --voc: a Pascal VOC root (Annotations/*.xml,
                                           ImageSets/Main/{train,val,trainval}.txt, JPEGImages/
                                           linking to the images)
  OUTDIR/masks/SPLIT/*.png                 with --instance-masks (0 background, k the k-th
                                           annotation of the image in the COCO file)
Opaque object photos are cut once (kept in OUTDIR/objects/); files with transparency are used
as is. To grow a dataset, run the same command with --resume and a larger -n: the images
already made are kept and the new ones are those a fresh run of that size would make.
"""
from __future__ import annotations

import argparse

from ... import plugins
from ...errors import UsageError
from ..options import add_run_options, command
from ..output import say


def add_parser(sub) -> None:
    """Add the ``synth`` command to the subparsers ``sub``."""
    from ...synth.settings import FORMATS, SEGMENTATIONS, SynthSettings

    d = SynthSettings()  # the defaults, declared once there
    p = command(sub, "synth", __doc__)
    p.add_argument("--objects", required=True, metavar="DIR",
                   help="object files; a subfolder is a category, a top-level file its own category")
    p.add_argument("--backgrounds", required=True, metavar="DIR", help="background photos")
    p.add_argument("-n", "--count", required=True, type=int, metavar="N", help="number of images")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="base seed; image i has its own seed from it (default: %(default)s)")
    p.add_argument("--size", metavar="WxH", help="image size: backgrounds scaled to cover it and cropped at random "
                                                 "(default: each background's own size)")
    p.add_argument("--objects-per-image", default=_pair(d.objects_per_image), metavar="MIN,MAX",
                   help="annotated objects per image (default: %(default)s)")
    p.add_argument("--distractors", metavar="DIR", help="objects pasted but not annotated")
    p.add_argument("--distractors-per-image", default=_pair(d.distractors_per_image), metavar="MIN,MAX",
                   help="(default: %(default)s)")
    p.add_argument("--object-size", default=_pair(d.scale), metavar="MIN,MAX",
                   help="object's long side as a fraction of the image's short side (default: %(default)s); "
                        "each object's sidecar records the scale this gave, in the one meaning of scale: the "
                        "factor its sticker's pixels were multiplied by")
    # the option's name before --object-size: scale means the sticker's pixels times it everywhere else
    p.add_argument("--scale", dest="old_scale", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rotation", default=_pair(d.rotation), metavar="MIN,MAX", help="degrees (default: %(default)s)")
    p.add_argument("--max-truncation", type=float, default=d.max_truncation, metavar="F",
                   help="largest fraction of an object's area off the image (default: %(default)s)")
    p.add_argument("--max-occlusion", type=float, default=d.max_occlusion, metavar="F",
                   help="largest fraction of an annotated object hidden by later ones (default: %(default)s)")
    p.add_argument("--backend", default=",".join(d.backends), metavar="NAMES",
                   help="harmonizers, comma-separated; one is drawn per image (default: %(default)s)")
    p.add_argument("--set", action="append", metavar="BACKEND.KEY=VALUE",
                   help="a backend setting, e.g. --set vgg19.iterations=20 (repeatable)")
    p.add_argument("--cutter", default=d.cutter, choices=plugins.names("cutter") or None,
                   help="cutter for opaque object photos (default: %(default)s)")
    p.add_argument("--blends", default=",".join(d.blends), metavar="LIST",
                   help="edge treatments, one drawn per object and recorded in its annotation (Cut-Paste-Learn's "
                        "'all blends'): a comma list of none, gaussian, box, motion, poisson, match "
                        "(default: %(default)s)")
    p.add_argument("--shadows", action="store_true", help="a contact and cast shadow under every object, from a "
                                                          "random light per image (recorded in its sidecar)")
    p.add_argument("--renders-per-layout", type=int, default=d.renders_per_layout, metavar="K",
                   help="render each layout K times, each with its own blends (and light): images K*j..K*j+K-1 "
                        "share layout j and its train/val split (default: %(default)s)")
    p.add_argument("--format", default=d.image_format, choices=FORMATS, help="image format (default: %(default)s)")
    p.add_argument("--segmentation", default=d.segmentation, choices=SEGMENTATIONS,
                   help="COCO segmentation (default: %(default)s)")
    p.add_argument("--val", type=float, default=d.val, metavar="F",
                   help="fraction of the images in the val split; 0: train only (default: %(default)s)")
    p.add_argument("--yolo", action="store_true", help="also write YOLO labels and data.yaml")
    p.add_argument("--voc", action="store_true",
                   help="also write a Pascal VOC root in OUTDIR/voc: XML per image and the split lists")
    p.add_argument("--instance-masks", action="store_true",
                   help="also write an instance-id PNG per image (masks/SPLIT/STEM.png)")
    p.add_argument("--only", metavar="INDICES",
                   help="generate only these images, e.g. 3,10-12 (the same pixels as in the full run)")
    add_run_options(p)


def _pair(values) -> str:
    """(MIN, MAX) as the option's text, ``MIN,MAX`` (whole numbers without a decimal point)."""
    return ",".join(f"{v:g}" for v in values)


def _object_size(args) -> tuple[float, float]:
    """``--object-size`` (or the old ``--scale``, with a note) as a (min, max) pair."""
    from ...synth import parse_pair

    if args.old_scale is not None:
        say("compositor synth: --scale is now called --object-size (the object's long side over the image's short "
            "side); elsewhere a scale multiplies the sticker's pixels.")
        return parse_pair(args.old_scale, "--scale")
    return parse_pair(args.object_size, "--object-size")


def run(args) -> int:
    """Generate the data set and print its summary; returns 0, or 1 when an image failed."""
    from ...runs.progress import ProgressReporter
    from ...finish.blends import parse_blends
    from ...synth import SynthSettings, parse_indices, parse_pair, parse_size, synth

    for option, value in (("--distractors", args.distractors), ("--only", args.only), ("--size", args.size)):
        if value is not None and not value.strip():  # given, so never quietly read as left out
            raise UsageError(f"{option} is empty; give it a value or leave the option out.")
    backend_settings = plugins.parse_set(args.set, scoped=True)
    settings = SynthSettings(
        count=args.count, seed=args.seed, size=parse_size(args.size) if args.size else None,
        objects_per_image=parse_pair(args.objects_per_image, "--objects-per-image", integer=True),
        distractors_per_image=parse_pair(args.distractors_per_image, "--distractors-per-image", integer=True),
        scale=_object_size(args), rotation=parse_pair(args.rotation, "--rotation"),
        max_truncation=args.max_truncation, max_occlusion=args.max_occlusion,
        backends=tuple(b.strip() for b in args.backend.split(",") if b.strip()), backend_settings=backend_settings,
        cutter=args.cutter, image_format=args.format, segmentation=args.segmentation, val=args.val, yolo=args.yolo,
        voc=args.voc, instance_masks=args.instance_masks, blends=parse_blends(args.blends), shadows=args.shadows,
        renders_per_layout=args.renders_per_layout)
    summary = synth(args.objects, args.backgrounds, args.output, settings, distractors=args.distractors,
                    indices=parse_indices(args.only, args.count) if args.only else None, workers=args.workers,
                    threads=args.threads,
                    executor=args.executor, ray_address=args.ray_address, resume=args.resume,
                    reporter=ProgressReporter(args.quiet, "synth"), log=say)
    say(summary.line())
    for split, path in summary.coco.items():
        say(f"{path}: {summary.images[split]} image(s), {summary.split_annotations[split]} annotation(s), "
            f"{len(summary.categories)} categor{'y' if len(summary.categories) == 1 else 'ies'}")
    extras = [f"YOLO labels in {summary.outdir / 'labels'}"] * args.yolo + [f"VOC in {summary.outdir / 'voc'}"] * args.voc \
        + [f"instance masks in {summary.outdir / 'masks'}"] * args.instance_masks
    if extras:
        say("; ".join(extras))
    return 1 if summary.failed else 0
