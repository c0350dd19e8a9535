"""Synth's dataset files, assembled from the sidecars of the images that are done: COCO
instances JSON and, optionally, YOLO txt labels with their ``data.yaml``."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import CompositorError
from ..records import now
from ..runs.outputs import Task, verified
from .settings import COCO_FILE, SynthSettings


def assemble(outdir: Path, tasks: list[Task], records: list[dict], categories: list[str],
             settings: SynthSettings) -> tuple[Path, int]:
    """Write COCO instances (and, with ``settings.yolo``, YOLO labels) into ``outdir`` from the
    sidecars of the ``tasks`` whose ``records`` say ok, with ``categories`` numbered from 1.
    Returns the COCO file's path and the number of annotations."""
    from ..imageio import write_json, write_text

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
                     "date_created": now(), "settings": dataclasses.asdict(settings)},
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
