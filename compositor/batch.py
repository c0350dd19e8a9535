"""Many composites at once: manifests, the run folder, resume, and progress.

A **manifest** lists jobs, one a line, in JSON Lines (``.jsonl``)::

    {"id": "cup-on-cat", "background": "chelsea.png",
     "objects": [{"source": "coffee.png", "cutter": "grabcut", "cut": {"box": [150, 60, 300, 280]},
                  "x": 110, "y": 225, "scale": 0.3, "rotation": 10},
                 {"sticker": "stickers/star.png", "x": 300, "y": 80}],
     "backend": "poisson", "settings": {"mode": "mixed"}, "seed": 7, "output": "cup-on-cat.png"}

or, for the simple case of one object per job, CSV (``.csv``) with a header row and the
columns ``id, background, source, sticker, cutter, box, x, y, scale, rotation, label,
backend, settings, seed, output`` (``box`` as ``X,Y,W,H``, ``settings`` as
``key=value;key=value``; empty cells take the defaults). An object is either cut from a
``source`` photo with a ``cutter`` (and its ``cut`` settings) or read from a ``sticker``
RGBA file. ``x``, ``y`` place the object's centre (default: the background's centre),
``scale`` and ``rotation`` (degrees counter-clockwise) as in ``compositor paste``.
Relative paths resolve against the manifest's folder, and so do the settings that are
paths (declared with ``path`` in their plugin's settings: magenta's ``style`` and local
``handle``, the cascade cutter's ``cascade`` file). A manifest is UTF-8 text (a byte-order mark is fine); a CSV row may
not have more cells than the header, nor so few that a required column is cut off.
``id`` defaults to the line number; ``output`` defaults to ``ID.png`` and must stay
inside OUTDIR, and neither the image nor its sidecar may take the name of one of the
run's own files (``run.json``, ``results.jsonl``).

**The run folder** (OUTDIR) holds each job's image and JSON sidecar, ``run.json`` (what
was run: settings, versions) and ``results.jsonl`` (one line per job: ``ok`` or
``failed``, the error, seconds). A job writes its image first and its sidecar last,
each atomically; the sidecar holds the image's sha256, so a sidecar whose hash matches
its image is the job's "done" marker. ``resume=True`` skips the jobs whose outputs are
complete and verified that way (and made by the same job spec), removes temporary files
a killed run left behind, and runs the rest; at the end ``results.jsonl`` is rewritten
with exactly one line per job. A failing job never stops the batch. Options are checked
before OUTDIR is made, and a fresh run that fails before its first job leaves no run
record behind, so the corrected command needs no ``--resume``.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from . import plugins
from .cut import DEFAULT_METHOD
from .errors import CompositorError, UsageError
from .executors import Executor, Outcome, _executor, check_executor
from .records import file_record, image_record, now, placed_record, result_record, versions, worker_record

RESULTS = "results.jsonl"
RUN_INFO = "run.json"
LOCK = ".compositor.lock"
RESERVED = (RESULTS, RUN_INFO, LOCK)  # the run's own files in OUTDIR (compared without case)
JOB_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
MANIFEST_KEYS = ("id", "background", "objects", "backend", "settings", "seed", "output")
OBJECT_KEYS = ("source", "sticker", "cutter", "cut", "x", "y", "scale", "rotation", "label")
CSV_COLUMNS = ("id", "background", "source", "sticker", "cutter", "box", "x", "y", "scale", "rotation", "label",
               "backend", "settings", "seed", "output")


# ------------------------------------------------------------------------------------------
# paths: ids and outputs are confined to OUTDIR


def check_job_id(job_id: Any, where: str = "") -> str:
    """A job id is 1-200 of ``A-Z a-z 0-9 . _ -``, not starting with a dot."""
    prefix = f"{where}: " if where else ""
    if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id >= 0:
        job_id = str(job_id)
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise UsageError(f"{prefix}job id {job_id!r} is not allowed; use 1-200 letters, digits, '.', '_' or '-', "
                         "not starting with a dot (ids name output files).")
    return job_id


def confine(outdir: str | os.PathLike, relative: str | os.PathLike, where: str = "") -> Path:
    """``OUTDIR/relative``, resolved; refuses absolute paths, ``..`` that leaves OUTDIR,
    look-alike siblings (``../OUTDIR-evil``), symlinks out, hidden names and reserved names."""
    prefix = f"{where}: " if where else ""
    rel = Path(relative)
    if not str(relative).strip() or rel.is_absolute() or rel.anchor:
        raise UsageError(f"{prefix}output {str(relative)!r} must be a relative path inside the output folder.")
    root = Path(outdir).resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or target == root:
        raise UsageError(f"{prefix}output {str(relative)!r} escapes the output folder {root}; "
                         "outputs must stay inside it.")
    inner = target.relative_to(root)
    if any(part.startswith(".") for part in inner.parts):
        raise UsageError(f"{prefix}output {str(relative)!r} has a hidden name (starting with '.'); "
                         "those are kept for temporary files.")
    if is_reserved(inner):
        raise UsageError(f"{prefix}output {str(relative)!r} is reserved for the run's own records.")
    return target


def is_reserved(inner: str | os.PathLike) -> bool:
    """Whether a path relative to OUTDIR names one of the run's own files (``run.json``,
    ``results.jsonl``, the lock); without case, for case-insensitive file systems."""
    return Path(inner).as_posix().lower() in {name.lower() for name in RESERVED}


def sidecar_name(output: str | os.PathLike) -> Path:
    """The JSON sidecar that goes with an image output: the same name with ``.json``."""
    return Path(output).with_suffix(".json")


def within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


# ------------------------------------------------------------------------------------------
# manifests


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a job: cut from ``source`` with ``cutter`` or read from ``sticker``."""

    source: str | None = None
    sticker: str | None = None
    cutter: str = DEFAULT_METHOD
    cut: dict = field(default_factory=dict)
    x: float | None = None
    y: float | None = None
    scale: float = 1.0
    rotation: float = 0.0
    label: str | None = None


@dataclass(frozen=True)
class Job:
    """One composite: paths are absolute (resolved against the manifest's folder)."""

    id: str
    background: str
    objects: tuple[ObjectSpec, ...]
    backend: str
    settings: dict
    seed: int
    output: str  # relative to OUTDIR

    def spec(self) -> dict:
        return dataclasses.asdict(self)


def _number(value: Any, label: str, where: str, *, integer: bool = False, positive: bool = False):
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value)
        except ValueError:
            raise UsageError(f"{where}: {label} must be a {'whole ' if integer else ''}number; "
                             f"received {value!r}.") from None
    plugins.check_range(value, None, None, f"{where}: {label}", integer=False)
    if integer and not float(value).is_integer():
        raise UsageError(f"{where}: {label} must be a whole number; received {value!r}.")
    if positive and value <= 0:
        raise UsageError(f"{where}: {label} must be positive; received {value!r}.")
    return int(value) if integer else float(value)


def _input_path(value: Any, label: str, base: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {label} must be a file path; received {value!r}.")
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _settings_text(text: str, where: str) -> dict:
    try:
        return plugins.parse_set(filter(None, (s.strip() for s in text.split(";"))), strip=True)
    except UsageError:
        raise UsageError(f"{where}: settings must be key=value;key=value; received {text!r}.") from None


def _setting_paths(kind: str, name: Any, settings: dict, base: Path) -> dict:
    """``settings`` with the values that name files (settings declared with ``path``, see
    ``plugins.setting``) made absolute against ``base``, the manifest's folder."""
    if not isinstance(name, str) or not settings:
        return settings
    try:
        cls = plugins.load(kind, name)
    except CompositorError:  # unknown or broken: _check_plugin reports it with the line
        return settings
    out = dict(settings)
    for key, value in settings.items():
        if plugins.path_value(cls, str(key).replace("-", "_"), value):
            path = Path(value.strip()).expanduser()
            out[key] = str(path if path.is_absolute() else (base / path).resolve())
    return out


def _check_plugin(kind: str, name: Any, settings: dict, where: str) -> None:
    """The plugin exists and the settings are valid for it; errors name the manifest line."""
    if not isinstance(name, str):
        raise UsageError(f"{where}: the {kind} must be a name; received {name!r}.")
    try:
        plugins.make_settings(plugins.load(kind, name), settings)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _object(raw: Any, base: Path, where: str) -> ObjectSpec:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: each object must be a JSON object; received {raw!r}.")
    unknown = set(raw) - set(OBJECT_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown object field(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(OBJECT_KEYS)}.")
    has_source, has_sticker = raw.get("source") is not None, raw.get("sticker") is not None
    if has_source == has_sticker:
        raise UsageError(f"{where}: an object needs exactly one of 'source' (a photo to cut) or 'sticker' "
                         "(an RGBA file).")
    cutter = raw.get("cutter") or DEFAULT_METHOD
    cut = raw.get("cut") or {}
    if not isinstance(cut, dict):
        raise UsageError(f"{where}: 'cut' must be an object of cutter settings; received {cut!r}.")
    if has_source:
        cut = _setting_paths("cutter", cutter, cut, base)
        _check_plugin("cutter", cutter, cut, where)
    elif raw.get("cutter") is not None or cut:
        raise UsageError(f"{where}: 'cutter' and 'cut' go with 'source', not with 'sticker'.")
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise UsageError(f"{where}: label must be text; received {label!r}.")
    return ObjectSpec(
        source=_input_path(raw["source"], "source", base, where) if has_source else None,
        sticker=_input_path(raw["sticker"], "sticker", base, where) if has_sticker else None,
        cutter=cutter, cut=dict(cut),
        x=None if raw.get("x") is None else _number(raw["x"], "x", where),
        y=None if raw.get("y") is None else _number(raw["y"], "y", where),
        scale=1.0 if raw.get("scale") is None else _number(raw["scale"], "scale", where, positive=True),
        rotation=0.0 if raw.get("rotation") is None else _number(raw["rotation"], "rotation", where),
        label=label)


def _refuse_nul(value: Any, where: str, label: str = "") -> None:
    """Refuse text with a NUL character anywhere in a job: no file name can hold one, and the
    OS refuses it only later, without the line."""
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(item, where, f"{label}.{key}" if label else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value, 1):
            _refuse_nul(item, where, f"{label}[{i}]")
    elif isinstance(value, str) and "\0" in value:
        raise UsageError(f"{where}: {label} {value!r} holds a NUL character, which no file name can hold.")


def _job(raw: dict, base: Path, where: str, number: int, default_backend: str) -> Job:
    from .imageio import image_format

    _refuse_nul(raw, where)
    unknown = set(raw) - set(MANIFEST_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(MANIFEST_KEYS)}.")
    job_id = check_job_id(raw["id"] if raw.get("id") is not None else f"{number:06d}", where)
    if raw.get("background") is None:
        raise UsageError(f"{where}: 'background' is missing.")
    objects = raw.get("objects")
    if not isinstance(objects, list) or not objects:
        raise UsageError(f"{where}: 'objects' must be a non-empty list.")
    backend = raw.get("backend") or default_backend
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"{where}: 'settings' must be an object of backend settings; received {settings!r}.")
    settings = _setting_paths("harmonizer", backend, settings, base)
    _check_plugin("harmonizer", backend, settings, where)
    output = raw.get("output") or f"{job_id}.png"
    if not isinstance(output, str):
        raise UsageError(f"{where}: output must be a relative file name; received {output!r}.")
    try:
        image_format(output)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    for name, what in ((output, "output"), (sidecar_name(output), "sidecar")):
        if is_reserved(os.path.normpath(name)):
            raise UsageError(f"{where}: the job's {what} {Path(name).as_posix()!r} would overwrite the run's own "
                             f"{Path(os.path.normpath(name)).name}; choose another id or output name.")
    return Job(id=job_id, background=_input_path(raw["background"], "background", base, where),
               objects=tuple(_object(o, base, f"{where}: object {i}") for i, o in enumerate(objects, 1)),
               backend=backend, settings=dict(settings),
               seed=0 if raw.get("seed") is None else _number(raw["seed"], "seed", where, integer=True),
               output=output)


def _manifest_text(path: Path) -> str:
    """The manifest's text: UTF-8, with or without a byte-order mark; anything else is refused
    with the line of the first byte that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CompositorError(f"{path}: cannot read the manifest ({exc.strerror or exc}).") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        line = before.count("\n") + 1
        raise UsageError(f"{path}:{line}: the manifest is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                         "cannot be decoded); save it as UTF-8.") from None


def _csv_rows(path: Path) -> Iterable[tuple[int, dict]]:
    """(line, {column: cell}) per row; rows with more cells than the header, or too few to
    hold a required column, are refused."""
    reader = csv.reader(io.StringIO(_manifest_text(path), newline=""))
    try:
        header = next((row for row in reader if row), None)
        if not header:
            raise UsageError(f"{path}: the CSV manifest has no header row.")
        header_line = reader.line_num
        unknown = [c for c in header if c not in CSV_COLUMNS]
        if unknown:
            raise UsageError(f"{path}:{header_line}: unknown column(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(CSV_COLUMNS)}.")
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:
            raise UsageError(f"{path}:{header_line}: the header names column(s) {', '.join(twice)} more than once; "
                             "each column may appear once.")
        for row in reader:
            if not row:  # a blank line
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) > len(header):
                raise UsageError(f"{where}: the row has {len(row)} cells but the header names {len(header)} "
                                 "columns; quote cells that hold commas.")
            cells = dict(zip(header, row))
            missing = header[len(row):]
            if missing:
                filled = {k for k, v in cells.items() if v.strip()}
                required = {"background"} | ({"source", "sticker"} if not filled & {"source", "sticker"} else set())
                lost = [c for c in missing if c in required]
                if lost:
                    raise UsageError(f"{where}: the row has {len(row)} cells but the header names {len(header)} "
                                     f"columns, so it has no {' or '.join(lost)}; give every row all the cells.")
            yield reader.line_num, cells
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: not valid CSV ({exc}).") from None


def _csv_job(row: dict, where: str) -> dict:
    cell = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
    cell = {k: v for k, v in cell.items() if v not in ("", None)}
    obj = {k: cell[k] for k in ("source", "sticker", "cutter", "x", "y", "scale", "rotation", "label") if k in cell}
    if "box" in cell:
        obj["cut"] = {"box": cell["box"]}
    job = {k: cell[k] for k in ("id", "background", "backend", "seed", "output") if k in cell}
    job["objects"] = [obj]
    if "settings" in cell:
        job["settings"] = _settings_text(cell["settings"], where)
    return job


def read_manifest(path: str | os.PathLike, *, default_backend: str = "vgg19") -> list[Job]:
    """The jobs of a ``.jsonl`` or ``.csv`` manifest, validated (ids, paths, backends, settings)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such manifest file.")
    suffix = path.suffix.lower()
    base = path.resolve().parent
    jobs: list[Job] = []
    if suffix in (".jsonl", ".ndjson", ".json"):
        with io.StringIO(_manifest_text(path), newline=None) as fh:  # newlines as in a text file
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                     "a JSON Lines manifest has one job object per line.") from None
                if not isinstance(raw, dict):
                    raise UsageError(f"{where}: each line must be a JSON object (a job).")
                jobs.append(_job(raw, base, where, number, default_backend))
    elif suffix == ".csv":
        for number, row in _csv_rows(path):
            where = f"{path}:{number}"
            jobs.append(_job(_csv_job(row, where), base, where, number, default_backend))
    else:
        raise UsageError(f"{path}: a manifest is .jsonl (JSON Lines) or .csv; received {suffix or 'no extension'!r}.")
    if not jobs:
        raise UsageError(f"{path}: the manifest lists no jobs.")
    seen: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if job.id in seen:
            raise UsageError(f"{path}: job id {job.id!r} appears twice; ids must be unique.")
        seen[job.id] = i
    return jobs


# ------------------------------------------------------------------------------------------
# tasks, the run folder, resume


@dataclass(frozen=True)
class Task:
    """One unit of work: the worker function gets ``payload`` and writes ``image`` then
    ``sidecar`` (both relative to OUTDIR); ``job_hash`` ties the outputs to the spec."""

    id: str
    image: str
    sidecar: str
    job_hash: str
    payload: Any


def spec_hash(spec: Any) -> str:
    text = json.dumps(spec, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Summary:
    """How a run went; ``records`` has one final line per job, in job order."""

    outdir: Path
    total: int
    ok: int = 0
    failed: int = 0
    skipped: int = 0  # complete and verified before this run (resume)
    redone: int = 0  # outputs present but made by a different spec, or incomplete
    seconds: float = 0.0  # the whole run
    start_seconds: float = 0.0  # of which before the first job: worker start-up, objects, setup, resume checks
    records: list[dict] = field(default_factory=list)

    @property
    def ran(self) -> int:
        """Jobs run by this invocation (not skipped), whether they succeeded or failed."""
        return self.ok + self.failed - self.skipped

    @property
    def made(self) -> int:
        """Composites made by this invocation: its ok jobs (the skipped ones were made before)."""
        return max(0, self.ok - self.skipped)

    @property
    def per_minute(self) -> float:
        """Composites made by this invocation per minute of its whole run (failed jobs make none)."""
        return self.made / self.seconds * 60 if self.seconds > 0 else 0.0

    @property
    def per_minute_running(self) -> float:
        """Composites made per minute once the workers were up (start-up excluded)."""
        busy = self.seconds - self.start_seconds
        return self.made / busy * 60 if busy > 0 else 0.0

    def line(self) -> str:
        parts = [f"{self.total} job(s): {self.ok} ok", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        if self.redone:
            parts.append(f"{self.redone} redone")
        rate = f", {self.per_minute:.1f} composites/min" if self.made > 0 else ""
        start = f" (start-up {self.start_seconds:.1f} s)" if self.start_seconds >= 0.5 else ""
        return ", ".join(parts) + f" in {self.seconds:.1f} s{start}{rate}; results in {self.outdir / RESULTS}"


class Reporter(Protocol):
    def start(self, total: int, done: int) -> None: ...

    def update(self, record: dict) -> None: ...

    def close(self) -> None: ...


class ProgressReporter:
    """A progress bar with ok/failed counts, rate and ETA (tqdm), on stderr. ``quiet``: no
    bar, one line per failed job (for logs)."""

    def __init__(self, quiet: bool = False, desc: str = "batch", file=None):
        self.quiet, self.desc, self.file = quiet, desc, file or sys.stderr
        self.bar = None
        self.ok = self.failed = 0

    def start(self, total: int, done: int) -> None:
        self.ok = done
        from .progress import bar

        self.bar = bar(total, desc=self.desc, unit="img", quiet=self.quiet, initial=done, smoothing=0.1,
                       file=self.file)
        if self.bar is not None:
            self.bar.set_postfix(ok=self.ok, failed=0)

    def update(self, record: dict) -> None:
        if record["status"] == "ok":
            self.ok += 1
        else:
            self.failed += 1
            line = f"{record['id']}: failed: {record['error']}"
            if self.bar is not None:
                self.bar.write(line, file=self.file)
            else:
                print(line, file=self.file, flush=True)
        if self.bar is not None:
            self.bar.set_postfix(ok=self.ok, failed=self.failed, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Silent:
    def start(self, total, done):
        pass

    def update(self, record):
        pass

    def close(self):
        pass


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def verified(outdir: Path, task: Task, hash_image: bool = True) -> dict | None:
    """The task's sidecar if its outputs are complete: the sidecar parses, names this task
    and spec, and its sha256 matches the image on disk (with ``hash_image`` False: the image
    exists, for outputs this run has just written or verified); else None."""
    from .imageio import sha256_file

    sidecar = _read_json(outdir / task.sidecar)
    if not isinstance(sidecar, dict) or sidecar.get("id") != task.id or sidecar.get("job_hash") != task.job_hash:
        return None
    image = sidecar.get("image") or {}
    if image.get("path") != task.image:
        return None
    if not hash_image:
        return sidecar if (outdir / task.image).is_file() else None
    try:
        return sidecar if sha256_file(outdir / task.image) == image.get("sha256") else None
    except OSError:
        return None


def write_outputs(outdir: Path, task_image: str, task_sidecar: str, pixels: np.ndarray, record: dict) -> dict:
    """Write the image, then the sidecar (the done marker, holding the image's sha256); both atomically."""
    from .imageio import sha256_file, write_image, write_json

    image_path, sidecar_path = outdir / task_image, outdir / task_sidecar
    write_image(image_path, pixels)
    sidecar = {**record, "image": image_record(task_image, sha256_file(image_path), pixels)}
    write_json(sidecar_path, sidecar, compact=True)  # one line: written for every image, read by programs
    return sidecar


class RunFolder:
    """OUTDIR for one run: locked against a second run, fresh or resumed, with
    ``run.json`` and ``results.jsonl``. Use as a context manager.

    A fresh run that fails before its first job starts (a worker that cannot start, no
    object that could be made ready, Ctrl-C during start-up) takes back what it wrote,
    and OUTDIR itself when it made it, so the same command can simply be run again."""

    def __init__(self, outdir: str | os.PathLike, kind: str, *, resume: bool = False, info: dict | None = None,
                 inputs: Iterable[str | os.PathLike] = (), same: Iterable[str] = ()):
        self.path = Path(outdir).resolve()
        self.kind, self.resume, self.info = kind, resume, json.loads(json.dumps(info or {}, default=str))
        self.same = tuple(same)  # keys of ``info`` a resumed run must share with the earlier one
        self.inputs = [Path(p) for p in inputs]
        self._lock = None
        self._lock_made = False  # the lock file did not exist before this run opened it
        self.started = False  # set by execute once the first job is handed out
        self._fresh = False  # no earlier run in OUTDIR: everything in it is this run's
        self._made: Path | None = None  # the topmost folder this run created (OUTDIR or a parent)

    # -- opening

    def __enter__(self) -> "RunFolder":
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{self.path}: the output folder is a file.")
        for folder in self.inputs:
            if folder.is_dir() and (within(self.path, folder) or within(folder, self.path)):
                raise UsageError(f"{self.path}: the output folder overlaps the input folder {folder}; "
                                 "choose an output folder outside it (inputs are never overwritten).")
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CompositorError(f"{self.path}: cannot create the output folder ({exc.strerror or exc}).") from None
        self._made = missing[-1] if missing else None
        try:
            self._acquire()
            self._check_state()
            self.clean_partial()
            self._write_info()
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self.started:
            self._undo()
        self._release()

    def _undo(self) -> None:
        """Take back a fresh run that never started a job: remove what it wrote (only a run
        that found OUTDIR empty, or made it, owns everything in it) and the folders it made."""
        try:
            if self._fresh and self.path.is_dir():
                for entry in self.path.iterdir():
                    if entry.name == LOCK:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
            if self._lock_made or (self._made is not None and self._fresh):
                (self.path / LOCK).unlink(missing_ok=True)  # a refused run leaves no trace in the folder
            if self._made is not None:
                for folder in (self.path, *self.path.parents):
                    folder.rmdir()  # only empty ones; stops at the first that is not
                    if folder == self._made:
                        break
        except OSError:
            pass  # best effort: whatever is left is not a run record that blocks a new run
        finally:
            self._release()

    def _acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        self._lock_made = not (self.path / LOCK).exists()
        fh = open(self.path / LOCK, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            self._lock_made = False  # another run's: it stays
            raise UsageError(f"{self.path}: another compositor run is using this output folder.") from None
        self._lock = fh

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def _check_state(self) -> None:
        info = _read_json(self.path / RUN_INFO)
        entries = [p.name for p in self.path.iterdir() if p.name != LOCK]
        if info is None:
            if entries and (self.path / RUN_INFO).exists():
                raise UsageError(f"{self.path / RUN_INFO}: unreadable; this folder's earlier run cannot be resumed.")
            if entries:
                raise UsageError(f"{self.path}: the output folder is not empty and holds no compositor run; "
                                 "choose an empty or new folder.")
            self._fresh = True
            return
        if info.get("kind") != self.kind:
            raise UsageError(f"{self.path}: holds a `compositor {info.get('kind')}` run, not a {self.kind} run; "
                             "choose another output folder.")
        if not self.resume:
            raise UsageError(f"{self.path}: holds an earlier {self.kind} run; pass --resume to continue it, "
                             "or choose a new output folder.")
        changed = [key for key in self.same if info.get(key) != self.info.get(key)]
        if changed:
            raise UsageError(f"{self.path}: the earlier {self.kind} run used other {', '.join(changed)}; resume it "
                             "with the same ones, or choose a new output folder.")
        self.info["runs"] = list(info.get("runs", [info.get("created")])) + [now()]
        self.info["created"] = info.get("created")

    def _write_info(self) -> None:
        from .imageio import write_json

        self.info.setdefault("created", now())
        self.info.setdefault("runs", [self.info["created"]])
        write_json(self.path / RUN_INFO, {"kind": self.kind, **self.info, "versions": versions()})

    def clean_partial(self) -> int:
        """Remove the temporary ``.NAME.*.part`` files a killed run left behind."""
        removed = 0
        for folder, dirs, files in os.walk(self.path):
            for name in files:
                if name.startswith(".") and name.endswith(".part"):
                    Path(folder, name).unlink(missing_ok=True)
                    removed += 1
        return removed

    # -- results

    def previous_results(self) -> dict[str, dict]:
        """The last complete line per job id in results.jsonl (a torn last line is ignored)."""
        out: dict[str, dict] = {}
        try:
            with open(self.path / RESULTS, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and isinstance(record.get("id"), str):
                        out[record["id"]] = record
        except FileNotFoundError:
            pass
        return out

    def write_results(self, records: list[dict]) -> None:
        from .imageio import write_text

        text = "".join(json.dumps(r, default=str) + "\n" for r in records)
        write_text(self.path / RESULTS, text)

    def _append(self, fd: int, record: dict) -> None:
        """Append one line to results.jsonl in one write; a disk that takes only part of it
        stops the run with one sentence (a torn last line is ignored when resuming)."""
        data = (json.dumps(record, default=str) + "\n").encode("utf-8")
        try:
            while data:  # a short write is retried: it completes or raises the OS's error
                data = data[os.write(fd, data):]
        except OSError as exc:
            raise CompositorError(f"{self.path / RESULTS}: could not record job {record.get('id')}'s result "
                                  f"({exc.strerror or exc}).") from None

    def execute(self, tasks: list[Task], fn: Callable[[Any], dict], executor: Executor,
                reporter: Reporter | None = None, models: list[tuple[str, dict]] = ()) -> Summary:
        """Run the tasks not already done (when resuming); one results line per job. The
        ``models`` (backend, settings) pairs are loaded in every worker first, when there is
        anything left to run."""
        reporter = reporter or _Silent()
        t0 = time.perf_counter()
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids):
            raise UsageError("two jobs have the same id; ids must be unique.")
        previous = self.previous_results() if self.resume else {}
        summary = Summary(outdir=self.path, total=len(tasks))
        final: dict[str, dict] = {}
        for t in tasks:
            sidecar = verified(self.path, t) if self.resume else None
            if sidecar is not None:
                old = previous.get(t.id)
                final[t.id] = old if old and old.get("status") == "ok" else _record_from_sidecar(t, sidecar)
            elif self.resume and (self.path / t.sidecar).exists():
                summary.redone += 1
        summary.skipped = len(final)
        self.write_results([final[t.id] for t in tasks if t.id in final])
        todo = [t for t in tasks if t.id not in final]
        if todo and models:
            executor.setup(load_models, list(models))
        summary.start_seconds = time.perf_counter() - t0
        reporter.start(len(tasks), len(final))
        fd = os.open(self.path / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.started = True  # from here on, the folder holds (or may hold) this run's jobs
        try:
            for index, outcome in executor.run(fn, [t.payload for t in todo]):
                task = todo[index]
                record = _record(task, outcome)
                self._append(fd, record)
                final[task.id] = record
                reporter.update(record)
        finally:
            os.close(fd)
            reporter.close()
        records = [final[t.id] for t in tasks if t.id in final]
        self.write_results(records)
        summary.records = records
        summary.ok = sum(r["status"] == "ok" for r in records)
        summary.failed = sum(r["status"] != "ok" for r in records)
        summary.seconds = time.perf_counter() - t0
        return summary


def _record(task: Task, outcome: Outcome) -> dict:
    base = {"id": task.id, "image": task.image, "sidecar": task.sidecar, "finished": now()}
    if outcome.ok:
        return {**base, **(outcome.value or {}), "status": "ok", "error": None, "seconds": round(outcome.seconds, 3)}
    record = {**base, "status": "failed", "error": outcome.error, "seconds": round(outcome.seconds, 3)}
    if outcome.detail:
        record["traceback"] = outcome.detail
    return record


def _record_from_sidecar(task: Task, sidecar: dict) -> dict:
    return {"id": task.id, "image": task.image, "sidecar": task.sidecar, "finished": sidecar.get("finished"),
            "status": "ok", "error": None, "seconds": sidecar.get("seconds"), "worker": sidecar.get("worker")}


# ------------------------------------------------------------------------------------------
# per-process caches (each worker keeps its own: models, stickers, backgrounds)


@lru_cache(maxsize=16)
def harmonizer(name: str):
    return plugins.load("harmonizer", name)()


@lru_cache(maxsize=1024)
def file_digest(path: str) -> str:
    from .imageio import sha256_file

    return sha256_file(path)


@lru_cache(maxsize=16)
def background_image(path: str) -> np.ndarray:
    from .imageio import read_rgb

    image = read_rgb(path)
    image.setflags(write=False)
    return image


@lru_cache(maxsize=512)
def sticker_file(path: str):
    """``stickers.read_sticker(path)`` (cropped to its alpha), read once per process."""
    from .stickers import read_sticker

    sticker = read_sticker(path)
    sticker.rgba.setflags(write=False)
    return sticker


@lru_cache(maxsize=256)
def cut_sticker(path: str, cutter: str, settings_json: str):
    """The best object cut from ``path``; each photo is cut once per process and setting."""
    from . import api

    try:
        return api.cut(path, cutter, **json.loads(settings_json))[0]
    except UsageError:
        raise
    except CompositorError as exc:
        raise CompositorError(f"{path}: {exc}") from exc


def harmonize_settings(backend: str, settings: dict, seed: int):
    """The backend's settings with ``seed`` filled in when the backend has one and it is unset."""
    cls = type(harmonizer(backend))  # the plugin class, looked up once per process
    values = dict(settings)
    if "seed" not in values and any(f.name == "seed" for f in dataclasses.fields(cls.Settings)):
        values["seed"] = seed
    return plugins.make_settings(cls, values)


def load_models(backends: list[tuple[str, dict]]) -> None:
    """Worker setup: load each (backend, settings)'s model before the first job, for the
    backends whose plugin has a ``load`` method. One that cannot load is passed over here:
    its jobs fail with the reason, and the others run."""
    for name, values in backends:
        try:
            plugin = harmonizer(name)
            load = getattr(plugin, "load", None)
            if load is not None:
                load(harmonize_settings(name, values, 0))
        except Exception:  # reported by each job that uses it
            continue


def backends_to_load(pairs: Iterable[tuple[str, dict]], limit: int = 8) -> list[tuple[str, dict]]:
    """The distinct (backend, settings) pairs, first seen first, at most ``limit``."""
    out: list[tuple[str, dict]] = []
    for name, values in pairs:
        if (name, values) not in out:
            out.append((name, values))
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------------------------------
# manifest jobs in a worker

_CONTEXT: dict[str, Any] = {}


def set_context(context: dict) -> None:
    """Worker setup: the run's shared context (sent once per worker)."""
    _CONTEXT.clear()
    _CONTEXT.update(context)


def run_job(payload: tuple[Job, str, str, str]) -> dict:
    """Cut (cached), paste, harmonize and write one manifest job; returns its results fields."""
    from . import api
    from .paste import Placement

    job, image_rel, sidecar_rel, job_hash = payload
    outdir = Path(_CONTEXT["outdir"])
    t0 = time.perf_counter()
    background = background_image(job.background)
    placements, described = [], []
    for spec in job.objects:
        if spec.source is not None:
            sticker = cut_sticker(spec.source, spec.cutter, json.dumps(spec.cut, sort_keys=True))
            origin = {"source": file_record(spec.source, file_digest(spec.source)), "cutter": spec.cutter,
                      "cut": spec.cut, "source_box": list(sticker.source_box)}
        else:
            sticker = sticker_file(spec.sticker)
            origin = {"sticker": file_record(spec.sticker, file_digest(spec.sticker))}
        sticker = dataclasses.replace(sticker, label=spec.label or Path(spec.source or spec.sticker).stem)
        placements.append(Placement(sticker, spec.x, spec.y, spec.scale, spec.rotation,
                                    name=spec.source or spec.sticker or ""))
        described.append(origin)
    composite = api.paste(background, placements)
    result = harmonizer(job.backend).harmonize(composite, harmonize_settings(job.backend, job.settings, job.seed))
    objects = [{**origin, **placed_record(o)} for origin, o in zip(described, composite.objects)]
    seconds = round(time.perf_counter() - t0, 3)
    record = {"id": job.id, "job_hash": job_hash, "seed": job.seed,
              "background": file_record(job.background, file_digest(job.background)),
              "objects": objects, "harmonize": result_record(result), "seconds": seconds,
              **worker_record()}
    write_outputs(outdir, image_rel, sidecar_rel, result.image, record)
    return {"worker": os.getpid(), "backend": result.backend}


def job_tasks(jobs: list[Job], outdir: str | os.PathLike, manifest: str | os.PathLike | None = None) -> list[Task]:
    """Tasks for manifest jobs, with every output checked: inside OUTDIR, not an input,
    no two jobs writing the same file."""
    from .imageio import check_outputs

    root = Path(outdir).resolve()
    inputs = [manifest] if manifest else []
    outputs: list[Path] = []
    tasks = []
    for job in jobs:
        image = confine(root, job.output, f"job {job.id!r}")
        sidecar = sidecar_name(image)
        if sidecar == image:
            raise UsageError(f"job {job.id!r}: output {job.output!r} cannot be a .json file; it names the sidecar.")
        if is_reserved(sidecar.relative_to(root)):
            raise UsageError(f"job {job.id!r}: the sidecar of output {job.output!r} would overwrite the run's own "
                             f"{sidecar.name}; choose another id or output name.")
        inputs += [job.background] + [o.source or o.sticker for o in job.objects]
        outputs += [image, sidecar]
        rel_image, rel_sidecar = image.relative_to(root).as_posix(), sidecar.relative_to(root).as_posix()
        job_hash = spec_hash(job.spec())
        tasks.append(Task(job.id, rel_image, rel_sidecar, job_hash, (job, rel_image, rel_sidecar, job_hash)))
    check_outputs(inputs, outputs)
    return tasks


def run_batch(manifest: str | os.PathLike, outdir: str | os.PathLike, *, workers: int | None = 1,
              threads: int | None = None,
              executor: str | Executor = "local", ray_address: str | None = None, resume: bool = False,
              default_backend: str = "vgg19", reporter: Reporter | None = None) -> Summary:
    """Run every job of ``manifest`` into ``outdir``; see the module docstring.

    ``executor`` is ``local`` (``workers`` processes; 1 = this process), ``ray``, or an
    Executor of the caller's (kept open, e.g. to reuse its workers for several runs)."""
    t0 = time.perf_counter()
    check_executor(executor, workers, ray_address, threads)  # before OUTDIR is made
    jobs = read_manifest(manifest, default_backend=default_backend)
    tasks = job_tasks(jobs, outdir, manifest)
    info = {"manifest": file_record(Path(manifest).resolve(), file_digest(str(Path(manifest).resolve()))),
            "jobs": len(jobs), "executor": executor if isinstance(executor, str) else type(executor).__name__,
            "workers": workers if isinstance(executor, str) else executor.workers,
            "threads": threads if isinstance(executor, str) else getattr(executor, "threads", None)}
    with RunFolder(outdir, "batch", resume=resume, info=info) as run:
        with _executor(executor, workers, ray_address, limit=len(tasks), threads=threads) as ex:
            ex.setup(set_context, {"outdir": str(run.path)})
            t_execute = time.perf_counter()
            summary = run.execute(tasks, run_job, ex, reporter,
                                  models=backends_to_load((j.backend, j.settings) for j in jobs))
    summary.start_seconds += t_execute - t0
    summary.seconds = time.perf_counter() - t0
    return summary
