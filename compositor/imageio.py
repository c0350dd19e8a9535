"""Reading and writing images, masks and sidecars.

Everything read comes back as RGB uint8 HxWx3 (``read_rgb``), RGBA uint8 HxWx4
(``read_rgba``) or a float32 mask in [0, 1] (``read_mask``), whatever the file's mode:
EXIF orientation is applied; L, LA, P, RGBA, 1, I;16, I, F and CMYK are converted.
Every write is atomic (a temporary file in the same folder, then ``os.replace``), so a
failure never leaves a partial output.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CompositorError, UsageError

#: zlib level for PNG output: level 1 (OpenCV's own default), much faster than Pillow's
#: default 6 for slightly larger files (measurements: docs/PERFORMANCE.md).
PNG_LEVEL = 1

#: Largest image accepted, in pixels (guards against decompression bombs).
#: Override with the COMPOSITOR_MAX_PIXELS environment variable.
DEFAULT_MAX_PIXELS = 80_000_000

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


def max_pixels() -> int:
    """The largest image accepted, in pixels: ``$COMPOSITOR_MAX_PIXELS`` if set (a positive
    whole number, else a ``UsageError``), else ``DEFAULT_MAX_PIXELS``."""
    raw = os.environ.get("COMPOSITOR_MAX_PIXELS")
    if raw is None:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"COMPOSITOR_MAX_PIXELS must be a whole number of pixels; received {raw!r}.") from None
    if value <= 0:
        raise UsageError(f"COMPOSITOR_MAX_PIXELS must be positive; received {value}.")
    return value


def _open(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode ``path``, oriented by its EXIF tag, or raise one clear error."""
    path = Path(path)
    try:
        if not path.exists():
            raise CompositorError(f"{path}: no such file.")
        if path.is_dir():
            raise CompositorError(f"{path}: is a folder, not an image file.")
        if path.stat().st_size == 0:
            raise CompositorError(f"{path}: the file is empty (0 bytes), not an image.")
    except OSError as exc:  # e.g. a name too long, or a folder we may not look into
        raise CompositorError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = limit
            try:
                with Image.open(path) as im:
                    w, h = im.size
                    if w * h > limit:
                        raise CompositorError(
                            f"{path}: image is {w}x{h} = {w * h:,} pixels, over the limit of {limit:,} "
                            "(set COMPOSITOR_MAX_PIXELS to raise it)."
                        )
                    im.load()
                    oriented = ImageOps.exif_transpose(im)
                    oriented.load()
                    return oriented
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except CompositorError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CompositorError(
            f"{path}: image is larger than the limit of {limit:,} pixels (set COMPOSITOR_MAX_PIXELS to raise it)."
        ) from None
    except UnidentifiedImageError:
        raise CompositorError(f"{path}: not an image file (or a format Pillow cannot read).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CompositorError(f"{path}: the image is corrupt or truncated ({exc}).") from None


def _to_uint8_array(im: Image.Image) -> np.ndarray:
    """Convert single-channel high-bit-depth modes to 8-bit by their full range."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(im, dtype=np.uint16)
        return (arr.astype(np.float32) / 257.0).round().astype(np.uint8)
    if im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode == "I" and arr.max() > 255 else 255.0
        if im.mode == "F" and arr.max() <= 1.0:
            hi = 1.0
        return np.clip(arr / hi * 255.0, 0, 255).round().astype(np.uint8)
    raise ValueError(im.mode)


def _pil_to_rgba(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _to_uint8_array(im)
        rgb = np.repeat(gray[..., None], 3, axis=2)
        alpha = np.full(gray.shape + (1,), 255, np.uint8)
        return np.concatenate([rgb, alpha], axis=2)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode == "CMYK":
        im = im.convert("RGB")
    return np.asarray(im.convert("RGBA"), dtype=np.uint8).copy()


def _unsupported_mode(path, im: Image.Image, exc: Exception) -> CompositorError:
    return CompositorError(f"{path}: cannot convert the image's {im.mode} pixels to RGB ({exc}).")


def read_rgba(path: str | os.PathLike) -> np.ndarray:
    """Read any image as RGBA uint8 HxWx4 (opaque where the file has no alpha)."""
    im = _open(path)
    try:
        return _pil_to_rgba(im)
    except ValueError as exc:  # a mode Pillow has no conversion to RGBA for
        raise _unsupported_mode(path, im, exc) from None


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read any image as RGB uint8 HxWx3; transparent pixels are composited over white."""
    rgba = read_rgba(path)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    if np.all(alpha == 1.0):
        return np.ascontiguousarray(rgba[..., :3])
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _mask_values(im: Image.Image) -> tuple[np.ndarray, float]:
    """A mask image's values as float32 and the value that means fully object (its
    format's full scale): luminance for colour, alpha where the image is not opaque."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.uint16).astype(np.float32), 65535.0
    if im.mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            hi = 1.0 if arr.max() <= 1.0 else 255.0
        else:
            hi = 65535.0 if arr.max() > 255 else 255.0
        return np.clip(arr, 0, hi).astype(np.float32), hi
    if im.mode in ("LA", "RGBA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"))
        alpha = rgba[..., 3]
        gray = alpha if alpha.min() < 255 else np.asarray(im.convert("L"))
    else:
        try:
            gray = np.asarray(im.convert("L"))
        except ValueError:  # no direct conversion (e.g. LAB): go through RGB
            gray = np.asarray(im.convert("RGB").convert("L"))
    return gray.astype(np.float32), 255.0


def read_mask(path: str | os.PathLike, shape: tuple[int, int] | None = None, *, image_path: str | os.PathLike | None = None) -> np.ndarray:
    """Read a mask (nonzero = object) as float32 HxW in [0, 1].

    Colour masks are read by their luminance, masks with an alpha channel and opaque
    everywhere by their colour. A mask of zeros and ones is a binary mask like a mask of
    zeros and full scale (0/1, 0/255 and 0/65535 all mean background/object);
    a mask with several nonzero values is a soft mask, scaled by its format's full range
    (255, or 65535 for 16-bit). With ``shape`` (height, width) the size is checked and an
    empty or all-object mask is refused, since there is nothing to harmonize then;
    ``image_path`` names the image in a size mismatch's message.
    """
    im = _open(path)
    try:
        values, hi = _mask_values(im)
    except ValueError as exc:  # a mode Pillow has no conversion for
        raise _unsupported_mode(path, im, exc) from None
    nonzero = values > 0
    levels = values[nonzero]
    if 0 < levels.size < values.size and levels.min() == levels.max() and levels[0] in (1.0, hi):
        mask = nonzero.astype(np.float32)
    else:
        mask = np.clip(values / hi, 0.0, 1.0).astype(np.float32)
    if shape is not None:
        h, w = shape
        if mask.shape != (h, w):
            against = f" of {image_path}" if image_path else ""
            raise UsageError(
                f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but the image{against} is {w}x{h}; they must be the same size."
            )
        if not levels.size:
            raise UsageError(f"{path}: mask is empty (no nonzero pixels), so there is no object to harmonize.")
        if levels.size == nonzero.size:
            raise UsageError(f"{path}: mask covers the whole image, so there is no background to harmonize against.")
    return mask


def _atomic_write(path: Path, write) -> None:
    """Write through ``write(fh)`` to a temporary file beside ``path``, then rename it into place.

    On any failure the temporary file is removed; an OS error (no space, a folder in the
    way, no permission) becomes one CompositorError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise CompositorError(f"{path}: cannot write there ({exc.strerror or exc}).") from exc
    try:
        # encoded in memory first: an encoder that writes to the file descriptor itself
        # (Pillow's JPEG, WebP and TIFF savers) does not check for a short write, so a full
        # disk or a file-size limit would leave a truncated file and no error
        buffer = io.BytesIO()
        write(buffer)
        data = buffer.getbuffer()
        with os.fdopen(fd, "wb") as fh:
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
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise CompositorError(f"{path}: could not write the file ({exc.strerror or exc}).") from exc
        raise


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
    """Write a float mask in [0, 1] as an 8-bit PNG (0 background, 255 object)."""
    arr = np.clip(np.asarray(mask, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    write_image(path, arr)


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
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of the file at ``path``, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output path that can never be written: a folder, or
    inside something that is not a folder."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name for the output.")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: cannot write there ({parent} is not a writable folder).")


def check_outputs(inputs: list[str | os.PathLike], outputs: list[str | os.PathLike]) -> None:
    """Refuse an output path that is one of the inputs, or two outputs that are the same file."""
    resolved_inputs = {Path(p).resolve(): p for p in inputs if p is not None}
    seen: dict[Path, Any] = {}
    for out in outputs:
        if out is None:
            continue
        if Path(out).is_dir():
            raise UsageError(f"{out}: is a folder; give a file name for the output.")
        r = Path(out).resolve()
        if r in resolved_inputs:
            raise UsageError(f"{out}: the output path is also an input; choose another output so the input is not overwritten.")
        if r in seen:
            raise UsageError(f"{out}: the same path is given for two outputs.")
        seen[r] = out
