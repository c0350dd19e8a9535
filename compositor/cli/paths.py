"""Checks on the files a command reads and writes, made before any work."""
from __future__ import annotations

import os
from pathlib import Path



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
