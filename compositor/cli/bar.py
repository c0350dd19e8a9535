"""The progress a harmonizing command shows: a tqdm bar that can also write snapshots."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import UsageError


class BarProgress:
    """A tqdm progress bar (iteration, loss) that can also write snapshots.

    Takes ``quiet`` (no bar), ``snapshot_every`` (K: the harmonizer saves every K steps),
    ``snapshot_dir`` and ``stem`` (snapshot files are ``DIR/STEM_00010.png``); the paths
    written are kept in ``snapshots``. A ``desc`` attribute names the bar (default: harmonize)."""

    def __init__(self, quiet: bool, snapshot_every: int = 0, snapshot_dir: Path | None = None, stem: str = "step"):
        self.quiet, self.snapshot_every, self.snapshot_dir, self.stem = quiet, snapshot_every, snapshot_dir, stem
        self.bar = None
        self.snapshots: list[str] = []
        self._created: list[Path] = []  # the snapshot files this run made
        self._replaced: dict[Path, bytes] = {}  # the files it replaced, as they were, to put back on failure

    def update(self, step: int, total: int, **info) -> None:
        """Move the bar to ``step`` of ``total``, showing ``info`` (loss, ...) beside it."""
        if self.quiet:
            return
        if self.bar is None:
            from ..progress import bar

            self.bar = bar(total, desc=getattr(self, "desc", "harmonize"), unit="it")
        if info:
            self.bar.set_postfix({k: f"{v:.4g}" if isinstance(v, (int, float)) else str(v) for k, v in info.items()},
                                 refresh=False)
        self.bar.update(step - self.bar.n)

    def snapshot(self, step: int, image) -> None:
        """Write ``image`` (RGB uint8) as the snapshot of ``step``."""
        from ..imageio import write_image

        assert self.snapshot_dir is not None
        path = self.snapshot_dir / f"{self.stem}_{step:05d}.png"
        if path not in self._created and path not in self._replaced and os.path.lexists(path):
            try:
                self._replaced[path] = path.read_bytes()
            except OSError as exc:  # e.g. a folder of that name: write_image names it
                raise UsageError(f"{path}: a snapshot would replace this file, which cannot be read "
                                 f"({exc.strerror or exc}); choose another --snapshot-dir.") from None
        elif path not in self._replaced and path not in self._created:
            self._created.append(path)
        write_image(path, image)
        if str(path) not in self.snapshots:
            self.snapshots.append(str(path))

    def close(self) -> None:
        """Close the bar, if one was shown."""
        if self.bar is not None:
            self.bar.close()

    @contextlib.contextmanager
    def kept_on_success(self):
        """Snapshots written inside this block are removed again if it fails (with the
        snapshot folder, if it was made for them), so a failed command leaves nothing: only
        the files this run created are removed, and a file it replaced is put back as it was."""
        made = self.snapshot_dir is not None and not self.snapshot_dir.exists()
        try:
            yield
        except BaseException:
            for path in self._created:
                path.unlink(missing_ok=True)
            for path, data in self._replaced.items():
                _put_back(path, data)
            if made and self.snapshot_dir.is_dir() and not any(self.snapshot_dir.iterdir()):
                self.snapshot_dir.rmdir()
            raise


def _put_back(path: Path, data: bytes) -> None:
    """Write ``data`` back to ``path`` atomically (a file a snapshot had replaced)."""
    tmp = path.with_name(f".{path.name}.restore")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:  # nothing more can be done on the way out; the error being raised is the one to tell
        tmp.unlink(missing_ok=True)


def progress_for(args, output: Path, inputs: list = ()) -> BarProgress:
    """The BarProgress for a command with the output options (``--snapshot-every``,
    ``--snapshot-dir``, ``-q``) writing ``output``; a bad snapshot option, or a snapshot name
    that one of the command's ``inputs`` has (``paths.check_snapshots``), is a UsageError."""
    snap_dir = None
    if args.snapshot_every < 0:
        raise UsageError(f"--snapshot-every must be 0 or more; received {args.snapshot_every}.")
    if args.snapshot_every:
        snap_dir = Path(args.snapshot_dir) if args.snapshot_dir else output.parent / f"{output.stem}_snapshots"
        if snap_dir.exists() and not snap_dir.is_dir():
            raise UsageError(f"{snap_dir}: the snapshot folder is a file; choose another --snapshot-dir.")
        from .paths import check_snapshots

        check_snapshots(snap_dir, output.stem, inputs)
    return BarProgress(args.quiet, args.snapshot_every, snap_dir, output.stem)
