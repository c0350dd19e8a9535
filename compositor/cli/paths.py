"""Checks on the files a command reads and writes, made before any work."""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import UsageError


def own_sidecars(inputs: list) -> list[Path]:
    """The JSON sidecars that the ``inputs`` images carry (a sticker's record from cut, a
    composite's from paste): inputs too, so no output's sidecar may overwrite them."""
    out = []
    for i in inputs:
        try:
            sidecar = Path(i).with_suffix(".json")
        except ValueError:  # no file name to put a suffix on ("." or "/")
            continue
        if sidecar.is_file():
            out.append(sidecar)
    return out


def setting_files(*settings: dict) -> list[str]:
    """The values of the ``settings`` dicts that name existing files (a style image, a
    cascade): inputs too, so no output may overwrite them."""
    return [v for d in settings for v in d.values() if isinstance(v, (str, os.PathLike)) and os.path.isfile(v)]


def check_snapshots(folder: Path, stem: str, inputs) -> None:
    """Refuse, before any work, snapshots (``FOLDER/STEM_NNNNN.png``, any step) that would
    overwrite one of the command's ``inputs`` (UsageError naming the input)."""
    pattern = re.compile(re.escape(stem) + r"_\d{5,}\.png")
    try:
        where = folder.resolve()
    except (OSError, RuntimeError):  # a loop of links: no input can be in it
        return
    for i in inputs:
        if i is None:
            continue
        try:  # the file itself, and the name given (a link in the folder would be replaced)
            given = Path(i).absolute()
            names = {(Path(i).resolve().parent, Path(i).resolve().name), (given.parent.resolve(), given.name)}
        except (OSError, RuntimeError):
            continue
        for parent, name in names:
            if parent == where and pattern.fullmatch(name):
                raise UsageError(f"{i}: a snapshot ({folder / name}) would overwrite this input; choose another "
                                 "--snapshot-dir.")


def check_outdir(outdir, force: bool, option: str = "-o") -> None:
    """The one rule for every command that writes into a folder (``options.OUTDIR_RULE``):
    a folder that already holds something is refused before any work, so nothing in it is
    replaced, unless ``force``; a file where the folder should be is always refused."""
    path = Path(outdir)
    if path.is_symlink() and not path.exists():  # each write would fail on it, after the work
        raise UsageError(f"{path}: is a link to {os.readlink(path)}, which does not exist; create that folder or "
                         f"give {option} another folder.")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: is a file; {option} names a folder.")
    if force or not path.is_dir():
        return
    try:
        entries = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        raise UsageError(f"{path}: cannot look into the output folder ({exc.strerror or exc}).") from None
    if entries:
        more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
        raise UsageError(f"{path}: the output folder is not empty (it holds {entries[0]}{more}); choose a new or "
                         "empty folder, or pass --force to write into it, replacing this command's own files there.")
