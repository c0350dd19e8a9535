"""Synth's dataset files, assembled from the sidecars of the images that are done: COCO
instances JSON per split and, optionally, YOLO txt labels with their ``data.yaml`` and a
Pascal VOC root (``voc/``: ``Annotations/STEM.xml``, the split lists
``ImageSets/Main/{train,val,trainval}.txt`` and ``JPEGImages/``, links to the images)."""
from __future__ import annotations

import dataclasses
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CompositorError
from ..records import now
from ..runs.outputs import Task, verified
from .settings import SPLITS, SynthSettings, coco_file


@dataclass
class Exported:
    """What ``assemble`` wrote: the COCO file and the number of images and annotations per split."""

    coco: dict[str, Path] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    annotations: dict[str, int] = field(default_factory=dict)


def assemble(outdir: Path, tasks: list[Task], records: list[dict], categories: list[str],
             settings: SynthSettings) -> Exported:
    """Write the COCO instances of each split (and, with ``settings.yolo``, YOLO labels and
    ``data.yaml``; with ``settings.voc``, VOC XML) into ``outdir`` from the sidecars of the
    ``tasks`` whose ``records`` say ok, with ``categories`` numbered from 1 (from 0 in YOLO).
    Without ``val`` there is the train split only. Image ids are the image's index + 1 and
    annotation ids run across both splits, so both are unique across the dataset."""
    from ..imageio import write_json, write_text

    splits = SPLITS if settings.val > 0 else SPLITS[:1]
    ids = {name: i for i, name in enumerate(categories, 1)}
    ok = {r["id"] for r in records if r["status"] == "ok"}
    images: dict[str, list] = {s: [] for s in splits}
    annotations: dict[str, list] = {s: [] for s in splits}
    texts: dict[Path, str] = {}
    voc_ids: dict[str, list[str]] = {s: [] for s in splits}
    count = 0
    for task in tasks:
        split = Path(task.image).parent.name
        stem = Path(task.image).stem
        label_path, voc_path = outdir / "labels" / split / f"{stem}.txt", outdir / VOC / "Annotations" / f"{stem}.xml"
        voc_image = outdir / VOC / "JPEGImages" / Path(task.image).name
        if task.id not in ok:
            for path in (label_path, voc_path, voc_image):
                path.unlink(missing_ok=True)
            continue
        # every ok job was written in this run (the worker hashed its image into the sidecar)
        # or verified by hash when the run resumed: reading the sidecar is enough here
        sidecar = verified(outdir, task, hash_image=False)
        if sidecar is None:
            raise CompositorError(f"{outdir / task.sidecar}: does not match its image after the run; run again "
                                  "with --resume.")
        image = sidecar["image"]
        W, H = image["width"], image["height"]
        image_id = int(sidecar["index"]) + 1
        images[split].append({"id": image_id, "file_name": Path(task.image).name, "width": W, "height": H,
                              "seed": sidecar["image_seed"]})
        lines = []
        for obj in sidecar["objects"]:
            x, y, w, h = obj["bbox"]
            count += 1
            annotations[split].append({"id": count, "image_id": image_id, "category_id": ids[obj["category"]],
                                       "bbox": [float(x), float(y), float(w), float(h)], "area": obj["area"],
                                       "segmentation": obj["segmentation"], "iscrowd": 0,
                                       **({"blend": obj["blend"]["name"]} if "blend" in obj else {})})
            cx, cy = (x + w / 2) / W, (y + h / 2) / H
            lines.append(f"{ids[obj['category']] - 1} {cx:.6f} {cy:.6f} {w / W:.6f} {h / H:.6f}")
        if settings.yolo:
            texts[label_path] = "".join(line + "\n" for line in lines)
        if settings.voc:
            texts[voc_path] = voc_xml(task.image, W, H, sidecar["objects"])
            voc_ids[split].append(stem)
    out = Exported()
    info = {"description": "compositor synth (Cut, Paste and Learn)", "seed": settings.seed,
            "date_created": now(), "settings": dataclasses.asdict(settings)}
    for split in splits:
        (outdir / "images" / split).mkdir(parents=True, exist_ok=True)  # an empty split is still a folder
        coco = {"info": {**info, "split": split}, "images": images[split], "annotations": annotations[split],
                "categories": [{"id": i, "name": name, "supercategory": "object"} for name, i in ids.items()]}
        out.coco[split] = outdir / coco_file(split)
        write_json(out.coco[split], coco, compact=True)  # one line, as COCO files are: written fast, read by programs
        out.images[split], out.annotations[split] = len(images[split]), len(annotations[split])
    for path, text in texts.items():
        write_text(path, text)
    if settings.voc:
        voc_root(outdir, tasks, ok, voc_ids)
    if settings.yolo:
        for split in splits:
            (outdir / "labels" / split).mkdir(parents=True, exist_ok=True)
        write_text(outdir / "data.yaml", data_yaml(outdir, categories, settings.val > 0, out.images.get("val", 0),
                                                   out.images.get("train", 0)))
    return out


def data_yaml(outdir: Path, categories: list[str], val: bool, val_images: int = 1, train_images: int = 1) -> str:
    """The YOLO ``data.yaml``: the dataset's root, its train and val image folders, and the class
    names by id; without a val split, or with one that no image drew (``val_images`` 0: a small
    run), ``val`` is null and a comment says why, since a trainer fails on an empty folder.
    ``train`` is required: when no image drew it (``train_images`` 0: a small run with a large
    val), it names the empty folder with a comment that says so and how to fill it."""
    names = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(categories))  # JSON strings are YAML
    if not val:
        split = "val: null  # made with --val 0: there is no validation split\n"
    elif val_images == 0:
        split = "val: null  # no image of this run drew the val split yet: make more images (--resume -n M)\n"
    else:
        split = "val: images/val\n"
    train = "train: images/train\n" if train_images else ("train: images/train  # empty: no image of this run drew "
                                                          "the train split yet: make more images (--resume -n M)\n")
    return (f"# YOLO dataset written by compositor synth\npath: {json.dumps(str(outdir))}\n"
            f"{train}{split}nc: {len(categories)}\nnames:\n{names}")


VOC = "voc"  # the Pascal VOC root in OUTDIR


def voc_root(outdir: Path, tasks: list[Task], ok: set[str], ids: dict[str, list[str]]) -> None:
    """Complete ``outdir/voc`` as a Pascal VOC root that VOC readers open as they open VOC2012:
    ``ImageSets/Main/SPLIT.txt`` (the image ids of each split, and ``trainval.txt`` for both, in
    index order; ``val.txt`` only with a val split) and ``JPEGImages/STEM.EXT``, a relative link to
    each ok image in ``images/SPLIT/`` (no second copy of the pixels). The XML files are written
    by ``assemble``."""
    from ..imageio import write_text

    main = outdir / VOC / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    for split, stems in {**ids, "trainval": sorted((s for stems in ids.values() for s in stems), key=int)}.items():
        write_text(main / f"{split}.txt", "".join(stem + "\n" for stem in stems))
    folder = outdir / VOC / "JPEGImages"
    folder.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        if task.id in ok:
            _link(folder / Path(task.image).name, Path("..", "..", task.image))


def _link(path: Path, target: Path) -> None:
    """``path`` made a symbolic link to ``target`` (relative to ``path``'s folder), atomically;
    left as it is when it already is that link."""
    try:
        if path.is_symlink() and Path(os.readlink(path)) == target:
            return
        temporary = path.with_name(f".{path.name}.link.part")
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise CompositorError(f"{path}: cannot link the image into the VOC folder ({exc.strerror or exc}).") from None


def voc_xml(image: str, width: int, height: int, objects: list[dict]) -> str:
    """Pascal VOC XML of one image: its file, size and each annotated object's class and box
    (VOC's 1-based pixel coordinates, both ends inside the box: ``xmin = x + 1``,
    ``xmax = x + w``), ``truncated`` when over 1% of its area fell off the image, ``occluded``
    when later objects hide over 1% of it (below that, resampling and soft edges, not a cut)."""
    root = ET.Element("annotation")
    path = Path(image)
    ET.SubElement(root, "folder").text = path.parent.name
    ET.SubElement(root, "filename").text = path.name
    ET.SubElement(root, "path").text = image
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "compositor synth"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for obj in objects:
        x, y, w, h = obj["bbox"]
        node = ET.SubElement(root, "object")
        ET.SubElement(node, "name").text = obj["category"]
        ET.SubElement(node, "pose").text = "Unspecified"
        ET.SubElement(node, "truncated").text = str(int(obj.get("truncation", 0) > 0.01))
        ET.SubElement(node, "occluded").text = str(int(obj.get("occlusion", 0) > 0.01))
        ET.SubElement(node, "difficult").text = "0"
        box = ET.SubElement(node, "bndbox")
        for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(box, tag).text = str(int(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"
