"""Benchmark: the finishing stage (blur, noise and JPEG matching; shadows) against known degradations.

Run:  .venv/bin/python bench/bench_realism.py --cases ../shared/data/duts-te-dev [--limit 150]
          [--families blur,jpeg,noise,noise-signal,identity,reverse,speed] [--jsonl out.jsonl]

CASES is any folder with ``images/STEM.(jpg|png)`` and ``masks/STEM.png`` (nonzero = object).
Per photo P (a fixed seed draws each degradation, so a rerun draws the same ones):

- the truth T is P degraded as a whole: Gaussian blur sigma in [1, 4] (``blur``); JPEG
  quality in [15, 60] (``jpeg``: the step reads the quality from the pixels; ``jpeg-file``:
  from T saved as a JPEG file, as a JPEG background is); Gaussian noise sigma in [3, 12],
  the same everywhere (``noise``) or with variance growing with brightness,
  ``sigma^2 * level / 128`` (``noise-signal``);
- the composite C is T outside the object and P inside (through the mask); O is the output
  of ``finish`` on C. Rows: ``none`` (O = C), ``match CUE`` (the family's own cue only) and
  ``match all``.
- Scores: blur and jpeg: fMSE(O, T) / fMSE(C, T) over the object (mean and median of the
  ratios); the blur step's sigma against the true sigma (share within 20%); noise:
  |log(sigma(O) / sigma(T))| over the object, sigma from Immerkaer's (1996) estimator on the
  object's luma (the bench's own, not the step's).
- ``identity``: C = T = P; the object's PSNR against P (share >= 40 dB).
- ``reverse``: the object degraded (blur, noise or JPEG drawn as above, one each per photo)
  and its surroundings clean; the right answer is to leave it: the object's PSNR against C,
  with ``match all`` and with each step alone (which step moved it).
- ``speed``: ``--match all`` on a 1024 px composite (P resized, a blurred, noisy, JPEG'd T)
  in this process, and one contact and one cast shadow; median seconds over the photos.

Tune only on a training folder (duts-tr); report on a held-out one (duts-te-dev).
"""
from __future__ import annotations

import io
import json
import math
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402 (bench/, on the path above)

FAMILIES = ("blur", "jpeg", "jpeg-file", "noise", "noise-signal", "identity", "reverse", "speed")
CUE = {"blur": "blur", "jpeg": "jpeg", "jpeg-file": "jpeg", "noise": "noise", "noise-signal": "noise"}


def load(photo: Path, mask: Path):
    from PIL import Image

    P = np.asarray(Image.open(photo).convert("RGB"))
    m = np.asarray(Image.open(mask).convert("L").resize(P.shape[1::-1])) >= 128
    return P, m.astype(np.float32)


def jpeg_bytes(img: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(quality))
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def degrade(P: np.ndarray, family: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    import cv2

    if family == "blur":
        s = float(rng.uniform(1, 4))
        return np.clip(np.rint(cv2.GaussianBlur(P.astype(np.float32), (0, 0), s)), 0, 255).astype(np.uint8), {"sigma": s}
    if family in ("jpeg", "jpeg-file"):
        q = int(rng.integers(15, 61))
        data = jpeg_bytes(P, q)
        return decode(data), {"quality": q, "bytes": data}
    if family in ("noise", "noise-signal"):
        s = float(rng.uniform(3, 12))
        f = P.astype(np.float32)
        sd = s if family == "noise" else s * np.sqrt(np.maximum(f, 1.0) / 128.0)
        return np.clip(np.rint(f + rng.standard_normal(P.shape) * sd), 0, 255).astype(np.uint8), {"sigma": s}
    raise ValueError(family)


def immerkaer(img: np.ndarray, region: np.ndarray) -> float:
    """Immerkaer's (1996) noise sigma of ``img``'s luma over ``region`` (eroded by 2 px)."""
    import cv2

    y = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = np.abs(cv2.filter2D(y, -1, k))
    inner = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 50:
        inner = region > 0
    return float(math.sqrt(math.pi / 2) * r[inner].mean() / 6.0)


def obj_psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    from compositor.metrics import fmse

    e = fmse(a, b, region)
    return float("inf") if e == 0 else 10 * math.log10(255.0 ** 2 / e)


def run_finish(C, m, match, background_jpeg=None):
    from compositor.finish import finish, make_finish_settings

    out, rec = finish(C, [m], make_finish_settings({"match": match}), background_jpeg=background_jpeg)
    return out, rec


def one(photo: Path, mask: Path, families, seed: int, match: str = "all") -> dict:
    from compositor.finish import jpeg as jpeg_step
    from compositor.metrics import fmse

    P, m = load(photo, mask)
    a = m[..., None]
    row: dict = {"photo": photo.name}
    rng = np.random.default_rng([seed, zlib.crc32(photo.stem.encode())])
    for fam in families:
        if fam in CUE:
            T, truth = degrade(P, fam, rng)
            C = np.rint(a * P + (1 - a) * T).astype(np.uint8)
            tables = None
            if fam == "jpeg-file":
                import tempfile

                with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
                    f.write(truth["bytes"])
                    f.flush()
                    tables = jpeg_step.file_tables(f.name)
            res = {"truth": {k: v for k, v in truth.items() if k != "bytes"}}
            for label, cues in (("cue", CUE[fam]), ("all", match)):
                t0 = time.perf_counter()
                O, rec = run_finish(C, m, cues, tables)
                secs = time.perf_counter() - t0
                r: dict = {"seconds": round(secs, 4)}
                if fam in ("blur", "jpeg", "jpeg-file"):
                    base = fmse(C, T, m)
                    r["ratio"] = fmse(O, T, m) / base if base > 0 else 1.0
                if fam == "blur":
                    r["sigma"] = rec["objects"][0].get("blur", {}).get("add", 0.0)
                if fam.startswith("jpeg"):
                    r["quality"] = rec["objects"][0].get("jpeg", {}).get("quality")
                if fam.startswith("noise"):
                    sT = immerkaer(T, m > 0.5)
                    r["logratio"] = abs(math.log(max(immerkaer(O, m > 0.5), 1e-3) / max(sT, 1e-3)))
                    if label == "cue":
                        res["none_logratio"] = abs(math.log(max(immerkaer(C, m > 0.5), 1e-3) / max(sT, 1e-3)))
                res[label] = r
            row[fam] = res
        elif fam == "identity":
            O, _ = run_finish(P, m, match)
            row[fam] = {"psnr": obj_psnr(O, P, m)}
        elif fam == "reverse":
            out = {}
            for cue in ("blur", "noise", "jpeg"):
                D, _ = degrade(P, cue, rng)
                C = np.rint(a * D + (1 - a) * P).astype(np.uint8)
                O, _ = run_finish(C, m, match)
                out[cue] = obj_psnr(O, C, m)
                for step in ("blur", "noise", "jpeg"):  # which step moved the object
                    O, _ = run_finish(C, m, step)
                    out[f"{cue}/{step}"] = obj_psnr(O, C, m)
            row[fam] = out
        elif fam == "speed":
            import cv2
            from compositor.finish import finish, make_finish_settings

            H, W = P.shape[:2]
            f = 1024 / max(H, W)
            big = cv2.resize(P, (round(W * f), round(H * f)), interpolation=cv2.INTER_CUBIC)
            bm = (cv2.resize(m, big.shape[1::-1], interpolation=cv2.INTER_LINEAR) >= 0.5).astype(np.float32)
            T = cv2.GaussianBlur(big, (0, 0), 2.0)
            T = np.clip(T + rng.standard_normal(T.shape) * 5, 0, 255).astype(np.uint8)
            T = decode(jpeg_bytes(T, 40))
            C = np.rint(bm[..., None] * big + (1 - bm[..., None]) * T).astype(np.uint8)
            times = {}
            for label, values in (("none", {"match": "none"}), ("match all", {"match": match}),
                                  ("contact shadow", {"shadow": "contact"}),
                                  ("cast shadow", {"shadow": "cast", "light": "120,35"})):
                s = make_finish_settings(values)
                t0 = time.perf_counter()
                finish(C, [bm], s)
                times[label] = time.perf_counter() - t0
            row[fam] = times
    return row


def q(values, p):
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.percentile(v, p)) if v else float("nan")


def table(rows: list[dict], families) -> str:
    lines = ["| family | row | n | score | mean | median | share | target |", "|---|---|---|---|---|---|---|---|"]

    def add(fam, label, n, score, mean, median, share, target):
        lines.append(f"| {fam} | {label} | {n} | {score} | {mean} | {median} | {share} | {target} |")

    for fam in families:
        rs = [r[fam] for r in rows if fam in r]
        if not rs:
            continue
        n = len(rs)
        if fam in ("blur", "jpeg", "jpeg-file"):
            target = "mean <= 0.12, median <= 0.06" if fam == "blur" else "mean <= 0.30"
            add(fam, "none", n, "fMSE ratio", "1.000", "1.000", "", "")
            for label in ("cue", "all"):
                v = [r[label]["ratio"] for r in rs]
                add(fam, f"match {CUE[fam] if label == 'cue' else 'all'}", n, "fMSE(O,T)/fMSE(C,T)",
                    f"{np.mean(v):.3f}", f"{np.median(v):.3f}", "", target)
            if fam == "blur":
                ratio = [r["cue"]["sigma"] / r["truth"]["sigma"] for r in rs]
                within = np.mean([abs(x - 1) <= 0.2 for x in ratio])
                add(fam, "match blur", n, "sigma est / true", f"{np.mean(ratio):.3f}", f"{np.median(ratio):.3f}",
                    f"{within:.0%} within 20% (p10 {q(ratio, 10):.2f}, p90 {q(ratio, 90):.2f})", ">= 80% within 20%")
            else:
                exact = np.mean([r["cue"]["quality"] == r["truth"]["quality"] for r in rs])
                near = np.mean([r["cue"]["quality"] is not None and abs(r["cue"]["quality"] - r["truth"]["quality"]) <= 2
                                for r in rs])
                add(fam, "match jpeg", n, "quality read", "", "", f"{exact:.0%} exact, {near:.0%} within 2", "")
        elif fam.startswith("noise"):
            v0 = [r["none_logratio"] for r in rs]
            add(fam, "none", n, "abs log sigma ratio", f"{np.mean(v0):.3f}", f"{np.median(v0):.3f}", "", "")
            for label in ("cue", "all"):
                v = [r[label]["logratio"] for r in rs]
                add(fam, f"match {'noise' if label == 'cue' else 'all'}", n, "abs log sigma ratio", f"{np.mean(v):.3f}",
                    f"{np.median(v):.3f}", f"{np.mean([x <= 0.15 for x in v]):.0%} <= 0.15", "median <= 0.15")
        elif fam == "identity":
            v = [r["psnr"] for r in rs]
            add(fam, "match all", n, "object PSNR vs P (dB)", f"{np.mean(np.minimum(v, 99)):.1f}", f"{np.median(v):.1f}",
                f"{np.mean([x >= 40 for x in v]):.0%} >= 40 dB", ">= 95% >= 40 dB")
        elif fam == "reverse":
            for cue in ("blur", "noise", "jpeg"):
                for step in ("all", "blur", "noise", "jpeg"):
                    key = cue if step == "all" else f"{cue}/{step}"
                    v = [r[key] for r in rs if key in r]
                    add(f"reverse {cue}", f"match {step}", len(v), "object PSNR vs C (dB)",
                        f"{np.mean(np.minimum(v, 99)):.1f}", f"{np.median(v):.1f}",
                        f"{np.mean([x >= 40 for x in v]):.0%} >= 40 dB", ">= 90% >= 40 dB" if step == "all" else "")
        elif fam == "speed":
            for label in ("none", "match all", "contact shadow", "cast shadow"):
                v = [r[label] for r in rs]
                target = {"match all": "<= 0.15 s", "contact shadow": "<= 0.05 s", "cast shadow": "<= 0.05 s"}.get(label, "")
                add("speed 1024 px", label, n, "seconds", f"{np.mean(v):.4f}", f"{np.median(v):.4f}",
                    f"p90 {q(v, 90):.4f}", target)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = common.parser(__doc__)
    common.add_cases(ap, limit=150, limit_help="photos used: every (count / limit)-th by name")
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma list of {', '.join(FAMILIES)}")
    ap.add_argument("--speed-limit", type=int, default=10, help="photos timed at 1024 px")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--match", default="all", help="the cues of the rows labelled 'match all', identity, reverse and "
                                                   "speed (default: all)")
    ap.add_argument("--jsonl", help="write one JSON line per photo here (appended as each is done)")
    args = ap.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise SystemExit(f"bench_realism: unknown families {bad}; choose from {', '.join(FAMILIES)}.")
    folder = Path(args.cases)
    if not folder.exists():
        print(f"bench_realism: {folder} is not here; nothing to measure.")
        return 0
    pairs = common.cases(folder, "bench_realism")
    step = max(1, len(pairs) // max(1, args.limit))
    pairs = pairs[::step][:args.limit]
    rows = []
    from tqdm import tqdm

    out = open(args.jsonl, "a") if args.jsonl else None
    for i, (photo, mask) in enumerate(tqdm(pairs, desc="photos", file=sys.stderr)):
        fams = [f for f in families if f != "speed" or i < args.speed_limit]
        row = one(photo, mask, fams, args.seed, args.match)
        rows.append(row)
        if out:
            out.write(json.dumps(row) + "\n")
            out.flush()
    print(f"bench_realism on {folder} ({len(pairs)} photos, seed {args.seed}, 'match all' = --match {args.match}; "
          f"speed on the first "
          f"{min(args.speed_limit, len(pairs))}, in-process, {os.cpu_count()} CPUs)")
    print(table(rows, families))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
