"""COCO annotation geometry from masks, through pycocotools (the COCO API's own encoder):
compressed RLE, polygons that keep holes, and the area and box pycocotools computes."""
from __future__ import annotations

import cv2
import numpy as np


def _mask_api():
    """``pycocotools.mask``, imported where it is used."""
    from pycocotools import mask

    return mask


def encode(mask: np.ndarray) -> dict:
    """The compressed COCO RLE of a boolean HxW mask (``pycocotools.mask.encode``), with its
    ``counts`` as text, as COCO JSON files hold it."""
    rle = _mask_api().encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode(segmentation: dict | list, height: int, width: int) -> np.ndarray:
    """The boolean HxW mask a COCO segmentation (RLE, compressed or not, or polygons) stands
    for, decoded by pycocotools as ``COCO.annToMask`` does."""
    import warnings

    api = _mask_api()
    if isinstance(segmentation, list):
        rle = api.merge(api.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = api.frPyObjects(segmentation, height, width)
    else:
        rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode("ascii")}
    with warnings.catch_warnings():  # pycocotools 2.0 asks NumPy 2 for a copy-free view in the old way
        warnings.simplefilter("ignore", DeprecationWarning)
        return api.decode(rle).astype(bool)


def area_and_box(rle: dict) -> tuple[int, list[int]]:
    """The pixel area and the [x, y, w, h] box of a compressed RLE (as ``encode`` makes it),
    computed by pycocotools (``mask.area``, ``mask.toBbox``)."""
    api = _mask_api()
    raw = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return int(api.area(raw)), [int(round(float(v))) for v in api.toBbox(raw)]


def polygons(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[list[float]]:
    """COCO polygons (x1, y1, x2, y2, ...) that pycocotools decodes back to exactly ``mask``,
    holes included; ``offset`` (x, y) is added to every point (for a mask cropped out of the
    image).

    The outline runs a quarter pixel inside each border pixel's edge (contours of the mask
    upsampled 2x, mapped back), where pycocotools' scan conversion, which takes a pixel whose
    centre is inside, draws exactly the mask's pixels. COCO decodes a list of polygons as
    their union, so a hole cannot be a polygon of its own: each hole (from the contour
    hierarchy) is joined to its outer outline by a slit traced there and back, which the
    scan conversion crosses twice and so leaves out. Checked equal on random masks with
    holes and islands in ``tests/test_synth.py``."""
    from scipy.spatial import cKDTree

    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return []
    up = cv2.resize(m, (m.shape[1] * 2, m.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    points = [(c.reshape(-1, 2).astype(np.float64) + 0.5) / 2.0 + np.asarray(offset, np.float64) for c in contours]
    out = []
    for i, (_, _, child, parent) in enumerate(hierarchy[0]):
        if parent != -1:  # a hole: joined to its outer outline below
            continue
        outline = points[i]
        while child != -1:
            hole = points[child]
            distance, nearest = cKDTree(outline).query(hole)  # the shortest slit: outline[a] to hole[b]
            b = int(np.argmin(distance))
            a = int(nearest[b])
            outline = np.concatenate([outline[:a + 1], hole[b:], hole[:b + 1], outline[a:]])
            child = hierarchy[0][child][0]
        out.append([round(float(v), 2) for v in outline.ravel()])
    return out
