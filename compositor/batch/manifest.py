"""Batch manifests: the schema, reading ``.jsonl`` and ``.csv`` files, and checking every
job (ids, paths, plugins and their settings) before anything runs.

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
RGBA file. ``x``, ``y`` place the object's ``anchor`` (``centre``, the default, or ``bottom``: the
middle of its bottom edge) in pixels or as ``"50%"`` of the background (default: the
background's centre); ``scale`` (the factor the sticker's pixels are multiplied by) or
``height`` (pixels, or ``"40%"`` of the background's height) size it; ``rotation`` is in
degrees counter-clockwise: all as in ``compositor paste``.
Relative paths resolve against the manifest's folder, and so do the settings that are
paths (declared with ``path`` in their plugin's settings: magenta's ``style`` and local
``handle``, the cascade cutter's ``cascade`` file). A manifest is UTF-8 text (a byte-order mark is fine); a CSV row may
not have more cells than the header, nor so few that a required column is cut off.
``id`` defaults to the line number; ``output`` defaults to ``ID.png`` and must stay
inside OUTDIR; ``mask`` (optional, ``.png``, inside OUTDIR too) is the job's object-id mask:
0 background, k where its k-th object is visible; and neither the image nor its sidecar may take the name of one of the
run's own files (``run.json``, ``results.jsonl``). ``match`` (``blur,noise,jpeg``, ``all``
or ``none``), ``shadow`` (``contact``, ``cast``, ``none``) and ``light`` (``"AZ,EL"`` or
``[AZ, EL]``) run the finishing stage after the harmonizer, each object against its own
surroundings, seeded with the job's ``seed``.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .. import plugins
from ..cut import DEFAULT_METHOD
from ..errors import CompositorError, UsageError, resolve
from ..harmonizers import DEFAULT_BACKEND
from ..paste import anchor_name, parse_length
from ..runs.paths import check_job_id, is_reserved, sidecar_name

MANIFEST_KEYS = ("id", "background", "objects", "backend", "settings", "seed", "output", "mask", "match", "shadow",
                 "light")
#: The finishing stage's keys (see ``compositor.finish``): match, shadow and light.
FINISH_KEYS = ("match", "shadow", "light")
OBJECT_KEYS = ("source", "sticker", "cutter", "cut", "x", "y", "scale", "height", "anchor", "rotation", "label")
CSV_COLUMNS = ("id", "background", "source", "sticker", "cutter", "box", "x", "y", "scale", "height", "anchor",
               "rotation", "label", "backend", "settings", "seed", "output", "mask", "match", "shadow", "light")



@dataclass(frozen=True)
class ObjectSpec:
    """One object of a job: cut from ``source`` with ``cutter`` or read from ``sticker``."""

    source: str | None = None
    sticker: str | None = None
    cutter: str = DEFAULT_METHOD
    cut: dict = field(default_factory=dict)
    x: float | str | None = None  # pixels, or "N%" of the background
    y: float | str | None = None
    scale: float = 1.0
    rotation: float = 0.0
    label: str | None = None
    height: float | str | None = None  # pixels, or "N%" of the background's height
    anchor: str = "centre"


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
    mask: str | None = None  # the object-id mask, relative to OUTDIR (see ``job.object_ids``)
    finish: dict = field(default_factory=dict)  # the finishing stage's match, shadow, light (as given)

    def spec(self) -> dict:
        """The job as a plain dict (what its spec hash is made from). An object's ``height`` and
        ``anchor`` appear only when given, so a run made before they existed resumes as it was."""
        spec = dataclasses.asdict(self)
        if spec["mask"] is None:  # likewise a job without a mask
            del spec["mask"]
        if not spec["finish"]:  # and one without finishing
            del spec["finish"]
        for obj in spec["objects"]:
            if obj["height"] is None:
                del obj["height"]
            if obj["anchor"] == "centre":
                del obj["anchor"]
        return spec


def _number(value: Any, label: str, where: str, *, integer: bool = False, positive: bool = False):
    """``value`` (a number, or text holding one) as a float, or an int with ``integer``: converted
    and checked as a plugin setting is (``plugins.convert``, ``plugins.check_range``), then
    refused unless positive with ``positive``."""
    name = f"{where}: {label}"
    value = plugins.convert(value, int if integer else float, name)
    plugins.check_range(value, None, None, name, integer=integer)
    if positive and value <= 0:
        raise UsageError(f"{name} must be positive; received {value!r}.")
    return int(value) if integer else float(value)


def _input_path(value: Any, label: str, base: Path, where: str) -> str:
    """An input file path, made absolute against ``base`` (the manifest's folder)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {label} must be a file path; received {value!r}.")
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    try:
        return str(resolve(base / path, label))
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _settings_text(text: str, where: str) -> dict:
    """A CSV ``settings`` cell (``key=value;key=value``) as a dict."""
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
            out[key] = str(path if path.is_absolute() else resolve(base / path, f"setting {key}"))
    return out


def _check_plugin(kind: str, name: Any, settings: dict, where: str, key: str = "", settings_key: str = "") -> None:
    """The plugin exists and the settings are valid for it; errors name the manifest line and
    the ``key`` that names the plugin (or the ``settings_key`` that holds its settings)."""
    label = f"{where}: {key}" if key else where
    if not isinstance(name, str):
        raise UsageError(f"{label} must be the name of a {kind}; received {name!r}.")
    try:
        plugins.load(kind, name)
    except UsageError as exc:
        raise UsageError(f"{label}: {exc}") from None
    try:
        plugins.ready(kind, name, settings)
    except UsageError as exc:
        raise UsageError(f"{where}: {settings_key + ': ' if settings_key else ''}{exc}") from None


def _object(raw: Any, base: Path, where: str) -> ObjectSpec:
    """One job object from its JSON, checked (``where`` names the manifest line)."""
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: each item of 'objects' must be a JSON object; received {raw!r}.")
    unknown = set(raw) - set(OBJECT_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown object field(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(OBJECT_KEYS)}.")
    has_source, has_sticker = raw.get("source") is not None, raw.get("sticker") is not None
    if has_source == has_sticker:
        raise UsageError(f"{where}: an object needs exactly one of 'source' (a photo to cut) or 'sticker' "
                         "(an RGBA file).")
    cutter = _given(raw, "cutter", DEFAULT_METHOD)
    cut = _given(raw, "cut", {})
    if not isinstance(cut, dict):
        raise UsageError(f"{where}: 'cut' must be an object of cutter settings; received {cut!r}.")
    if has_source:
        try:
            cut = _setting_paths("cutter", cutter, cut, base)
        except UsageError as exc:
            raise UsageError(f"{where}: cut: {exc}") from None
        _check_plugin("cutter", cutter, cut, where, "cutter", "cut")
    elif raw.get("cutter") is not None or cut:
        raise UsageError(f"{where}: 'cutter' and 'cut' go with 'source', not with 'sticker'.")
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise UsageError(f"{where}: label must be text; received {label!r}.")
    return ObjectSpec(
        source=_input_path(raw["source"], "source", base, where) if has_source else None,
        sticker=_input_path(raw["sticker"], "sticker", base, where) if has_sticker else None,
        cutter=cutter, cut=dict(cut),
        x=None if raw.get("x") is None else _length(raw["x"], "x", where),
        y=None if raw.get("y") is None else _length(raw["y"], "y", where),
        scale=1.0 if raw.get("scale") is None else _number(raw["scale"], "scale", where, positive=True),
        rotation=0.0 if raw.get("rotation") is None else _number(raw["rotation"], "rotation", where),
        height=None if raw.get("height") is None else _height(raw, where),
        anchor=anchor_name(raw.get("anchor") or "centre", f"{where}: anchor"),
        label=label)


def _length(value: Any, label: str, where: str):
    """A position: a number of pixels, or text ``"120"``, ``"120px"`` or ``"50%"`` (kept as "50%")."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_length(value, f"{where}: {label}")
    return _number(value[:-2] if isinstance(value, str) and value.strip().endswith("px") else value, label, where)


def _height(raw: dict, where: str):
    """The object's ``height`` (pixels or "N%"), refused with a ``scale`` beside it."""
    if raw.get("scale") is not None:
        raise UsageError(f"{where}: give 'scale' or 'height', not both.")
    value = _length(raw["height"], "height", where)
    if not isinstance(value, str) and value <= 0 or isinstance(value, str) and float(value[:-1]) <= 0:
        raise UsageError(f"{where}: height must be positive; received {raw['height']!r}.")
    return value


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
    """One Job from its JSON (line ``number`` of the manifest), checked."""
    from ..imageio import image_format

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
    backend = _given(raw, "backend", default_backend)
    settings = _given(raw, "settings", {})
    if not isinstance(settings, dict):
        raise UsageError(f"{where}: 'settings' must be an object of backend settings; received {settings!r}.")
    try:
        settings = _setting_paths("harmonizer", backend, settings, base)
    except UsageError as exc:
        raise UsageError(f"{where}: settings: {exc}") from None
    _check_plugin("harmonizer", backend, settings, where, "backend", "settings")
    output = _given(raw, "output", f"{job_id}.png")
    if not isinstance(output, str):
        raise UsageError(f"{where}: output must be a relative file name; received {output!r}.")
    try:
        image_format(output)
    except UsageError as exc:
        raise UsageError(f"{where}: output {exc}") from None
    mask = raw.get("mask")
    if mask is not None:
        mask = _mask_name(mask, where)
    finishing = {k: raw[k] for k in FINISH_KEYS if raw.get(k) not in (None, "")}
    if finishing:
        from ..finish import make_finish_settings

        try:
            make_finish_settings(finishing)
        except UsageError as exc:
            raise UsageError(f"{where}: {str(exc).replace('finish.', '')}") from None
    for name, what in ((output, "output"), (sidecar_name(output), "sidecar")) + (((mask, "mask"),) if mask else ()):
        if is_reserved(os.path.normpath(name)):
            raise UsageError(f"{where}: the job's {what} {Path(name).as_posix()!r} would overwrite the run's own "
                             f"{Path(os.path.normpath(name)).name}; choose another id or output name.")
    return Job(id=job_id, background=_input_path(raw["background"], "background", base, where),
               objects=tuple(_object(o, base, f"{where}: object {i}") for i, o in enumerate(objects, 1)),
               backend=backend, settings=dict(settings),
               seed=0 if raw.get("seed") is None else _number(raw["seed"], "seed", where, integer=True),
               output=output, mask=mask, finish=finishing)


def _mask_name(mask: Any, where: str) -> str:
    """A job's ``mask`` output: a relative ``.png`` file name (an object-id mask is kept losslessly)."""
    if not isinstance(mask, str) or not mask.strip():
        raise UsageError(f"{where}: mask must be a relative .png file name; received {mask!r}.")
    if Path(mask).suffix.lower() != ".png":
        raise UsageError(f"{where}: mask {mask!r} must be a .png file (an object-id mask is kept losslessly).")
    return mask


def mask_beside(output: str) -> str:
    """The mask ``--masks`` writes next to an output: ``dir/NAME.png`` -> ``dir/NAME_mask.png``."""
    path = Path(output)
    return path.with_name(f"{path.stem}_mask.png").as_posix()


def _given(raw: dict, key: str, default: Any) -> Any:
    """``raw[key]``, or ``default`` where it is missing, null or empty text; another empty
    value (``[]``, ``{}``, ``0``) is kept, so that its check refuses it instead of a default
    quietly standing in for it."""
    value = raw.get(key)
    return default if value is None or value == "" or (key in ("cut", "settings") and value == {}) else value


def _unique_keys(where: str):
    """A ``json.loads`` hook that refuses an object giving a key twice (JSON takes the last
    one without a word, so a typo'd second 'background' would replace the first)."""
    def hook(pairs: list) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                raise UsageError(f"{where}: the key {key!r} appears twice in one object; give each key once.")
            seen[key] = value
        return seen
    return hook


def _deep_key(line: str, depth: int = 100) -> str | None:
    """The key (``objects.x``) whose value nests lists or objects more than ``depth`` deep in
    the JSON text ``line`` (a scan, since the parser itself gives up), or None."""
    stack: list[str | None] = []  # per open container: the key it is the value of
    in_string, escaped, start, last = False, False, 0, None
    for i, c in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
                last = line[start:i]
        elif c == '"':
            in_string, start = True, i + 1
        elif c == ":":
            pass
        elif c in "[{":
            key = last if stack and line[:i].rstrip().endswith(":") else None
            stack.append(key)
            if len(stack) > depth:
                return ".".join(k for k in stack if k) or None
        elif c in "]}":
            if stack:
                stack.pop()
        elif c == ",":
            last = None
    return None


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
    """A CSV row as the JSON job it stands for (one object)."""
    cell = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
    cell = {k: v for k, v in cell.items() if v not in ("", None)}
    obj = {k: cell[k] for k in ("source", "sticker", "cutter", "x", "y", "scale", "height", "anchor", "rotation", "label")
           if k in cell}
    if "box" in cell:
        obj["cut"] = {"box": cell["box"]}
    job = {k: cell[k] for k in ("id", "background", "backend", "seed", "output", "mask", *FINISH_KEYS) if k in cell}
    job["objects"] = [obj]
    if "settings" in cell:
        job["settings"] = _settings_text(cell["settings"], where)
    return job


def read_manifest(path: str | os.PathLike, *, default_backend: str = DEFAULT_BACKEND) -> list[Job]:
    """The jobs of a ``.jsonl`` or ``.csv`` manifest, validated (ids, paths, backends, settings)."""
    path = Path(path)
    if not path.is_file():
        from ..imageio.read import check_readable

        try:
            check_readable(path, "a manifest file")
        except CompositorError as exc:
            raise UsageError(str(exc).replace(": no such file.", ": no such manifest file.")) from None
        raise UsageError(f"{path}: not a regular file; a manifest is a .jsonl or .csv file.")
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
                    raw = json.loads(line, object_pairs_hook=_unique_keys(where))
                    if not isinstance(raw, dict):
                        raise UsageError(f"{where}: each line must be a JSON object (a job).")
                    jobs.append(_job(raw, base, where, number, default_backend))
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                     "a JSON Lines manifest has one job object per line.") from None
                except RecursionError:  # json.loads (or a check) of lists or objects nested thousands deep
                    key = _deep_key(line)
                    raise UsageError(f"{where}: {key + ' is' if key else 'the job is'} nested too deeply to read "
                                     "(lists or objects inside each other hundreds of levels deep); a job is an "
                                     "object of plain values.") from None
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
