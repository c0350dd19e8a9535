"""Checks on the files a command reads and writes, made before any work."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError


def check_outdir(outdir: Path, first: str) -> None:
    """Refuse (UsageError or CompositorError), before any work, an output folder that is a
    file or in which ``first``, the first output's name, cannot be made or written."""
    from ..imageio import check_writable

    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: is a file, not a folder; give a folder for the outputs.")
    check_writable(outdir / first)


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
