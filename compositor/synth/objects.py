"""Synth's objects: finding the object (and distractor) files and their categories, and
making each one ready as a sticker, cut from its photo once per run when it is opaque."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UsageError
from ..records import sticker_record
from ..runs.caches import sticker_file
from ..runs.executors import Executor
from ..runs.outputs import read_json
from ..runs.paths import confine
from ..imageio.read import IMAGE_SUFFIXES


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


def readable_images(files: list[Path]) -> tuple[list[Path], list[str]]:
    """The ``files`` whose header an image reader can read, and one line per file left out
    (``PATH: left out: REASON``): a background that is not an image would fail every image
    that drew it. Only the header is read here; the pixels are decoded when used."""
    from PIL import Image, UnidentifiedImageError

    from ..errors import CompositorError
    from ..imageio import check_readable

    good, left_out = [], []
    for path in files:
        try:
            check_readable(path)
            with Image.open(path) as im:
                im.size  # noqa: B018 - the header is parsed on open; the size is what it must give
        except CompositorError as exc:
            reason = str(exc)
            if reason.startswith(f"{path}: "):  # the check's sentence names the file already
                reason = reason[len(str(path)) + 2:]
            left_out.append(f"{path}: left out: {reason}")
        except UnidentifiedImageError:
            left_out.append(f"{path}: left out: not an image file (or a format Pillow cannot read).")
        except (OSError, SyntaxError, ValueError) as exc:
            left_out.append(f"{path}: left out: the image is corrupt or unreadable ({exc}).")
        else:
            good.append(path)
    return good, left_out


def object_files(folder: str | os.PathLike, what: str = "objects") -> list[tuple[str, str, Path]]:
    """(name, category, path) per object file: the category is the subfolder, or the file's stem."""
    root = Path(folder)
    out, seen = [], {}
    for path in image_files(root, what):
        rel = path.relative_to(root)
        try:
            rel.as_posix().encode("utf-8")
        except UnicodeEncodeError:  # a name in another encoding: it would reach instances.json as a lone surrogate
            shown = os.fsencode(rel.as_posix()).decode("utf-8", "backslashreplace")
            raise UsageError(f"{root / shown}: the name is not valid UTF-8 text, so it cannot be written as a "
                             "category or file name in the annotations; rename it in UTF-8.") from None
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
    OUTDIR/objects), its ``sha256``, ``source`` (the file in the objects folder), ``cut``
    (True when cut from a photo by the cutter) and, for a cut-out kept from an earlier run,
    ``reused``."""
    from .. import api
    from ..imageio import read_rgba, sha256_file, write_image, write_json
    from ..stickers import crop_to_alpha

    name, category, source, cutter, folder, outdir = payload
    source_sha = sha256_file(source)
    rgba = read_rgba(source)
    if rgba[..., 3].min() < 255:
        crop_to_alpha(rgba, source)  # refuses a fully transparent file
        return {"name": name, "category": category, "path": source, "sha256": source_sha, "source": source,
                "cut": False}
    target = confine(outdir, f"{folder}/{name}.png", f"object {name!r}")
    sidecar_path = target.with_suffix(".json")
    old = read_json(sidecar_path)
    if isinstance(old, dict) and old.get("source_sha256") == source_sha and old.get("cutter") == cutter:
        try:
            if sha256_file(target) == old.get("sha256"):
                return {"name": name, "category": category, "path": str(target), "sha256": old["sha256"],
                        "source": source, "cut": True, "reused": True}
        except OSError:
            pass
    sticker = api.cut(rgba[..., :3], cutter)[0]
    write_image(target, sticker.rgba)
    digest = sha256_file(target)
    write_json(sidecar_path, {"source": source, "source_sha256": source_sha, "cutter": cutter, "sha256": digest,
                              **sticker_record(sticker)})
    return {"name": name, "category": category, "path": str(target), "sha256": digest, "source": source,
            "cut": True}


def prepare_objects(executor: Executor, listings: dict[str, list[tuple[str, str, Path]]], cutter: str,
                    outdir: Path, log: Callable[[str], None]) -> tuple[list[dict], list[dict], list[str]]:
    """Make every object ready on ``executor`` (``prepare_object``); ``listings`` maps the
    folder in OUTDIR each kind is cut into ("objects", "distractors") to its ``object_files``.
    Returns the ready entries of the objects and of the distractors, in file order, and one
    line per file left out (also told to ``log``)."""
    payloads = [(name, category, str(path), cutter, folder, str(outdir))
                for folder, listing in listings.items() for name, category, path in listing]
    ready: dict[str, list[tuple[int, dict]]] = {folder: [] for folder in listings}
    failed = []
    for index, outcome in executor.run(prepare_object, payloads):
        if outcome.ok:
            ready[payloads[index][4]].append((index, outcome.value))
            continue
        path, error = payloads[index][2], str(outcome.error)
        if error.startswith(f"{path}: "):  # the reader's message names the file already
            error = error[len(path) + 2:]
        failed.append(f"{path}: {error}")
        log(f"{path}: left out: {error}")
    objects, distractors = ([entry for _, entry in sorted(ready[folder], key=lambda item: item[0])]
                            for folder in ("objects", "distractors"))
    return objects, distractors, failed


@lru_cache(maxsize=512)
def sticker_alpha(path: str) -> tuple[np.ndarray, float]:
    """The alpha of the sticker file at ``path`` as float32 in [0, 1] (read-only), and its area in
    pixels; once per process."""
    alpha = sticker_file(path).alpha
    alpha.setflags(write=False)
    return alpha, float(alpha.sum())
