"""Writing images, masks, text and JSON sidecars, atomically, and checking output paths.

Every write is atomic (a temporary file in the same folder, fsynced and size-checked, then
``os.replace``), so a failure (a full disk, a signal) never leaves a partial output;
``write_all`` stages several files and renames them as a set.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import CompositorError, UsageError, resolve

#: zlib level for PNG output: level 1 (OpenCV's own default), much faster than Pillow's
#: default 6 for slightly larger files (measurements: docs/PERFORMANCE.md).
PNG_LEVEL = 1

_WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under this process's umask
    (mkstemp makes its files 0600, and the rename keeps that)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()
#: per thread: the (temporary file, destination) pairs staged by ``write_all``
_STAGING = threading.local()


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(fh)`` to a temporary file beside ``path``, then rename it into place.

    On any failure the temporary file is removed; an OS error (no space, a folder in the
    way, no permission) becomes one CompositorError naming ``path``.
    """
    path = Path(path)
    # encoded in memory first, before any file exists: an encoder that writes to the file
    # descriptor itself (Pillow's JPEG, WebP and TIFF savers) does not check for a short write,
    # so a full disk or a file-size limit would leave a truncated file and no error; and an
    # encoder that refuses the data (WebP's size limit) leaves nothing behind
    buffer = io.BytesIO()
    try:
        write(buffer)
    except (ValueError, OSError) as exc:
        raise CompositorError(f"{path}: could not encode the file as {path.suffix.lstrip('.') or 'it is'} "
                              f"({exc}).") from exc
    data = buffer.getbuffer()
    fd = tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the temporary file is made, and named here, with the interrupting signals held back: a
        # Ctrl-C or SIGTERM landing between its creation and the line that names it would leave
        # it behind, since nothing would know to remove it; a held signal is raised just after
        # (by _release, inside this try), where the clean-up below sees the file
        held = _hold_signals()
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        finally:
            _release(held)
    except OSError as exc:
        raise CompositorError(f"{path}: cannot write there ({exc.strerror or exc}).") from exc
    except BaseException:
        _discard(fd, tmp)
        raise
    try:
        fh = os.fdopen(fd, "wb")
        fd = None  # closed with fh from here on
        with fh:
            os.fchmod(fh.fileno(), _FILE_MODE)
            _write_fully(fh.fileno(), data)
            os.fsync(fh.fileno())
            written = os.fstat(fh.fileno()).st_size
        if written != len(data):
            raise OSError(errno.EIO, f"only {written} of {len(data)} bytes reached the disk")
        staged = getattr(_STAGING, "pairs", None)
        if staged is not None:  # inside write_all: renamed once every file is written
            staged.append((tmp, path))
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        _discard(fd, tmp)
        if isinstance(exc, OSError):
            raise CompositorError(f"{path}: could not write the file ({exc.strerror or exc}).") from exc
        raise


#: the signals that interrupt a command (cli.signals turns each into a KeyboardInterrupt)
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _hold_signals():
    """Hold back the interrupting signals in this thread; returns what ``_release`` restores."""
    return signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)


def _release(held) -> None:
    """Let the signals ``_hold_signals`` held back through again (one that arrived meanwhile is
    raised now, at the caller's next line)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _discard(fd: int | None, tmp: str | None) -> None:
    """Close and remove a temporary file that will not be renamed into place."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    if tmp is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_fully(fd: int, data) -> None:
    """Write every byte of ``data`` to ``fd``: a short write (a full disk, a file-size
    limit) is retried, so that it either completes or raises the OS's error."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def write_all(writes: list[tuple[str | os.PathLike, Any]]) -> None:
    """Run ``(path, write)`` pairs, all or nothing: every file is first written to a
    temporary file beside its destination, and only when all of them are written are
    they renamed into place. If one fails, the temporary files are removed and no
    output, new or existing, is touched. (A rename itself failing part-way, e.g. no
    permission to replace another user's file in a sticky folder, leaves the files
    renamed before it in place.)"""
    if getattr(_STAGING, "pairs", None) is not None:
        raise RuntimeError("write_all cannot be nested")
    _STAGING.pairs = staged = []
    try:
        for _path, write in writes:
            write()
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _STAGING.pairs = None
    for _, path in staged:  # what a rename would fail on, found before any rename
        if Path(path).is_dir():
            for tmp, _ in staged:
                Path(tmp).unlink(missing_ok=True)
            raise CompositorError(f"{path}: could not write the file (a folder is in the way).")
    for i, (tmp, path) in enumerate(staged):
        try:
            os.replace(tmp, path)
        except OSError as exc:
            for left, _ in staged[i:]:
                Path(left).unlink(missing_ok=True)
            raise CompositorError(f"{path}: could not write the file ({exc.strerror or exc}).") from exc


#: formats that keep an alpha channel (a sticker), and that keep every level exactly (a mask)
_ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
_LOSSLESS_FORMATS = ("PNG", "TIFF", "BMP")


def image_format(path: str | os.PathLike, *, alpha: bool = False, lossless: bool = False) -> str:
    """The format an output path's extension asks for; ``alpha``: it must keep an alpha
    channel (a sticker); ``lossless``: it must keep every level (a mask)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _WRITE_FORMATS and Path(path).is_dir():
        raise UsageError(f"{path}: is a folder; an image output needs a file name, such as "
                         f"{Path(path) / ('sticker.png' if alpha else 'out.png')}.")
    if suffix not in _WRITE_FORMATS:
        raise UsageError(
            f"{path}: cannot tell the image format from the extension {suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(_WRITE_FORMATS))}."
        )
    fmt = _WRITE_FORMATS[suffix]
    if alpha and fmt not in _ALPHA_FORMATS:
        raise UsageError(f"{path}: a sticker needs an alpha channel; write it as .png.")
    if lossless and fmt not in _LOSSLESS_FORMATS:
        raise UsageError(f"{path}: a mask must be stored losslessly; write it as .png.")
    return fmt


def encode_png(pixels: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """RGB, RGBA or single-channel uint8 pixels as PNG bytes (for a pipe, or the server's files),
    as ``write_image`` writes them; ``level``: zlib's, 0 (stored, fastest) to 9."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def write_image(path: str | os.PathLike, pixels: np.ndarray) -> None:
    """Write RGB, RGBA or single-channel uint8 pixels atomically; the format follows the extension."""
    fmt = image_format(path)
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        raise TypeError(f"write_image expects uint8 pixels, got {arr.dtype}")
    if fmt not in _ALPHA_FORMATS and arr.ndim == 3 and arr.shape[2] == 4:
        # (Pillow writes a 32-bit BMP but reads it back as RGB: the transparency would be lost)
        raise UsageError(f"{path}: {fmt} cannot keep the alpha channel; write the sticker as .png.")
    im = Image.fromarray(arr)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {"compress_level": PNG_LEVEL} if fmt == "PNG" else {}
    _atomic_write(Path(path), lambda fh: im.save(fh, format=fmt, **options))


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write a float mask in [0, 1] as an 8-bit image (0 background, 255 object) in a lossless
    format (PNG, TIFF, BMP); a lossy one (JPEG, WebP) is refused, as it would blur the mask."""
    image_format(path, lossless=True)
    write_image(path, mask_levels(mask))


def mask_levels(mask: np.ndarray) -> np.ndarray:
    """A float mask in [0, 1] as the 8-bit levels a mask file holds (0 background, 255 object),
    rounded to the nearest level."""
    from ..ops.pixels import to_uint8

    return to_uint8(np.asarray(mask, dtype=np.float32) * 255.0)


def write_labels(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write an object-id image (0 background, k the k-th object) as a PNG: 8-bit while every
    id fits, 16-bit beyond 255 objects."""
    if image_format(path, lossless=True) != "PNG":
        raise UsageError(f"{path}: an object-id mask is written as .png.")
    arr = np.asarray(labels)
    if arr.size and int(arr.max()) > 65535:
        raise UsageError(f"{path}: {int(arr.max())} objects do not fit a 16-bit object-id mask.")
    if arr.size and int(arr.max()) > 255:
        im = Image.fromarray(arr.astype(np.uint16))
    else:
        im = Image.fromarray(arr.astype(np.uint8))
    _atomic_write(Path(path), lambda fh: im.save(fh, format="PNG", compress_level=PNG_LEVEL))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically."""
    _atomic_write(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def write_json(path: str | os.PathLike, data: Any, compact: bool = False) -> None:
    """Write ``data`` as JSON to ``path`` atomically: indented, or ``compact`` on one line
    (smaller, and faster: Python's C encoder only runs without indentation). NumPy numbers
    and arrays, paths and tuples are written as plain JSON values."""
    text = json.dumps(data, separators=(",", ":"), default=_json_default) if compact else \
        json.dumps(data, indent=2, sort_keys=False, default=_json_default)
    write_text(path, text + "\n")


def _json_default(obj: Any) -> Any:
    """What JSON cannot hold itself: NumPy scalars (bool, int, float) and arrays, paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output path that can never be written: a folder, or
    inside something that is not a folder (UsageError), or in a folder the system will not let
    us write (CompositorError, exit 1, as every command fails on a read-only output)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name for the output.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{path}: cannot write there ({parent} is a file, not a folder).")
    if not os.access(parent, os.W_OK | os.X_OK):  # as the write itself would fail there (EACCES, EROFS): exit 1
        raise CompositorError(f"{path}: cannot write there ({parent} is not a writable folder).")


def check_outputs(inputs: list[str | os.PathLike], outputs: list[str | os.PathLike]) -> None:
    """Refuse an output path that is one of the inputs, two outputs that are the same file, an
    output inside another output or inside an input (``x.png`` and ``x.png/y.png``: one of them
    could never be written), or an output that can never be written (``check_writable``)."""
    resolved_inputs = {resolve(p, "input"): p for p in inputs if p is not None}
    seen: dict[Path, Any] = {}
    for out in outputs:
        if out is None:
            continue
        r = resolve(out, "output")
        if r in resolved_inputs:
            raise UsageError(f"{out}: the output path is also an input; choose another output so the input is not overwritten.")
        if r in seen:
            raise UsageError(f"{out}: the same path is given for two outputs.")
        check_writable(out)
        seen[r] = out
    for r, out in seen.items():
        for parent in r.parents:
            other = seen.get(parent, resolved_inputs.get(parent))
            if other is not None and not parent.is_dir():
                kind = "another output" if parent in seen else "an input"
                raise UsageError(f"{out}: the output would lie inside {other}, which is {kind} (a file, not a "
                                 "folder); choose output names that do not nest.")
