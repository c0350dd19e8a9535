"""The training samples of the learned head: each composite of the recipe encoded as the
head's inputs and a fixed subset of its object's pixels, cached in resumable chunks."""
from __future__ import annotations

import time
import zlib
from pathlib import Path

import numpy as np

from ..harmonizers import learned
from . import recipe

PIXELS = 384
KIND_INDEX = {k: i for i, k in enumerate(recipe.KINDS)}




def encode(sample: recipe.Sample, extract, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    """The cached form of one sample: head inputs, correction statistics, and ``PIXELS`` object
    pixels drawn with ``rng`` (composite and truth); None when the object has under 16 pixels."""
    img, mask = learned.downsample(sample.composite, sample.mask)
    truth, region = learned.downsample(sample.truth, sample.region.astype(np.float32))
    where = np.flatnonzero(((region > 0.5) & (mask > 0.5)).reshape(-1))
    if len(where) < 16:
        return None
    d = learned.describe(img, mask, extract)
    pick = rng.choice(where, PIXELS, replace=len(where) < PIXELS)
    return {"colour": d.colour, "vgg": d.vgg, "stats": np.stack([d.stats[k] for k in STATS]),
            "truth": truth.reshape(-1, 3)[pick].astype(np.float32),
            "comp": img.reshape(-1, 3)[pick].astype(np.float32), "kind": np.int8(KIND_INDEX[sample.kind]),
            "placed": np.bool_(sample.placed)}


STATS = ("mu_o", "sd_o", "mu_b", "sd_b", "ratio")
RATIO = STATS.index("ratio")


def build(photos: list[recipe.Photo], pool: list[recipe.Photo], cache: Path, name: str, seed: int,
          chunk: int = 250, extract=None, log=print, placed_share: float = recipe.PLACED_SHARE) -> dict[str, np.ndarray]:
    """Encode one sample per photo (composites drawn from ``pool``, ``placed_share`` of them on a
    placed region), in chunks cached under ``cache`` by ``name``, ``seed``, the recipe's version
    and a digest of the photos, the placed share and what ``learned.describe`` measures (so
    another corpus, mixture or feature layout never reuses a chunk); returns the stacked arrays,
    {key: (N, ...)}, empty when no photo gave a sample."""
    cache.mkdir(parents=True, exist_ok=True)
    index = {p.stem: i for i, p in enumerate(pool)}
    by_synset: dict[str, list[int]] = {}
    for p in pool:
        if p.synset:
            by_synset.setdefault(p.synset, []).append(index[p.stem])
    parts = []
    n_chunks = (len(photos) + chunk - 1) // chunk
    inputs = "\n".join([p.stem for p in photos] + ["|"] + [p.stem for p in pool]
                       + [repr((learned.LAYERS, learned.WORK_SIDE, learned.VGG_SIDE, learned.CONTEXT, PIXELS, placed_share))])
    digest = f"{zlib.crc32(inputs.encode()):08x}"
    t0 = time.perf_counter()
    for c in range(n_chunks):
        path = cache / f"{name}_r{recipe.VERSION}_s{seed}_{digest}_{c:04d}_{chunk}.npz"
        if not path.exists():
            extract = extract or learned.extractor()
            rows = []
            for k, photo in enumerate(photos[c * chunk:(c + 1) * chunk]):
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), c * chunk + k])
                sample = recipe.make_sample(photo, pool, by_synset, rng, placed_share=placed_share)
                row = encode(sample, extract, rng) if sample is not None else None
                if row is not None:
                    rows.append(row)
            arrays = {k: np.stack([r[k] for r in rows]) for k in rows[0]} if rows else {}
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
            rate = (c + 1) * chunk / (time.perf_counter() - t0)
            log(f"{name}: chunk {c + 1}/{n_chunks} ({rate:.1f} photos/s)")
        with np.load(path) as data:
            if data.files:
                parts.append({k: data[k] for k in data.files})
    if not parts:
        return {}
    keys = set.intersection(*(set(p) for p in parts))
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}
