"""The run folder (OUTDIR) of a ``batch`` or ``synth`` run: locked against a second run,
fresh or resumed, with ``run.json`` (what was run) and ``results.jsonl`` (one line per
job); ``RunFolder.execute`` hands the jobs not already done to an executor and records
each outcome, and ``Summary`` says how the run went."""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable

from ..errors import CompositorError, UsageError
from ..records import now, versions
from .executors import Executor, Outcome
from .outputs import Task, read_json, verified
from .paths import LOCK, RESULTS, RUN_INFO, within
from .progress import Reporter, Silent


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
    made_unit: ClassVar[str] = "composites"  # what a job makes, in the summary line's rate

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
        """One line that says how the run went and where its results are."""
        parts = [f"{self.total} job(s): {self.ok} ok", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        if self.redone:
            parts.append(f"{self.redone} redone")
        rate = f", {self.per_minute:.1f} {self.made_unit}/min" if self.made > 0 else ""
        start = f" (start-up {self.start_seconds:.1f} s)" if self.start_seconds >= 0.5 else ""
        return ", ".join(parts) + f" in {self.seconds:.1f} s{start}{rate}; results in {self.outdir / RESULTS}"



class RunFolder:
    """OUTDIR for one run: locked against a second run, fresh or resumed, with
    ``run.json`` and ``results.jsonl``. Use as a context manager.

    A fresh run that fails before its first job starts (a worker that cannot start, no
    object that could be made ready, Ctrl-C during start-up) takes back what it wrote,
    and OUTDIR itself when it made it, so the same command can simply be run again."""

    def __init__(self, outdir: str | os.PathLike, kind: str, *, resume: bool = False, info: dict | None = None,
                 inputs: Iterable[str | os.PathLike] = (), same: Iterable[str] = (), labels: dict | None = None):
        self.path = Path(outdir).resolve()
        self.kind, self.resume, self.info = kind, resume, json.loads(json.dumps(info or {}, default=str))
        self.same = tuple(same)  # keys of ``info`` a resumed run must share with the earlier one
        self.labels = dict(labels or {})  # how a refused resume names a setting (default: its key)
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
        """Take OUTDIR's lock (POSIX ``flock``); refuses (UsageError) when another run holds it."""
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
        """Drop the lock."""
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def _check_state(self) -> None:
        """Refuse a folder that holds something else, another kind of run, or an earlier run
        with other settings (or without ``resume``); note a resumed run's dates."""
        info = read_json(self.path / RUN_INFO)
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
            details = []
            for key in changed:  # a dict of settings: name the ones that differ
                old, new = info.get(key), self.info.get(key)
                if isinstance(old, dict) and isinstance(new, dict):
                    details += [f"{self.labels.get(name, name)} {_shown(old.get(name))} (now {_shown(new.get(name))})"
                                for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
            detail = f": {'; '.join(details)}" if details else ""
            raise UsageError(f"{self.path}: the earlier {self.kind} run used other {', '.join(changed)}{detail}; "
                             "resume it with the same ones, or choose a new output folder.")
        self.info["runs"] = list(info.get("runs", [info.get("created")])) + [now()]
        self.info["created"] = info.get("created")

    def _write_info(self) -> None:
        """Write ``run.json``: the kind, ``info``, dates and versions."""
        from ..imageio import write_json

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
                    except (ValueError, RecursionError):  # RecursionError: nested too deeply
                        continue
                    if isinstance(record, dict) and isinstance(record.get("id"), str):
                        out[record["id"]] = record
        except FileNotFoundError:
            pass
        return out

    def write_results(self, records: list[dict]) -> None:
        """Replace ``results.jsonl`` with ``records``, one line each, atomically."""
        from ..imageio import write_text

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

    def execute(self, tasks: list[Task], fn: Callable[[Any, Task], dict], executor: Executor,
                reporter: Reporter | None = None, setup: tuple[Callable[[Any], Any], Any] | None = None,
                context: Any = None) -> Summary:
        """Run ``fn(context, task)`` on ``executor`` for the tasks not already done (when
        resuming), telling ``reporter``; writes one results line per job and returns the
        Summary. ``context`` is the run's frozen context (each worker gets it once);
        ``setup`` (fn, arg), e.g. loading models, runs on every worker first, only when
        there is anything left to run."""
        reporter = reporter or Silent()
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
        if todo and setup is not None:
            executor.setup(*setup)
        summary.start_seconds = time.perf_counter() - t0
        reporter.start(len(tasks), len(final))
        fd = os.open(self.path / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.started = True  # from here on, the folder holds (or may hold) this run's jobs
        try:
            for index, outcome in executor.run(fn, todo, context):
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
    """The results line of a task that ran."""
    base = {"id": task.id, "image": task.image, "sidecar": task.sidecar, "finished": now()}
    if outcome.ok:
        return {**base, **(outcome.value or {}), "status": "ok", "error": None, "seconds": round(outcome.seconds, 3)}
    record = {**base, "status": "failed", "error": outcome.error, "seconds": round(outcome.seconds, 3)}
    if outcome.detail:
        record["traceback"] = outcome.detail
    return record


def _record_from_sidecar(task: Task, sidecar: dict) -> dict:
    """The results line of a task found complete (its sidecar verified) when resuming."""
    return {"id": task.id, "image": task.image, "sidecar": task.sidecar, "finished": sidecar.get("finished"),
            "status": "ok", "error": None, "seconds": sidecar.get("seconds"), "worker": sidecar.get("worker")}


def _shown(value: Any) -> str:
    """A setting's value as a refusal shows it: JSON, lists as MIN,MAX."""
    if isinstance(value, list):
        return ",".join(json.dumps(v) for v in value)
    return "unset" if value is None else json.dumps(value)
