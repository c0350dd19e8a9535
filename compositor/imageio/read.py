"""Reading images, masks and stickers, whatever the file's mode.

Everything read comes back as RGB uint8 HxWx3 (``read_rgb``), RGBA uint8 HxWx4
(``read_rgba``) or a float32 mask in [0, 1] (``read_mask``): EXIF orientation is applied;
L, LA, P, RGBA, 1, I;16, I, F and CMYK are converted. An unreadable, truncated or huge
file is refused with one sentence naming it.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import CompositorError, UsageError

#: Largest image accepted, in pixels (guards against decompression bombs).
#: Override with the COMPOSITOR_MAX_PIXELS environment variable.
DEFAULT_MAX_PIXELS = 80_000_000
#: the file name endings a folder of images is scanned for (synth's folders, cut's folder of photos)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


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


class TooManyPixels(CompositorError):
    """An image over the pixel limit, refused before its pixels are decoded."""


def check_readable(path: str | os.PathLike, what: str = "an image file") -> None:
    """Refuse, in one sentence naming ``path`` and the reason, a file that cannot be read as an
    image: missing, a dangling link or a loop of links, a folder, a named pipe, a device or a
    socket (reading one could block, or never end), an empty file, or one the system refuses.
    A file that reports 0 bytes but has content (``/proc`` files) is left to the decoder."""
    import errno
    import stat

    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            dangling = os.path.islink(path)
            raise CompositorError(f"{path}: {'a link to a file that does not exist' if dangling else 'no such file'}.") \
                from None
        if exc.errno == errno.ELOOP:
            raise CompositorError(f"{path}: a loop of symbolic links; it cannot be followed to a file.") from None
        if exc.errno == errno.ENOTDIR:
            raise CompositorError(f"{path}: no such file (a part of the path is a file, not a folder).") from None
        raise CompositorError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
    except ValueError as exc:  # a NUL character
        raise CompositorError(f"{str(path)!r}: cannot read the file ({exc}).") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise CompositorError(f"{path}: is a folder, not {what}.")
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else None)
    if kind:
        raise CompositorError(f"{path}: is {kind}, not {what}.")
    if st.st_size == 0:
        try:
            with open(path, "rb") as fh:
                has_data = bool(fh.read(1))
        except OSError as exc:
            raise CompositorError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
        if not has_data:
            raise CompositorError(f"{path}: the file is empty (0 bytes), not {what}.")


def _open(path: str | os.PathLike, limit: int | None = None) -> Image.Image:
    """Open and fully decode ``path``, oriented by its EXIF tag, or raise one clear error."""
    path = Path(path)
    check_readable(path)
    return _decode(path, path, limit)


#: the fewest bytes a Huffman-coded JPEG can spend on one 8x8 block of luma: a 1-bit code for
#: its DC difference, even in a progressive DC-only first scan with an optimised table (an
#: arithmetic-coded JPEG can spend less, and is not checked); a smaller file is truncated or forged
JPEG_MIN_BYTES_PER_BLOCK = 1 / 8
#: deflate (PNG) expands to at most 1032 times its compressed size (258 bytes from 2 bits); with slack
PNG_MAX_RATIO = 1100
_ARITHMETIC_SOF = {0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_is_arithmetic(head: bytes) -> bool | None:
    """Whether the JPEG whose first bytes are ``head`` codes its data arithmetically (its
    SOF marker is 9-11 or 13-15); None when no SOF marker is found in ``head``."""
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker in _ARITHMETIC_SOF
        i += 2 + int.from_bytes(head[i + 2:i + 4], "big")
    return None


def _check_declared_size(im: Image.Image, source, path) -> None:
    """Refuse, before decoding, a JPEG or PNG whose header declares more pixels than its file
    could hold (a 13 KB JPEG that claims 9000x8000 took 20 s and 1.2 GB to end in an unrelated
    error): the size a decoder would allocate is checked against the file's size."""
    if im.format not in ("JPEG", "PNG"):
        return
    try:
        size = len(source.getbuffer()) if hasattr(source, "getbuffer") else os.path.getsize(source)
    except (OSError, TypeError):
        return
    w, h = im.size
    if im.format == "JPEG":
        try:
            if hasattr(source, "getbuffer"):
                head = bytes(source.getbuffer()[:1 << 16])
            else:
                with open(source, "rb") as fh:
                    head = fh.read(1 << 16)
        except OSError:
            return
        if _jpeg_is_arithmetic(head) is not False:
            return
        least = -(-w // 8) * -(-h // 8) * JPEG_MIN_BYTES_PER_BLOCK
    else:
        bits = {"1": 1, "L": 8, "P": 8, "LA": 16, "RGB": 24, "RGBA": 32, "I;16": 16, "I;16B": 16, "I": 32}.get(im.mode, 1)
        least = h * (1 + -(-w * bits // 8)) / PNG_MAX_RATIO
    if size < least:
        raise CompositorError(f"{path}: the {im.format} header declares {w}x{h} pixels, but the file holds only "
                              f"{size:,} bytes (such an image takes at least {int(least):,}); it is truncated or "
                              "corrupt.")


def _decode(source, path, limit: int | None = None) -> Image.Image:
    """Decode ``source`` (a path or a binary file object) fully, oriented by its EXIF tag;
    errors name ``path``. ``limit``: the most pixels accepted (default: ``max_pixels()``, whose
    sentence says how to raise it); more is a ``TooManyPixels``, found before decoding."""
    own = limit is not None
    limit = limit if own else max_pixels()
    advice = "" if own else " (set COMPOSITOR_MAX_PIXELS to raise it)"  # a caller's own limit is its to explain
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            # with a caller's own limit, the size check below is the one check, and its sentence gives
            # the size; Pillow's own (at open, for anything over its limit) only says it is too large
            Image.MAX_IMAGE_PIXELS = None if own else limit
            try:
                with Image.open(source) as im:
                    w, h = im.size
                    if w * h > limit:
                        raise TooManyPixels(f"{path}: image is {w}x{h} = {w * h:,} pixels, over the limit of "
                                            f"{limit:,}{' pixels' if own else ''}{advice}.")
                    _check_declared_size(im, source, path)
                    im.load()
                    oriented = ImageOps.exif_transpose(im)
                    oriented.load()
                    return oriented
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except CompositorError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(f"{path}: image is larger than the limit of {limit:,} pixels{advice}.") from None
    except UnidentifiedImageError:
        raise CompositorError(f"{path}: not an image file (or a format Pillow cannot read).") from None
    except OSError as exc:
        if exc.errno is not None:  # the system refused the read (no permission, an I/O error): not the image's fault
            raise CompositorError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
        raise CompositorError(f"{path}: the image is corrupt or truncated ({exc}).") from None
    except (SyntaxError, ValueError) as exc:
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


def read_rgba(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read any image as RGBA uint8 HxWx4 (opaque where the file has no alpha). ``max_pixels``:
    the most pixels accepted, instead of the command line's limit (``max_pixels()``); a larger
    image is refused before it is decoded (``TooManyPixels``)."""
    im = _open(path, max_pixels)
    try:
        return _pil_to_rgba(im)
    except ValueError as exc:  # a mode Pillow has no conversion to RGBA for
        raise _unsupported_mode(path, im, exc) from None


def read_rgb_bytes(data: bytes, name: str = "standard input") -> np.ndarray:
    """Read an image file's bytes (e.g. from a pipe) as RGB uint8 HxWx3, as ``read_rgb``
    reads a file; errors name the source ``name``."""
    if not data:
        raise CompositorError(f"{name}: empty (0 bytes), not an image.")
    im = _decode(io.BytesIO(data), name)
    try:
        rgba = _pil_to_rgba(im)
    except ValueError as exc:
        raise _unsupported_mode(name, im, exc) from None
    return over_white(rgba)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 as RGB, transparent pixels composited over white."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    if np.all(alpha == 1.0):
        return np.ascontiguousarray(rgba[..., :3])
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read any image as RGB uint8 HxWx3; transparent pixels are composited over white."""
    return over_white(read_rgba(path))


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


def mask_from_values(values: np.ndarray, hi: float) -> np.ndarray:
    """A mask's ``values`` (0..``hi``, its format's full scale) as float32 in [0, 1]: one
    nonzero level that is 1 or ``hi`` is a binary mask (0/1, 0/255 and 0/65535 all mean
    background/object); anything else is a soft mask, scaled by ``hi``. The one rule for
    masks read from files and masks given as arrays."""
    values = np.asarray(values, np.float32)
    nonzero = values > 0
    levels = values[nonzero]
    if 0 < levels.size < values.size and levels.min() == levels.max() and levels[0] in (1.0, hi):
        return nonzero.astype(np.float32)
    return np.clip(values / np.float32(hi), 0.0, 1.0).astype(np.float32)


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
    mask = mask_from_values(values, hi)
    nonzero = values > 0
    levels = values[nonzero]
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


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of the file at ``path``, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
