"""Cutting every photo of a folder: each photo is a task on the run executors ``batch`` and
``synth`` use (``runs.executors``: this process, or local worker processes), reported to the
same progress bar, and a photo that fails is reported while the rest go on.

Each photo ``FOLDER/REL.EXT`` gives the sticker ``OUTDIR/REL.png`` and its JSON sidecar (with
``all``, or several objects, ``REL_1.png``, ``REL_2.png``, ...), and with a mask folder its
full-size 8-bit mask ``MASKDIR/REL.png``. A photo's files are written together (all or none)
by the worker that cut it; the outputs do not depend on the number of workers."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .runs.executors import make_executor
from .runs.progress import Reporter, Silent
from .imageio.read import IMAGE_SUFFIXES


@dataclass(frozen=True)
class CutContext:
    """What every photo of the run shares, given to each worker once: the ready cutter (see
    ``api.cutter``), the folders, and the files its settings name (inputs, never overwritten)."""

    cutter: object
    folder: Path
    outdir: Path
    mask_dir: Path | None
    setting_files: tuple[str, ...] = ()


@dataclass
class CutSummary:
    """How a folder run went: photos, stickers made, the failures (photo, one sentence), seconds."""

    photos: int = 0
    stickers: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def photos(folder: str | os.PathLike) -> list[Path]:
    """The photos under ``folder`` (subfolders too, hidden names skipped), sorted; refuses
    (UsageError) a folder without any, and two photos that would be cut to the same sticker
    (the same name apart from the extension)."""
    folder = Path(folder)
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not found:
        raise UsageError(f"{folder}: holds no photos ({', '.join(IMAGE_SUFFIXES)}).")
    seen: dict[Path, Path] = {}
    for photo in found:
        rel = photo.relative_to(folder).with_suffix("")
        if rel in seen:
            raise UsageError(f"{photo}: has the same name as {seen[rel]} apart from the extension, and both would "
                             "be cut to the same sticker; rename one.")
        seen[rel] = photo
    return found


def sticker_paths(out: Path, count: int, all_objects: bool) -> list[Path]:
    """The sticker files of one photo cut to ``out``: ``out`` itself for one sticker, else
    ``STEM_1.png``, ``STEM_2.png``, ... (always numbered with ``all_objects``)."""
    if count == 1 and not all_objects:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, count + 1)]


def settings_record(settings) -> dict:
    """Every setting the cutter ran with, its defaults included (a sidecar that says {} for the
    defaults cannot tell a later reader, or a later version, what they were)."""
    import dataclasses

    return dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else dict(settings or {})


def sticker_writes(paths: list[Path], stickers, photo: dict, settings) -> list:
    """(path, write) pairs of each sticker and its sidecar (``photo``: the photo's file record,
    ``settings``: the ready cutter's)."""
    from . import records
    from .imageio import write_image, write_json

    writes = []
    for path, sticker in zip(paths, stickers):
        record = {"photo": photo, **records.sticker_record(sticker), "settings": settings_record(settings)}
        writes += [(path, lambda p=path, s=sticker: write_image(p, s.rgba)),
                   (path.with_suffix(".json"), lambda p=path, r=record: write_json(p.with_suffix(".json"), r))]
    return writes


def cut_photo(context: CutContext, photo: Path) -> dict:
    """Cut ``photo`` (a path under ``context.folder``) and write its stickers, sidecars and mask;
    the worker function of a folder run. Returns {"stickers": how many}."""
    from . import api, records
    from .cut.sticker import stickers_alpha
    from .imageio import check_outputs, read_rgb, write_all, write_mask

    rel = photo.relative_to(context.folder).with_suffix(".png")
    image = read_rgb(photo)
    stickers = api.cut(image, context.cutter, named=str(photo))
    paths = sticker_paths(context.outdir / rel, len(stickers), bool(getattr(context.cutter.settings, "all", False)))
    mask_out = context.mask_dir / rel if context.mask_dir is not None else None
    check_outputs([photo, *context.setting_files],
                  paths + [p.with_suffix(".json") for p in paths] + ([mask_out] if mask_out else []))
    writes = sticker_writes(paths, stickers, records.file_record(photo), context.cutter.settings)
    if mask_out is not None:
        mask = stickers_alpha(stickers, image.shape)
        writes.append((mask_out, lambda: write_mask(mask_out, mask)))
    write_all(writes)
    return {"stickers": len(stickers)}


def cut_folder(folder: str | os.PathLike, outdir: str | os.PathLike, cutter, *,
               mask_dir: str | os.PathLike | None = None, workers: int = 1, threads: int | None = None,
               setting_files: tuple[str, ...] = (), reporter: Reporter | None = None,
               found: list[Path] | None = None) -> CutSummary:
    """Cut every photo of ``folder`` (see ``photos``) with the ready ``cutter`` (``api.cutter``)
    into ``outdir`` (and masks into ``mask_dir``) on ``workers`` local processes (1: this
    process) of ``threads`` math-library threads each, telling ``reporter`` (a results line per
    photo: ``id`` the photo, ``status``, ``error``). A photo that fails is in the summary's
    ``failed``; the others go on. The caller checks the output folders; ``found`` is
    ``photos(folder)`` where the caller has it already."""
    t0 = time.perf_counter()
    folder = Path(folder)
    found = photos(folder) if found is None else found
    reporter = reporter or Silent()
    context = CutContext(cutter, folder, Path(outdir), Path(mask_dir) if mask_dir is not None else None,
                         tuple(setting_files))
    summary = CutSummary(photos=len(found))
    with make_executor("local", workers, limit=len(found), threads=threads) as executor:
        reporter.start(len(found), 0)
        try:
            for index, outcome in executor.run(cut_photo, found, context):
                photo = found[index]
                error = outcome.error
                if error.startswith(f"{photo}: "):  # the record names the photo once
                    error = error[len(f"{photo}: "):]
                if outcome.ok:
                    summary.stickers += outcome.value["stickers"]
                else:
                    summary.failed.append((photo, error))
                reporter.update({"id": str(photo), "status": "ok" if outcome.ok else "failed", "error": error or None,
                                 "seconds": round(outcome.seconds, 3)})
        finally:
            reporter.close()
    summary.failed.sort()
    summary.seconds = time.perf_counter() - t0
    return summary
