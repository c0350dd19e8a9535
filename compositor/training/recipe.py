"""How training composites are made from photos with object masks (iHarmony4's recipes).

Each sample is a real photo, an object region and a perturbed copy of the object; the
harmonizer must restore the photo. The perturbations follow how iHarmony4 built its
composites, at the strength of real photo edits:

``category``
    HCOCO/HFlickr: the object's colour statistics moved to those of another object of
    the same category (the ImageNet synset in DUTS-TR's file names): Lab or RGB
    mean/std transfer, or per-channel histogram matching.
``other``
    the same, toward an object of any category, part of the way.
``retouch``
    HAdobe5k: the object from another edit of the same photo: exposure, white balance,
    contrast, saturation and tone curve.
``cast``
    Hday2night: a global change of illumination: a coloured cast, darker or brighter
    light, compressed tones.

The region is varied as real composites' masks are: the hand-drawn object mask eroded
or dilated a few px (so it takes in a sliver of the background or misses part of the
object), sometimes with a soft edge; the perturbation is blended in through that mask,
and the harmonizer is given the same mask, as iHarmony4 does.

A share of the regions (``placed_share``, about half by default) are not salient objects at
all: another photo's object mask placed at random on this photo. A salient object differs
from its surroundings by nature (its median L gap to the ring around it is about 17 on
DUTS-TR), a pasted object mainly by the edit (about 7 on real composites, 5 for placed
regions); a head taught only on salient objects learns that a large gap is natural contrast
and leaves the big edits of real composites nearly uncorrected. Every random choice is drawn
from a generator seeded per sample (parameters are sampled apart from applying them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..ops import colour
from ..ops.colour import lab, toward

#: Changes whenever the recipe makes different samples, so that cached samples of another recipe are not reused.
VERSION = 6
SYNSET = re.compile(r"^(n\d{8})_")
KINDS = ("category", "other", "retouch", "cast")
#: The share of samples whose region is another photo's mask placed at random (see the module docstring).
PLACED_SHARE = 0.5
WEIGHTS = {"category": 0.35, "other": 0.15, "retouch": 0.3, "cast": 0.2}


@dataclass(frozen=True)
class Photo:
    """A corpus photo: its stem, image and mask files, and its ImageNet synset (from the stem) if any."""

    stem: str
    image: Path
    mask: Path
    synset: str | None


def corpus(root: str | Path) -> list[Photo]:
    """Photos of a folder with ``images/STEM.jpg`` and ``masks/STEM.png``, sorted by stem."""
    root = Path(root)
    masks = {p.stem: p for p in (root / "masks").glob("*.png")}
    out = []
    for img in sorted((root / "images").iterdir()):
        if img.stem in masks and img.suffix.lower() in (".jpg", ".jpeg", ".png"):
            m = SYNSET.match(img.stem)
            out.append(Photo(img.stem, img, masks[img.stem], m.group(1) if m else None))
    return out


def split(photos: list[Photo], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[Photo], list[Photo]]:
    """(train, validation): whole synsets held out for validation, and a share of the photos without one."""
    rng = np.random.default_rng(seed)
    synsets = sorted({p.synset for p in photos if p.synset})
    held = set(rng.permutation(synsets)[: int(round(val_fraction * len(synsets)))])
    loose = [p.stem for p in photos if not p.synset]
    held_loose = set(rng.permutation(loose)[: int(round(val_fraction * len(loose)))])
    val = [p for p in photos if (p.synset in held) or (p.stem in held_loose)]
    train = [p for p in photos if not ((p.synset in held) or (p.stem in held_loose))]
    return train, val


def read_pair(photo: Photo) -> tuple[np.ndarray, np.ndarray]:
    """``photo``'s RGB uint8 image and bool mask (> 127, resized to the image if it differs)."""
    bgr = cv2.imread(str(photo.image), cv2.IMREAD_COLOR)
    m = cv2.imread(str(photo.mask), cv2.IMREAD_GRAYSCALE)
    if bgr is None or m is None:
        raise OSError(f"{photo.image}: cannot read the photo or its mask")
    if m.shape != bgr.shape[:2]:
        m = cv2.resize(m, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), m > 127


# --------------------------------------------------------------------------- perturbations


def lab_transfer(rgb: np.ndarray, region: np.ndarray, mu_r: np.ndarray, sd_r: np.ndarray, strength: float) -> np.ndarray:
    """The photo (float RGB 0..255) with the region's Lab mean/std moved ``strength`` of the way to (mu_r, sd_r)."""
    L = lab(rgb)
    mu, sd = L[region].mean(0), L[region].std(0) + 1e-3
    mu_t, sd_t = toward(mu, sd, mu_r, sd_r, strength)
    return colour.lab_transfer(L, mu, sd_t / sd, mu_t)


def rgb_transfer(rgb: np.ndarray, region: np.ndarray, ref: np.ndarray, ref_region: np.ndarray, strength: float) -> np.ndarray:
    """The photo (float RGB 0..255) with the region's RGB mean/std moved ``strength`` of the way to those
    of ``ref_region`` in ``ref``."""
    x = rgb.astype(np.float32)
    mu, sd = x[region].mean(0), x[region].std(0) + 1e-3
    r = ref.astype(np.float32)[ref_region]
    mu_t, sd_t = toward(mu, sd, r.mean(0), r.std(0), strength)
    return np.clip((x - mu) * (sd_t / sd) + mu_t, 0, 255)


def histogram_match(rgb: np.ndarray, region: np.ndarray, ref: np.ndarray, ref_region: np.ndarray,
                    strength: float) -> np.ndarray:
    """The photo (float RGB 0..255) through per-channel histogram matching of the region to the
    reference region (scikit-image's ``match_histograms``), blended by ``strength``. The
    region's pixels get their matched values; the rest of the photo (which a dilated or
    soft blending mask reaches) goes through the same mapping, interpolated between the
    region's values."""
    from skimage.exposure import match_histograms

    x = rgb.astype(np.float32)
    src = x[region]
    matched = match_histograms(src, ref[ref_region].astype(np.float32), channel_axis=-1)
    out = x.copy()
    for c in range(3):
        values, first = np.unique(src[:, c], return_index=True)
        out[..., c] = np.interp(x[..., c], values, matched[first, c])
    return np.clip(x + strength * (out - x), 0, 255)


def sample_retouch(rng: np.random.Generator) -> dict:
    """Retouch parameters for ``apply_retouch`` drawn from ``rng``: half mild edits, half the strong
    ones experts make (MIT-Adobe FiveK's retouches differ from each other by an EV or more, with
    large white-balance and tone changes)."""
    k = 1.0 if rng.random() < 0.5 else 2.5
    return {"exposure": float(rng.normal(0, 0.35 * k)), "temperature": float(rng.normal(0, 0.12 * k)),
            "tint": float(rng.normal(0, 0.05 * k)), "contrast": float(np.clip(rng.normal(0, 0.2 * k), -0.9, 0.9)),
            "saturation": float(np.exp(rng.normal(0, 0.25 * k))), "gamma": float(np.exp(rng.normal(0, 0.15 * k)))}


def apply_retouch(rgb: np.ndarray, p: dict) -> np.ndarray:
    """An edit ``p`` (``sample_retouch``) of the whole photo (RGB 0..255): exposure and white balance in
    linear light, then tone and saturation; float RGB 0..255."""
    x = (rgb.astype(np.float32) / 255.0) ** 2.2
    wb = np.array([np.exp(p["temperature"]), np.exp(p["tint"]), np.exp(-p["temperature"])], np.float32)
    x = np.clip(x * (2.0 ** p["exposure"]) * wb, 0, 1) ** (1 / 2.2)
    x = x ** p["gamma"]
    # contrast: an S (or inverse S) curve around mid-grey
    k = p["contrast"]
    x = np.clip(x + k * (x - 0.5) * (1 - np.abs(2 * x - 1)) * 2, 0, 1)
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = np.clip(grey[..., None] + p["saturation"] * (x - grey[..., None]), 0, 1)
    return x * 255.0


def sample_cast(rng: np.random.Generator) -> dict:
    """Cast parameters for ``apply_cast`` drawn from ``rng``: daylight to dusk or night and back
    (Hday2night): light down to a tenth or up to twice, coloured."""
    tint = np.exp(rng.normal(0, 0.25, 3))
    return {"light": float(np.exp(rng.normal(-0.3, 0.7))), "tint": [float(v) for v in tint / tint.mean()],
            "gamma": float(np.exp(rng.normal(0, 0.12))), "lift": float(rng.uniform(0, 0.04))}


def apply_cast(rgb: np.ndarray, p: dict) -> np.ndarray:
    """A change of illumination ``p`` (``sample_cast``) on the whole photo (RGB 0..255): light and
    tint in linear light, then gamma and a lift of the shadows; float RGB 0..255."""
    x = (rgb.astype(np.float32) / 255.0) ** 2.2
    x = np.clip(x * p["light"] * np.asarray(p["tint"], np.float32), 0, 1) ** (1 / 2.2)
    x = p["lift"] + (1 - p["lift"]) * x ** p["gamma"]
    return np.clip(x, 0, 1) * 255.0


# --------------------------------------------------------------------------- masks


def vary_mask(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The composite's mask: the region as drawn half the time, else eroded or dilated by 1 px (most
    often), 2 or 3 px, as segmentation masks miss edges; sometimes soft; float 0..1."""
    m = region.astype(np.uint8)
    px = int(rng.choice([0, 1, 2, 3], p=[0.5, 0.3, 0.15, 0.05])) * int(rng.choice([-1, 1]))
    if px:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(px) + 1, 2 * abs(px) + 1))
        grown = cv2.dilate(m, k) if px > 0 else cv2.erode(m, k)
        if grown.any() and not grown.all():
            m = grown
    out = m.astype(np.float32)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.5, 2.0)))
    return np.clip(out, 0, 1)


def placed_region(shape: tuple[int, int], other: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Another photo's object mask, scaled and placed at random on a photo of ``shape``: a non-salient region."""
    ys, xs = np.nonzero(other)
    if len(ys) == 0:
        return None
    crop = other[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.uint8)
    H, W = shape
    scale = rng.uniform(0.25, 0.7) * min(H / crop.shape[0], W / crop.shape[1])
    h, w = max(4, int(crop.shape[0] * scale)), max(4, int(crop.shape[1] * scale))
    if h >= H or w >= W:
        return None
    crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_NEAREST)
    y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
    out = np.zeros(shape, bool)
    out[y:y + h, x:x + w] = crop > 0
    return out if out.sum() >= 64 else None


@dataclass(frozen=True)
class Sample:
    """One training composite: the real photo, the composite, and the region and mask it was made through."""

    truth: np.ndarray       # RGB uint8
    composite: np.ndarray   # RGB uint8
    region: np.ndarray      # bool: the perturbed region (mask > 0.5)
    mask: np.ndarray        # float 0..1: the mask the perturbation was blended through, given to the harmonizer
    kind: str
    placed: bool = False    # the region is another photo's mask placed at random, not this photo's object


def make_sample(photo: Photo, pool: list[Photo], by_synset: dict[str, list[int]], rng: np.random.Generator,
                read=read_pair, placed_share: float = PLACED_SHARE) -> Sample | None:
    """One training composite from ``photo``; references come from ``pool`` (never another split),
    same-category ones by ``by_synset`` (synset -> indices into ``pool``). With probability
    ``placed_share`` the region is another photo's mask placed at random (``placed_region``; the
    photo's own object when that fails). None when the drawn region is too small or covers the
    whole photo, or a reference's object is too small."""
    truth, region = read(photo)
    is_placed = False
    if rng.random() < placed_share:
        other = pool[int(rng.integers(len(pool)))]
        placed = placed_region(region.shape, read(other)[1], rng)
        if placed is not None:
            region, is_placed = placed, True
    mask = vary_mask(region, rng)
    region = mask > 0.5
    if region.sum() < 64 or region.all():
        return None
    kinds = list(KINDS)
    weights = np.array([WEIGHTS[k] for k in kinds])
    same = [i for i in by_synset.get(photo.synset, []) if pool[i].stem != photo.stem] if photo.synset else []
    if not same:
        weights[kinds.index("category")] = 0
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    x = truth.astype(np.float32)
    if kind in ("category", "other"):
        ref_photo = pool[same[int(rng.integers(len(same)))]] if kind == "category" else pool[int(rng.integers(len(pool)))]
        ref, ref_region = read(ref_photo)
        if ref_region.sum() < 16:
            return None
        strength = float(rng.uniform(0.6, 1.0)) if kind == "category" else float(rng.uniform(0.3, 0.8))
        method = rng.choice(3, p=[0.6, 0.2, 0.2])
        if method == 0:
            R = lab(ref)[ref_region]
            moved = lab_transfer(x, region, R.mean(0), R.std(0), strength)
        elif method == 1:
            moved = rgb_transfer(x, region, ref, ref_region, strength)
        else:
            moved = histogram_match(x, region, ref, ref_region, strength)
    elif kind == "retouch":
        moved = apply_retouch(truth, sample_retouch(rng))
    else:
        moved = apply_cast(truth, sample_cast(rng))
    m = mask[..., None]
    comp = np.clip(x * (1 - m) + moved * m + 0.5, 0, 255).astype(np.uint8)
    return Sample(truth=truth, composite=comp, region=region, mask=mask, kind=kind, placed=is_placed)
