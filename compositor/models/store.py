"""Where the weight files are kept, and the checks that a present file is the right one.

Cache folder: ``$COMPOSITOR_MODELS_DIR`` if set, else ``models`` in the user's cache folder
(platformdirs: ``~/.cache/compositor/models`` on Linux, ``$XDG_CACHE_HOME`` honoured), as
Keras, torch hub and rembg keep theirs: the same wherever the package is installed. Files
the project trained itself are read from ``BUNDLED_DIR`` inside the package.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import CompositorError, ModelMissingError, UsageError
from .registry import MODELS, BundledSource, ModelFile, get

ENV_DIR = "COMPOSITOR_MODELS_DIR"

#: The package's own weights (``BundledSource`` models): ``compositor/weights/``.
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "weights"


def models_dir() -> Path:
    """The folder the weights are fetched into and read from (see the module docstring)."""
    env = os.environ.get(ENV_DIR)
    if env:
        folder = Path(env).expanduser()
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{ENV_DIR}={env} is a file, not a folder for the model weights.")
        return folder
    from platformdirs import user_cache_path

    return user_cache_path("compositor", appauthor=False) / "models"


def _expand(folder: str) -> Path:
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(folder.replace("$KERAS_HOME", keras_home)).expanduser()


def candidates(model: ModelFile) -> list[Path]:
    """The paths where a copy of ``model`` may be, first choice first (present or not)."""
    if isinstance(model.source, BundledSource):
        return [BUNDLED_DIR / model.filename]
    return [models_dir() / model.filename] + [_expand(d) / model.filename for d in model.also_look_in]


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of the file at ``path`` with ``algorithm`` (a ``hashlib`` name)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find(name: str) -> Path | None:
    """The first present copy of a model file, or None. Hashes are not checked here."""
    for path in candidates(get(name)):
        if path.is_file():
            return path
    return None


#: (path, size, mtime_ns, algorithm) -> digest: a file is hashed once per process, not on every
#: call (the cutters call ``locate`` on each cut; a replaced file has another size or mtime)
_DIGESTS: dict[tuple, str] = {}


def _verified_digest(path: Path, algorithm: str) -> str:
    """``file_digest`` of ``path``, remembered while the file's size and mtime stay the same."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algorithm)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(path, algorithm)
    return _DIGESTS[key]


def locate(name: str) -> Path:
    """A present, hash-verified copy of the model file, or a ``ModelMissingError``."""
    model = get(name)
    path = find(name)
    if path is None and isinstance(model.source, BundledSource):
        raise ModelMissingError(
            f"model {name} ({model.filename}) is missing from {BUNDLED_DIR}; reinstall compositor, or rebuild it "
            f"with `{model.source.command}`."
        )
    if path is None:
        raise ModelMissingError(
            f"model {name} ({model.filename}) is not in {models_dir()}; run `compositor models fetch {name}` to get it."
        )
    actual = _verified_digest(path, model.algorithm)
    if actual != model.digest:
        fix = f"reinstall compositor, or rebuild it with `{model.source.command}`" \
            if isinstance(model.source, BundledSource) else f"delete it and run `compositor models fetch {name}`"
        raise CompositorError(
            f"{path}: {model.algorithm} is {actual}, expected {model.digest}; the file is corrupt or another "
            f"version: {fix}."
        )
    return path


def status() -> list[dict]:
    """One row a model: name, present, path, verified, description, licence."""
    rows = []
    for name, model in MODELS.items():
        path = find(name)
        ok = path is not None and file_digest(path, model.algorithm) == model.digest
        rows.append(
            {
                "name": name,
                "present": path is not None,
                "verified": ok,
                "path": str(path) if path else str(models_dir() / model.filename),
                "description": model.description,
                "licence": model.licence,
            }
        )
    return rows
