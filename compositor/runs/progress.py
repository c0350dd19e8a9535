"""Progress of a run as its jobs finish: the Reporter interface ``RunFolder.execute``
calls, the progress bar the commands show, and a silent one."""
from __future__ import annotations

import sys
from typing import Protocol


class Reporter(Protocol):
    """Told how a run goes: ``start(total, done)`` once (``done`` jobs were complete before),
    ``update(record)`` per finished job (its results line), ``close()`` at the end."""

    def start(self, total: int, done: int) -> None: ...

    def update(self, record: dict) -> None: ...

    def close(self) -> None: ...


class ProgressReporter:
    """A progress bar with ok/failed counts, rate and ETA (tqdm), on stderr. ``quiet``: no
    bar, one line per failed job (for logs)."""

    def __init__(self, quiet: bool = False, desc: str = "batch", file=None, unit: str = "img"):
        self.quiet, self.desc, self.file, self.unit = quiet, desc, file or sys.stderr, unit
        self.bar = None
        self.ok = self.failed = 0

    def start(self, total: int, done: int) -> None:
        self.ok = done
        from ..progress import bar

        self.bar = bar(total, desc=self.desc, unit=self.unit, quiet=self.quiet, initial=done, smoothing=0.1,
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


class Silent:
    """A Reporter that shows nothing."""

    def start(self, total, done):
        pass

    def update(self, record):
        pass

    def close(self):
        pass
