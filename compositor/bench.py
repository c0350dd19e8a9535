"""The harmonization benchmark (iHarmony4 protocol).

A real photo and an object mask; the object's appearance is perturbed; each
harmonizer is asked to restore the photo. Scores against the real photo on the 0..255
scale: MSE and PSNR over the image, fMSE over the object, bMSE over a band either side
of the object's edge (the seam), SSIM; and seconds per image.

Built-in cases are made at run time from photos that ship with scikit-image and the
hand-made masks that ship in the package (``compositor/data/bench/cases.json``), in two perturbation families
reported apart:

``transfer``
    iHarmony4's recipe: the object's Lab mean and standard deviation moved to those
    of another photo's object.
``camera``
    the object as another camera would have shot it: exposure gain, gamma and
    white-balance gains.

Everything random is drawn from a generator seeded by ``seed`` and the case's index,
so the same command gives the same cases. ``load_cases_dir`` reads any folder in
iHarmony4's layout (``composite_images/NAME_K_J.jpg``, ``masks/NAME_K.png``,
``real_images/NAME.jpg``).
"""
from __future__ import annotations

import json
import math
import re
import time
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from . import api, metrics
from .errors import CompositorError, UsageError
from .imageio import read_mask, read_rgb
from .ops.colour import lab, lab_transfer
from .ops.resize import resize
from .types import Composite

FAMILIES = ("transfer", "camera")
#: the built-in cases: package data, found wherever the package is installed
BUILTIN = Path(str(resources.files("compositor") / "data" / "bench"))
METRICS = ("mse", "psnr", "fmse", "bmse", "ssim")
#: The harmonizer every run also measures, first: the composite as it is (the ``*_vs_none`` ratios).
BASELINE = "none"


@dataclass(frozen=True)
class Case:
    """One benchmark case: a composite, the real photo it should become, and how it was made."""

    name: str
    family: str
    composite: Composite
    truth: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    subset: str | None = None


#: iHarmony4's subsets, by the first letter of a composite's name.
SUBSETS = {"a": "HAdobe5k", "c": "HCOCO", "d": "Hday2night", "f": "HFlickr"}


def subset_of(name: str) -> str:
    """The iHarmony4 subset a composite's name belongs to (``other`` when its first letter names none)."""
    return SUBSETS.get(name[:1].lower(), "other")


# --------------------------------------------------------------------------- perturbations


def sample_transfer(rng: np.random.Generator, n_refs: int, own: int, k: int = 0) -> dict[str, Any]:
    """The reference photo: the k-th of the other photos in an order drawn from ``rng``."""
    choices = [i for i in range(n_refs) if i != own] or [own]
    return {"reference": int(rng.permutation(choices)[k % len(choices)])}


def apply_transfer(image: np.ndarray, mask: np.ndarray, ref_image: np.ndarray, ref_mask: np.ndarray) -> np.ndarray:
    """``image`` with the object's Lab mean/std moved to those of the reference object (Reinhard
    et al.): RGB float32 0..255 (the whole image; the caller blends it in through the mask)."""
    region, ref_region = mask > 0.5, ref_mask > 0.5
    L, R = lab(image), lab(ref_image)
    mu, sd = L[region].mean(0), L[region].std(0) + 1e-6
    mu_r, sd_r = R[ref_region].mean(0), R[ref_region].std(0)
    return lab_transfer(L, mu, sd_r / sd, mu_r)


def sample_camera(rng: np.random.Generator) -> dict[str, Any]:
    """A camera change drawn from ``rng``: {"exposure" gain, "gamma", "wb" gains (green 1)}."""
    wb = rng.uniform(0.75, 1.3, 3)
    wb = wb / wb[1]
    return {"exposure": float(2.0 ** rng.uniform(-0.8, 0.8)), "gamma": float(rng.uniform(0.75, 1.35)),
            "wb": [float(v) for v in wb]}


def apply_camera(image: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """``image`` (RGB uint8) through ``params`` (``sample_camera``): exposure gain and white-balance
    gains in linear light, then a gamma change; RGB float32 0..255."""
    x = (image.astype(np.float32) / 255.0) ** 2.2  # to (approximately) linear light
    x = x * params["exposure"] * np.asarray(params["wb"], np.float32)
    x = np.clip(x, 0, 1) ** (1 / 2.2)
    return np.clip(255.0 * x ** params["gamma"], 0, 255)


def _blend(truth: np.ndarray, perturbed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return np.clip(truth * (1 - m) + perturbed * m + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- case sets


def _photo(spec: str, root: Path) -> np.ndarray:
    if spec.startswith("skimage:"):
        import skimage.data

        return read_rgb(Path(skimage.data.__file__).parent / spec.split(":", 1)[1])
    return read_rgb(root / spec)


#: the smallest --max-side: SSIM's 7x7 window must fit the smallest photo's short side
MIN_SIDE = 32


def builtin_cases(*, seed: int = 0, per_case: int = 2, families: Iterable[str] = FAMILIES, max_side: int | None = None,
                  root: Path = BUILTIN) -> list[Case]:
    """The built-in set: each photo/mask pair x each family x ``per_case`` perturbations, drawn
    from ``seed``; photos scaled down to ``max_side`` px if given. Returns the Cases."""
    families = list(families)
    if not families:
        raise UsageError("--families is empty; name at least one of " + ", ".join(FAMILIES) + ".")
    if max_side is not None and max_side < MIN_SIDE:
        raise UsageError(f"--max-side must be at least {MIN_SIDE} px; received {max_side}.")
    spec_path = root / "cases.json"
    if not spec_path.is_file():
        raise CompositorError(f"{spec_path}: the built-in case list is missing.")
    specs = json.loads(spec_path.read_text())["cases"]
    photos, masks = [], []
    for spec in specs:
        img = _photo(spec["image"], root)
        mask = read_mask(root / spec["mask"])
        if max_side and max(img.shape[:2]) > max_side:
            size = (round(img.shape[1] * max_side / max(img.shape[:2])), round(img.shape[0] * max_side / max(img.shape[:2])))
            img, mask = resize(img, size), resize(mask, size)
        photos.append(img)
        masks.append(mask)
    cases = []
    for family in families:
        if family not in FAMILIES:
            raise UsageError(f"unknown perturbation family {family!r}; choose from {', '.join(FAMILIES)}.")
        for i, spec in enumerate(specs):
            for k in range(per_case):
                rng = np.random.default_rng([seed, FAMILIES.index(family), i, k])
                truth, mask = photos[i], masks[i]
                if family == "transfer":
                    # one order of references per photo, so its perturbations use different references
                    params = sample_transfer(np.random.default_rng([seed, FAMILIES.index(family), i]), len(specs), i, k)
                    j = params["reference"]
                    perturbed = apply_transfer(truth, mask, photos[j], masks[j])
                    params["reference"] = specs[j]["name"]
                else:
                    params = sample_camera(rng)
                    perturbed = apply_camera(truth, params)
                comp = Composite(image=_blend(truth, perturbed, mask), mask=mask)
                cases.append(Case(f"{spec['name']}_{k}", family, comp, truth, params))
    return cases


_COMPOSITE_NAME = re.compile(r"^(?P<name>.+)_(?P<k>[^_]+)_(?P<j>[^_]+)$")


def load_cases_dir(folder: str | Path, size: int | None = None) -> list[Case]:
    """Cases from a folder in iHarmony4's layout; the family is the folder's name, the subset
    the name's first letter (``SUBSETS``).

    ``size``: the field's protocol, composite, mask and real photo resized to size x size
    (area averaging down, bicubic up; the mask thresholded at 128 of 255). None keeps the
    native size."""
    if size is not None and size < MIN_SIDE:
        raise UsageError(f"--size must be at least {MIN_SIDE} px; received {size}.")
    folder = Path(folder)
    comp_dir, mask_dir, real_dir = folder / "composite_images", folder / "masks", folder / "real_images"
    for d in (comp_dir, mask_dir, real_dir):
        if not d.is_dir():
            raise UsageError(f"{folder}: not in iHarmony4's layout (no {d.name}/ folder).")
    cases = []
    for comp_path in sorted(comp_dir.iterdir()):
        if comp_path.name.startswith("."):
            continue
        m = _COMPOSITE_NAME.match(comp_path.stem)
        if not m:
            raise UsageError(f"{comp_path}: composite names must be NAME_K_J (e.g. a0001_1_2.jpg).")
        name, k = m["name"], m["k"]
        masks = sorted(mask_dir.glob(f"{name}_{k}.*"))
        reals = sorted(real_dir.glob(f"{name}.*"))
        if not masks or not reals:
            raise UsageError(f"{comp_path}: no matching masks/{name}_{k}.* or real_images/{name}.*.")
        image = read_rgb(comp_path)
        truth = read_rgb(reals[0])
        if truth.shape != image.shape:
            raise UsageError(f"{reals[0]}: size differs from {comp_path}.")
        mask = read_mask(masks[0], image.shape[:2], image_path=comp_path)
        if size is not None:
            image, truth = resize(image, (size, size)), resize(truth, (size, size))
            mask = resize(mask.astype(np.float32), (size, size))
        mask = (mask >= 128 / 255).astype(np.float32)
        if not mask.any():
            where = f"at {size}x{size} px" if size is not None else "(no pixel reaches 128 of 255)"
            raise UsageError(f"{masks[0]}: the object vanishes {where}.")
        cases.append(Case(comp_path.stem, folder.name, Composite(image=image, mask=mask), truth,
                          subset=subset_of(comp_path.stem)))
    if not cases:
        raise UsageError(f"{comp_dir}: no composite images found.")
    return cases


# --------------------------------------------------------------------------- running


def run(cases: list[Case], backends: list[str], settings: dict[str, dict] | None = None,
        on_result: Callable[[dict], None] | None = None, finish: dict | None = None) -> list[dict[str, Any]]:
    """Score every backend on every case with its ``settings`` (by backend name); one row per
    (case, backend), each also passed to ``on_result`` as it comes. Failures become rows too.
    ``finish``: the finishing stage's settings, run after every backend (``none`` included)."""
    from .finish import finish as finish_stage
    from .finish import make_finish_settings, object_masks

    settings = settings or {}
    finishing = make_finish_settings(finish) if finish else None
    ready = {name: api.harmonizer(name, **settings.get(name, {})) for name in backends}
    rows = []
    for case in cases:
        for name, harmonizer in ready.items():
            row: dict[str, Any] = {"case": case.name, "family": case.family, "subset": case.subset, "backend": name,
                                   "object_fraction": round(float((case.composite.mask > 0.5).mean()), 4)}
            t0 = time.perf_counter()
            try:
                result = api.harmonize(case.composite, harmonizer)
                image = result.image
                if finishing is not None and finishing.active:
                    comp = case.composite
                    image, _ = finish_stage(image, object_masks(comp.mask, comp.objects), finishing)
                row["seconds"] = time.perf_counter() - t0
                row.update(metrics.with_reference(image, case.truth, case.composite.mask))
                row["ok"] = True
            except CompositorError as exc:
                row.update(ok=False, error=str(exc), seconds=time.perf_counter() - t0)
            rows.append(row)
            if on_result:
                on_result(row)
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean of each metric per (family, backend), with each backend's ratio to ``none``; when a
    family's cases come from several iHarmony4 subsets, rows per subset (``family/subset``) follow."""
    grouped = []
    for family in dict.fromkeys(r["family"] for r in rows):
        sel = [r for r in rows if r["family"] == family]
        grouped += sel
        subsets = list(dict.fromkeys(r.get("subset") for r in sel if r.get("subset")))
        if len(subsets) > 1:
            for subset in sorted(subsets):
                grouped += [dict(r, family=f"{family}/{subset}") for r in sel if r.get("subset") == subset]
    return _summarize(grouped)


def _summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    families = list(dict.fromkeys(r["family"] for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    for family in families:
        base = None
        group_rows = []
        for backend in backends:
            sel = [r for r in rows if r["family"] == family and r["backend"] == backend and r.get("ok")]
            failed = sum(1 for r in rows if r["family"] == family and r["backend"] == backend and not r.get("ok"))
            entry: dict[str, Any] = {"family": family, "backend": backend, "n": len(sel), "failed": failed}
            for key in METRICS + ("seconds",):
                vals = [r[key] for r in sel if key in r and np.isfinite(r[key])]
                entry[key] = float(np.mean(vals)) if vals else float("nan")
            if backend == BASELINE:
                base = entry
            group_rows.append(entry)
        for entry in group_rows:
            if base is not None:
                for key in ("fmse", "bmse", "mse"):
                    entry[f"{key}_vs_none"] = entry[key] / base[key] if base[key] else float("nan")
        out += group_rows
    return out


def table(summary: list[dict[str, Any]]) -> str:
    """The ``summarize`` rows as a Markdown table."""
    head = ("| family | backend | n | fMSE | fMSE / none | bMSE | bMSE / none | MSE | PSNR | SSIM | s / image |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for e in summary:
        fail = f" ({e['failed']} failed)" if e["failed"] else ""
        lines.append(
            f"| {e['family']} | {e['backend']}{fail} | {e['n']} | {e['fmse']:.1f} | {e.get('fmse_vs_none', math.nan):.3f} | "
            f"{e['bmse']:.1f} | {e.get('bmse_vs_none', math.nan):.3f} | {e['mse']:.2f} | {e['psnr']:.2f} | "
            f"{e['ssim']:.4f} | {e['seconds']:.2f} |")
    return "\n".join(lines)
