"""``jpeg``: the photo's JPEG quality, and the object re-encoded at it on the photo's own grid.

The quality comes from the background file's quantisation tables when it is a JPEG file
(``file_tables``); otherwise from the pixels around the object (``estimate``): the 8x8 grid
is found where luma steps are largest, and each IJG quality is scored by how close the
block DCT coefficients of the surroundings sit to multiples of its quantisation steps (a
decoded JPEG's coefficients cluster on the multiples of its own steps; other tables leave
them spread). The object is re-encoded only when it does not already carry that
quantisation (the object coarser than, or as coarse as, the photo is left alone).
"""
from __future__ import annotations

import io

import cv2
import numpy as np

#: IJG's standard luminance quantisation table (JPEG Annex K), row-major.
LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
QUALITIES = np.arange(5, 100)
#: From this quality on the object is not re-encoded: such JPEG leaves no artefact a viewer
#: sees, while re-encoding a noisy or soft object there still moves it (on DUTS-TR photos,
#: themselves saved at 85: an object PSNR of 27-36 dB for a noisy object left as it was).
INVISIBLE = 80
#: A quantisation fit below this (1 = coefficients spread as if unquantised) counts as found.
FOUND = 0.45


def luma_table(quality: int) -> np.ndarray:
    """IJG's luminance table at ``quality`` (1..100), as libjpeg scales it (64 steps, row-major)."""
    q = int(np.clip(quality, 1, 100))
    scale = 5000 / q if q < 50 else 200 - 2 * q
    return np.clip(np.floor((LUMA * scale + 50) / 100), 1, 255)


_TABLES = np.stack([luma_table(q) for q in QUALITIES])
_TABLES32 = _TABLES.astype(np.float32)
#: The AC coefficients scored (row-major indices): the 27 of lowest frequency (u + v <= 6).
LOW = np.array([u * 8 + v for u in range(8) for v in range(8) if 0 < u + v <= 6])


def quality_of_table(table) -> int:
    """The IJG quality whose luminance table is nearest ``table`` (64 steps, in Pillow's order)."""
    t = np.asarray(list(table), np.float64)
    # Pillow lists tables in zigzag order in some versions and row-major in others; both are tried
    from PIL.JpegImagePlugin import zigzag_index

    zz = np.asarray(zigzag_index, int).ravel()
    best = None
    for cand in (t, t[zz]):
        err = np.abs(np.log(_TABLES) - np.log(np.maximum(cand, 1))).mean(1)
        i = int(np.argmin(err))
        if best is None or err[i] < best[0]:
            best = (err[i], int(QUALITIES[i]))
    allq = np.abs(np.log(np.stack([luma_table(q) for q in range(1, 101)])) - np.log(np.maximum(t, 1))).mean(1)
    return int(np.argmin(allq) + 1) if allq.min() <= best[0] else best[1]


def file_tables(path) -> dict | None:
    """{"quality", "qtables", "subsampling"} of a JPEG file (None for any other file)."""
    from PIL import Image, JpegImagePlugin

    try:
        with Image.open(path) as im:
            if im.format != "JPEG" or not getattr(im, "quantization", None):
                return None
            tables = {k: list(v) for k, v in im.quantization.items()}
            sampling = JpegImagePlugin.get_sampling(im)
    except (OSError, ValueError):
        return None
    return {"quality": quality_of_table(tables[0]), "qtables": tables, "subsampling": max(sampling, 0)}


def _dct_matrix() -> np.ndarray:
    n = np.arange(8)
    D = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16) * np.sqrt(2 / 8)
    D[0] /= np.sqrt(2)
    return D


_D = _dct_matrix()


def grid_offset(y: np.ndarray, where: np.ndarray) -> tuple[int, int]:
    """(ox, oy): where the 8x8 grid starts in the crop ``y`` (luma), read from ``where`` (bool):
    the phase at which steps between neighbouring columns (rows) are largest."""
    out = []
    for axis in (1, 0):
        d = np.abs(np.diff(y, axis=axis))
        w = (where[:, 1:] & where[:, :-1]) if axis == 1 else (where[1:] & where[:-1])
        prof = (d * w).sum(0 if axis == 1 else 1)
        cnt = w.sum(0 if axis == 1 else 1)
        idx = np.arange(prof.size)
        score = [prof[(idx + 1 - p) % 8 == 0].sum() / max(cnt[(idx + 1 - p) % 8 == 0].sum(), 1) for p in range(8)]
        out.append(int(np.argmax(score)))
    return out[0], out[1]


def _blocks(y: np.ndarray, where: np.ndarray, ox: int, oy: int, limit: int = 400) -> np.ndarray:
    """DCT coefficients (n, 64) of the 8x8 blocks of ``y`` on the grid (ox, oy) that lie wholly in ``where``."""
    H, W = y.shape
    nby, nbx = (H - oy) // 8, (W - ox) // 8
    if nby <= 0 or nbx <= 0:
        return np.zeros((0, 64))
    sub = y[oy:oy + nby * 8, ox:ox + nbx * 8].reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)
    ok = where[oy:oy + nby * 8, ox:ox + nbx * 8].reshape(nby, 8, nbx, 8).all(axis=(1, 3))
    b = sub[ok].astype(np.float64) - 128.0
    if len(b) > limit:
        b = b[np.linspace(0, len(b) - 1, limit).astype(int)]
    return (_D @ b @ _D.T).reshape(-1, 64)


def _fit(coefs: np.ndarray, upto: int = 100) -> np.ndarray:
    """For each quality in QUALITIES (those above ``upto`` left at 1), how far the coefficients sit from its steps' multiples:
    mean over informative coefficients of E[(c - Q round(c/Q))^2] / (Q^2 / 12), over the
    values the table does not round to zero; about 1 when unrelated, near 0 for the table that
    quantised them."""
    out = np.ones(len(QUALITIES))
    if len(coefs) < 8:
        return out
    n = int(np.searchsorted(QUALITIES, upto, side="right"))
    c = coefs[:, LOW].astype(np.float32)  # DC is shifted by the level offset's rounding; the low AC ones carry the most
    Q = _TABLES32[:n, None, LOW]  # (qualities, 1, k)
    k = np.round(c[None] / Q)
    nonzero = k != 0
    r2 = np.where(nonzero, (c[None] - Q * k) ** 2, 0.0)
    count = nonzero.sum(1)  # (qualities, 63)
    use = count >= max(4, 0.05 * len(c))
    # only the coefficients the table keeps: one rounded to zero says nothing about the step
    err = r2.sum(1) / np.maximum(count, 1) / (_TABLES32[:n, LOW] ** 2 / 12)
    enough = use.sum(1) >= 3
    out[:n][enough] = (np.where(use, err, 0).sum(1) / np.maximum(use.sum(1), 1))[enough]
    return out


def estimate(rgb: np.ndarray, where: np.ndarray, offset: tuple[int, int] | None = None,
             fallback: tuple[int, int] | None = None) -> dict:
    """The JPEG quality of the pixels of ``rgb`` (uint8 crop) inside ``where`` (bool):
    {"quality" (None when no JPEG quantisation is found), "fit", "grid": [ox, oy] in the crop}.
    The grid is ``offset`` when given, else found from the pixels (``fallback`` is tried too
    when nothing is found there)."""
    y = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float64) \
        if rgb.ndim == 3 else rgb.astype(np.float64)
    ox, oy = offset if offset is not None else grid_offset(y, where)
    fit = _fit(_blocks(y, where, ox, oy))
    i = int(np.argmin(fit))
    if fit[i] >= FOUND and offset is None and fallback is not None and tuple(fallback) != (ox, oy):
        other = _fit(_blocks(y, where, *fallback))  # the grid a pasted, uncropped background keeps
        if other.min() < fit[i]:
            (ox, oy), fit, i = fallback, other, int(np.argmin(other))
    return {"quality": int(QUALITIES[i]) if fit[i] < FOUND else None, "fit": round(float(fit[i]), 3),
            "grid": [int(ox), int(oy)]}


def carries(rgb: np.ndarray, where: np.ndarray, offset: tuple[int, int], quality: int) -> tuple[bool, int | None]:
    """Whether the pixels in ``where`` already carry JPEG quantisation as coarse as ``quality``
    (within 2) on the grid ``offset``: (answer, the quality found there at or below that, or None)."""
    y = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float64)
    fit = _fit(_blocks(y, where, *offset), upto=quality + 2)  # coarser tables only: that is the question
    i = int(np.argmin(fit))
    found = int(QUALITIES[i]) if fit[i] < FOUND else None
    return found is not None, found


def reencode(image: np.ndarray, alpha: np.ndarray, box: tuple[int, int, int, int], offset: tuple[int, int],
             quality: int, qtables: dict | None = None, subsampling: int = 2) -> np.ndarray:
    """``image`` (RGB uint8, whole picture) with the object (``alpha``, whole picture) replaced by
    its JPEG re-encoding at ``quality`` (or the file's ``qtables``) on the picture's grid whose
    blocks start at ``offset`` (ox, oy, picture coordinates modulo 8); only the crop ``box``
    (x0, y0, x1, y1) around the object is encoded."""
    from PIL import Image

    H, W = image.shape[:2]
    ox, oy = offset[0] % 8, offset[1] % 8
    x0, y0, x1, y1 = box
    mcu = 16 if subsampling == 2 else 8
    X0 = ox + ((x0 - ox) // mcu) * mcu
    Y0 = oy + ((y0 - oy) // mcu) * mcu
    X1 = X0 + -(-(x1 - X0) // mcu) * mcu
    Y1 = Y0 + -(-(y1 - Y0) // mcu) * mcu
    padded = np.pad(image, ((max(0, -Y0), max(0, Y1 - H)), (max(0, -X0), max(0, X1 - W)), (0, 0)), mode="edge")
    py, px = max(0, -Y0), max(0, -X0)
    crop = padded[Y0 + py:Y1 + py, X0 + px:X1 + px]
    buf = io.BytesIO()
    kw = {"qtables": qtables, "subsampling": subsampling} if qtables else {"quality": int(quality), "subsampling": subsampling}
    Image.fromarray(crop).save(buf, "JPEG", **kw)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    cy0, cx0 = max(0, Y0), max(0, X0)
    cy1, cx1 = min(H, Y1), min(W, X1)
    dec = decoded[cy0 - Y0:cy1 - Y0, cx0 - X0:cx1 - X0].astype(np.float32)
    a = alpha[cy0:cy1, cx0:cx1, None].astype(np.float32)
    out = image.copy()
    src = image[cy0:cy1, cx0:cx1].astype(np.float32)
    out[cy0:cy1, cx0:cx1] = np.clip(np.rint(src + a * (dec - src)), 0, 255).astype(np.uint8)
    return out
