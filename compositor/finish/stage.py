"""The finishing stage: each object matched to the photo around it (blur, noise, JPEG), then
its shadow; what every step estimated recorded, with the seed of anything random.

Steps run per object, in paste order, each object against its own surroundings (a ring
that leaves out every pasted object). All estimates are read on the picture as it came in;
the object is then blurred, given grain and re-encoded (the order a camera applies them),
and the shadows darken the background last.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..plugins import build_settings, ready_settings, setting
from . import blur, jpeg, noise, shadow
from .base import gray, region, rng_for, scaled

CUES = ("blur", "noise", "jpeg")
SHADOWS = shadow.KINDS
#: The object's longer side (px) at which blur is read; the step was tuned on photos of 256 px.
BLUR_SIDE = 256


def parse_match(value, label: str = "finish.match") -> tuple[str, ...]:
    """``blur,noise,jpeg`` (any of them, comma-separated), ``all`` or ``none`` (also a list or
    tuple of cue names) -> the cues, in the order they are applied. Refuses anything else, in a
    sentence that names the value as ``label``."""
    if value is None:
        return ()
    try:
        items = value.split(",") if isinstance(value, str) else list(value)
    except TypeError:  # not text nor a list: refused below, naming it
        items = [value]
    names = [str(i).strip().lower() for i in items if str(i).strip()]
    if names in ([], ["none"]):
        return ()
    if names == ["all"]:
        return CUES
    bad = [n for n in names if n not in CUES]
    if bad:
        raise UsageError(f"{label} must be a comma list of {', '.join(CUES)}, or all, or none; received {value!r}.")
    return tuple(c for c in CUES if c in names)


def parse_light(value, label: str = "finish.light") -> tuple[float, float] | None:
    """``AZIMUTH,ELEVATION`` in degrees (text or a pair) -> (azimuth in [0, 360), elevation);
    None for None or "none". The elevation must be within 0..90; a sentence that refuses the
    value names it as ``label``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    try:
        items = value.split(",") if isinstance(value, str) else list(value)
        az, el = (float(v) for v in items)
    except (TypeError, ValueError):
        raise UsageError(f"{label} must be AZIMUTH,ELEVATION in degrees, e.g. 135,40; received {value!r}.") from None
    if not (math.isfinite(az) and math.isfinite(el)):
        raise UsageError(f"{label} must be two finite numbers AZIMUTH,ELEVATION; received {value!r}.")
    if not 0 <= el <= 90:
        raise UsageError(f"{label}: the elevation must be between 0 and 90 degrees; received {el:g}.")
    return az % 360.0, el


@dataclass(frozen=True, kw_only=True)
class FinishSettings:
    """What the finishing stage does after the colour harmonizer."""

    match: str = setting("none", "photo cues to match on each object: a comma list of blur, noise, jpeg; "
                                 "or all; or none")
    shadow: str = setting("none", "shadow under each object: contact (where it meets the ground), "
                                  "cast (contact plus the shadow thrown away from --light), or none",
                          choices=SHADOWS)
    light: str | None = setting(None, "light direction AZIMUTH,ELEVATION in degrees for a cast shadow: azimuth "
                                      "clockwise from the top of the picture (0 = from behind the scene, 90 = from "
                                      "the right, 180 = from the camera), elevation 0..90 above the ground")
    shadow_opacity: float = setting(0.45, "how dark a shadow gets at its darkest: the background's luminance "
                                          "is multiplied by 1 - opacity there", bounds=(0.0, 0.9))
    shadow_softness: float = setting(0.5, "how soft a shadow's edge is (0 crisp, 1 very soft)", bounds=(0.0, 1.0))
    seed: int = setting(0, "seed of the random grain the noise step adds", bounds=(0, 2**32 - 1))

    def validate(self) -> None:
        parse_match(self.match)
        light = parse_light(self.light)
        if self.shadow == "cast" and light is None:
            raise UsageError("a cast shadow needs a light direction (--light AZIMUTH,ELEVATION); nothing here "
                             "estimates the light.")
        # a setting that would change nothing is refused, by its value: a default never trips this
        if light is not None and self.shadow != "cast":
            raise UsageError("finish.light sets a cast shadow's direction; add finish.shadow cast.")
        if self.shadow == "none":
            for name, what in (("shadow_opacity", "how dark a shadow gets"), ("shadow_softness", "how soft a "
                                                                                                "shadow's edge is")):
                if getattr(self, name) != FINISH_DEFAULTS[name]:
                    raise UsageError(f"finish.{name} sets {what}; add finish.shadow contact or finish.shadow cast.")

    @property
    def cues(self) -> tuple[str, ...]:
        return parse_match(self.match)

    @property
    def active(self) -> bool:
        """Whether the stage changes anything."""
        return bool(self.cues) or self.shadow != "none"


#: each setting's own default (what a value given by nobody is)
FINISH_DEFAULTS = {f.name: f.default for f in dataclasses.fields(FinishSettings)}


def make_finish_settings(values=None) -> FinishSettings:
    """FinishSettings from a dict (text values converted and checked, ``light`` and ``match``
    also as lists), or as given, checked."""
    if isinstance(values, FinishSettings):
        return ready_settings(FinishSettings, values, "finish")
    if values is not None and not isinstance(values, Mapping):  # another dataclass, the class itself, text
        kind = f"the class {values.__name__}" if isinstance(values, type) else f"a {type(values).__name__}"
        raise UsageError(f"finish must be a dict of its settings or a FinishSettings; received {kind}.")
    values = dict(values or {})
    light = values.get("light")
    if isinstance(light, (Set, Mapping)):  # no order: {30, 60} iterates as 60, 30
        raise UsageError(f"finish.light must be AZIMUTH,ELEVATION in that order, as text or a list or tuple "
                         f"(135, 40); received a {type(light).__name__}, which has no order.")
    if light is not None and not isinstance(light, str) and isinstance(light, Iterable):
        values["light"] = ",".join(str(v) for v in light)
    if isinstance(values.get("match"), (list, tuple)):
        values["match"] = ",".join(str(v) for v in values["match"]) or "none"
    return build_settings(FinishSettings, "finish", values)


def object_masks(mask: np.ndarray, objects=()) -> list[np.ndarray]:
    """The alpha of each object (``objects``: PlacedObjects, their visible masks) or, with none,
    the whole ``mask`` as one object."""
    masks = [np.asarray(o.mask, np.float32) for o in objects if np.asarray(o.mask).shape == mask.shape]
    return masks or [np.asarray(mask, np.float32)]


def finish(image: np.ndarray, masks: list[np.ndarray], settings: FinishSettings, *,
           background_jpeg: dict | None = None, only: int | None = None) -> tuple[np.ndarray, dict]:
    """Run the stage on ``image`` (RGB uint8) whose objects have the alphas ``masks`` (float32
    HxW each, in paste order). ``background_jpeg`` is ``jpeg.file_tables`` of the background
    file where it is a JPEG; ``only``: match that object alone (the others still count as
    objects, never as its surroundings). Returns (image, record)."""
    t0 = time.perf_counter()
    cues = settings.cues
    record: dict = {"match": list(cues), "shadow": settings.shadow, "seed": int(settings.seed), "objects": []}
    if settings.shadow != "none":
        record.update(light=list(parse_light(settings.light)) if settings.light else None,
                      shadow_opacity=settings.shadow_opacity, shadow_softness=settings.shadow_softness)
    if not settings.active:
        record["seconds"] = 0.0
        return image, record
    union = np.clip(np.sum(masks, axis=0), 0, 1).astype(np.float32) if masks else np.zeros(image.shape[:2], np.float32)
    out = image
    for index, alpha in enumerate(masks):
        entry: dict = {"index": index}
        record["objects"].append(entry)
        if not cues or (only is not None and index != only):
            continue
        reg = region(alpha, union)
        if reg is None:
            entry["skipped"] = "no pixel of the object is visible"
            continue
        x0, y0, x1, y1 = reg.box
        crop = reg.crop(image)
        others = np.clip(reg.union - reg.alpha, 0, 1)
        work = reg.crop(out).copy()
        if "blur" in cues:
            wide = region(alpha, union, margin=5)
            # read at a scale where the object is at most BLUR_SIDE px (where the step was tuned)
            small, sreg, f = scaled(image, wide, BLUR_SIDE, margin=5)
            est = blur.estimate(gray(sreg.crop(small)), sreg.core, sreg.ring, sreg.alpha)
            if f < 1.0:
                est = {**est, "read_at_scale": round(f, 4), "add": round(est["add"] / f, 3)}
            wx0, wy0, wx1, wy1 = wide.box
            if est["add"] > 0:
                sub = blur.apply(wide.crop(out), wide.alpha, np.clip(wide.union - wide.alpha, 0, 1), est["add"])
                out = out.copy()
                out[wy0:wy1, wx0:wx1] = sub
                work = reg.crop(out).copy()
            entry["blur"] = est
        if "noise" in cues:
            around = noise.estimate(crop, reg.ring)
            own = noise.estimate(work, reg.core)  # after any blur: what the object has now
            info: dict = {"around": around, "object": own}
            if around is None:
                info["reason"] = "too little background around the object to read its grain"
            elif own is None:
                info["reason"] = "too little of the object to read its own grain"
            elif around["flatness"] < noise.FLAT:
                info["reason"] = (f"what reads as grain around the object is texture (flatness {around['flatness']} "
                                  f"< {noise.FLAT})")
            else:
                work, added = noise.apply(work, reg.alpha, around, own, rng_for(settings.seed, index, "noise"))
                info["added_sigma"] = added
                out = out.copy()
                out[y0:y1, x0:x1] = np.where(others[..., None] > 0, out[y0:y1, x0:x1], work)
            entry["noise"] = info
        if "jpeg" in cues:
            info = {}
            if background_jpeg is not None:
                quality, source = background_jpeg["quality"], "file"
                own_grid = ((-x0) % 8, (-y0) % 8)
            else:
                est = jpeg.estimate(crop, reg.ring, fallback=((-x0) % 8, (-y0) % 8))
                quality, source, own_grid = est["quality"], "pixels", tuple(est["grid"])
                info["fit"] = est["fit"]
            info.update(quality=quality, source=source, grid=[(x0 + own_grid[0]) % 8, (y0 + own_grid[1]) % 8])
            if quality is None:
                info["reason"] = "no JPEG quantisation found around the object"
            elif quality >= jpeg.INVISIBLE:
                info["reason"] = f"quality {quality} leaves no artefacts worth matching (>= {jpeg.INVISIBLE})"
            else:
                done, own_q = jpeg.carries(crop, reg.core, own_grid, quality)
                info["object_quality"] = own_q
                if done:
                    info["reason"] = "the object already carries this quantisation or a coarser one"
                else:
                    tables = background_jpeg if background_jpeg is not None else {}
                    full_alpha = np.zeros(image.shape[:2], np.float32)
                    full_alpha[y0:y1, x0:x1] = reg.alpha * (1 - others)
                    out = jpeg.reencode(out, full_alpha, reg.box, tuple(info["grid"]), quality,
                                        tables.get("qtables"), tables.get("subsampling", 2))
                    info["reencoded"] = True
            entry["jpeg"] = info
    if settings.shadow != "none":
        light = parse_light(settings.light)
        S = np.zeros(image.shape[:2], np.float32)
        for index, alpha in enumerate(masks):
            s, info = shadow.shadow_map(alpha, settings.shadow, light, settings.shadow_softness)
            S = np.maximum(S, s)
            record["objects"][index]["shadow"] = info
        out = shadow.apply_shadow(out, S, union, settings.shadow_opacity)
    record["seconds"] = round(time.perf_counter() - t0, 4)
    return out, record
