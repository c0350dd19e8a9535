"""Train the learned harmonizer's head (``vgg19 --mode learned``) from photos with object masks.

    python -m compositor.training.harmonizer --data ../shared/data/duts-tr --out models/harmonizer_head.npz

Steps, all seeded (``--seed``):

1. **Samples.** The corpus is split into training and validation parts (whole ImageNet
   synsets held out, ``recipe.split``). Each photo gives one composite
   (``recipe.make_sample``); its head inputs (``learned.describe``: frozen VGG19 through
   onnxruntime, colour and edge statistics) and a fixed random subset of its object's
   pixels are cached in chunks under ``--cache``, so an interrupted run resumes where it
   stopped.
2. **Head.** A small Keras model (the same function as ``learned.Head``) is trained with
   Adam to minimise the squared RGB error (0..255) of the corrected object pixels: the
   correction (``learned.correct``) and sRGB <-> Lab are written in TensorFlow, so
   the loss is the benchmark's fMSE on those pixels.
3. **Choice.** Each epoch is scored on the validation part (fMSE of the corrected
   pixels over that of the composite, pooled over samples, as ``compositor bench``
   reports it); the best epoch's weights are written to ``--out`` as ``.npz`` with a
   report (``--report``, Markdown and JSON) of the loss and validation scores per epoch,
   the fixed base's score and each perturbation kind's.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from ..harmonizers import learned
from . import recipe

PIXELS = 384
KIND_INDEX = {k: i for i, k in enumerate(recipe.KINDS)}


# --------------------------------------------------------------------------- samples


def encode(sample: recipe.Sample, extract, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
    """The cached form of one sample: head inputs, correction statistics, and ``PIXELS`` object
    pixels drawn with ``rng`` (composite and truth); None when the object has under 16 pixels."""
    img, mask = learned.downsample(sample.composite, sample.mask)
    truth, region = learned.downsample(sample.truth, sample.region.astype(np.float32))
    d = learned.describe(img, mask, extract)
    where = np.flatnonzero(((region > 0.5) & (mask > 0.5)).reshape(-1))
    if len(where) < 16:
        return None
    pick = rng.choice(where, PIXELS, replace=len(where) < PIXELS)
    return {"colour": d.colour, "vgg": d.vgg, "stats": np.stack([d.stats[k] for k in STATS]),
            "truth": truth.reshape(-1, 3)[pick].astype(np.float32),
            "comp": img.reshape(-1, 3)[pick].astype(np.float32), "kind": np.int8(KIND_INDEX[sample.kind])}


STATS = ("mu_o", "sd_o", "mu_b", "sd_b", "ratio")
RATIO = STATS.index("ratio")


def build(photos: list[recipe.Photo], pool: list[recipe.Photo], cache: Path, name: str, seed: int,
          chunk: int = 250, extract=None, log=print) -> dict[str, np.ndarray]:
    """Encode one sample per photo (composites drawn from ``pool``), in chunks cached under
    ``cache`` by ``name`` and ``seed``; returns the stacked arrays, {key: (N, ...)}."""
    cache.mkdir(parents=True, exist_ok=True)
    index = {p.stem: i for i, p in enumerate(pool)}
    by_synset: dict[str, list[int]] = {}
    for p in pool:
        if p.synset:
            by_synset.setdefault(p.synset, []).append(index[p.stem])
    parts = []
    n_chunks = (len(photos) + chunk - 1) // chunk
    t0 = time.perf_counter()
    for c in range(n_chunks):
        path = cache / f"{name}_r{recipe.VERSION}_s{seed}_{c:04d}_{chunk}.npz"
        if not path.exists():
            extract = extract or learned.extractor()
            rows = []
            for k, photo in enumerate(photos[c * chunk:(c + 1) * chunk]):
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), c * chunk + k])
                sample = recipe.make_sample(photo, pool, by_synset, rng)
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
    keys = set.intersection(*(set(p) for p in parts))
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


# --------------------------------------------------------------------------- the model in TensorFlow


def lab_to_rgb_tf(L):
    """CIE Lab (D65) -> sRGB in 0..1, as OpenCV's float ``COLOR_Lab2RGB`` computes it."""
    import tensorflow as tf

    l, a, b = L[..., 0], L[..., 1], L[..., 2]
    fy = (l + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def finv(f):
        return tf.where(f > 6.0 / 29.0, f ** 3, (f - 16.0 / 116.0) / 7.787)

    y = tf.where(l > 7.9996, fy ** 3, l / 903.3)
    x = finv(fx) * 0.950456
    z = finv(fz) * 1.088754
    xyz = tf.stack([x, y, z], -1)
    m = tf.constant([[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556],
                     [0.055648, -0.204043, 1.057311]], tf.float32)
    rgb = tf.clip_by_value(tf.einsum("...j,ij->...i", xyz, m), 0.0, 1.0)
    return tf.where(rgb > 0.0031308, 1.055 * tf.pow(tf.maximum(rgb, 1e-8), 1 / 2.4) - 0.055, 12.92 * rgb)


def bounded_tf(raw, base=None):
    """``learned.bounded`` in TensorFlow, for a batch (N, 9)."""
    import tensorflow as tf

    raw = tf.reshape(raw, (-1, 3, 3))
    bases = base if base is not None else tuple(b for _, _, b in learned.BOUNDS.values())
    out = []
    for i, ((lo, hi, _), b) in enumerate(zip(learned.BOUNDS.values(), bases)):
        offset = float(np.log((b - lo) / (hi - b)))
        out.append(lo + (hi - lo) * tf.sigmoid(raw[:, i] + offset))
    return out


def rgb_to_lab_tf(rgb):
    """sRGB in 0..1 -> CIE Lab (D65), as OpenCV's float ``COLOR_RGB2Lab`` computes it."""
    import tensorflow as tf

    lin = tf.where(rgb > 0.04045, tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4), rgb / 12.92)
    m = tf.constant([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                     [0.019334, 0.119193, 0.950227]], tf.float32)
    xyz = tf.einsum("...j,ij->...i", lin, m) / tf.constant([0.950456, 1.0, 1.088754], tf.float32)

    def f(t):
        return tf.where(t > 0.008856, tf.pow(tf.maximum(t, 0.008856), 1 / 3), 7.787 * t + 16.0 / 116.0)

    fx, fy, fz = f(xyz[..., 0]), f(xyz[..., 1]), f(xyz[..., 2])
    y = xyz[..., 1]
    L = tf.where(y > 0.008856, 116.0 * fy - 16.0, 903.3 * y)
    return tf.stack([L, 500.0 * (fx - fy), 200.0 * (fy - fz)], -1)


def corrected_rgb_tf(raw, stats, ratio, rgb_px, base=None):
    """(N, P, 3) corrected pixels in 0..255 (``learned.correct`` in TensorFlow) from raw head outputs (N, 9),
    stats (N, 5, 3; ``STATS``), the edge log ratio (N, 3) and the object's RGB pixels (N, P, 3); the gained
    object's Lab statistics are taken over those pixels."""
    import tensorflow as tf

    s_mu, s_sd, g = bounded_tf(raw, base)
    mu_b, sd_b = stats[:, 2][:, None], stats[:, 3][:, None]
    x = tf.clip_by_value(rgb_px * tf.exp(-g * ratio)[:, None], 0.0, 255.0)
    L = rgb_to_lab_tf(x / 255.0)
    mu1 = tf.reduce_mean(L, 1, keepdims=True)
    sd1 = tf.math.reduce_std(L, 1, keepdims=True) + 1e-3
    spread = tf.clip_by_value((sd1 + s_sd[:, None] * (sd_b - sd1)) / sd1, 1 / learned.MAX_SPREAD, learned.MAX_SPREAD)
    out = (L - mu1) * spread + mu1 + s_mu[:, None] * (mu_b - mu1)
    out = tf.concat([tf.clip_by_value(out[..., :1], 0.0, 100.0), out[..., 1:]], -1)
    return lab_to_rgb_tf(out) * 255.0


def corrected(raw, data: dict[str, np.ndarray], base=None) -> np.ndarray:
    """``corrected_rgb_tf`` on cached samples."""
    return np.asarray(corrected_rgb_tf(np.asarray(raw, np.float32), data["stats"], data["stats"][:, RATIO],
                                       data["comp"], base))


def build_model(colour_mean, colour_std, vgg_mean, vgg_std, hidden: int = 64, vgg_units: int = 16,
                dropout: float = 0.2, l2: float = 1e-4, seed: int = 0):
    """The head in Keras: the same function as ``learned.Head`` (standardise, two dense layers)."""
    from .._tf import quiet_import

    quiet_import()
    import keras

    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2)
    c_in = keras.Input((len(colour_mean),), name="colour")
    v_in = keras.Input((len(vgg_mean),), name="vgg")
    c = keras.layers.Rescaling(1.0 / colour_std, -colour_mean / colour_std, name="colour_norm")(c_in)
    v = keras.layers.Rescaling(1.0 / vgg_std, -vgg_mean / vgg_std, name="vgg_norm")(v_in)
    v = keras.layers.Dropout(dropout, seed=seed)(v)
    # vgg_units=0: the ablation without VGG features (one unit whose weights stay at zero)
    zv = keras.layers.Dense(max(vgg_units, 1), activation="relu", kernel_regularizer=reg, name="vgg_dense",
                            kernel_initializer="zeros" if vgg_units == 0 else "glorot_uniform",
                            trainable=vgg_units > 0)(v)
    h = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=reg, name="hidden")(
        keras.layers.Concatenate()([c, zv]))
    out = keras.layers.Dense(9, kernel_initializer="zeros", kernel_regularizer=reg, name="out")(h)
    return keras.Model([c_in, v_in], out)


def export(model, colour_mean, colour_std, vgg_mean, vgg_std, base=None) -> dict[str, np.ndarray]:
    """The model's weights in ``learned.Head``'s layout (with ``base`` when not the default)."""
    wv, bv = model.get_layer("vgg_dense").get_weights()
    w1, b1 = model.get_layer("hidden").get_weights()
    w2, b2 = model.get_layer("out").get_weights()
    out = {"colour_mean": colour_mean, "colour_std": colour_std, "vgg_mean": vgg_mean, "vgg_std": vgg_std,
           "wv": wv, "bv": bv, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    if base is not None:
        out["base"] = np.asarray(base, np.float32)
    return out


def sample_errors(pred_rgb: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
    """Per-sample mean squared error over the cached object pixels (0..255 scale)."""
    return ((pred_rgb - data["truth"]) ** 2).mean((1, 2))


def score(model, data: dict[str, np.ndarray], base=None) -> dict[str, float]:
    """Validation scores of the model's corrections (see ``ratios``)."""
    raw = model.predict([data["colour"], data["vgg"]], verbose=0, batch_size=1024)
    return ratios(sample_errors(corrected(raw, data, base), data), data)


#: A sample's error ratio counts at most this much in ``typical`` (one ruined sample is not infinitely bad).
RATIO_CAP = 5.0


def ratios(err: np.ndarray, data: dict[str, np.ndarray]) -> dict[str, float]:
    """``all``: fMSE over the composite's, pooled over samples (as ``compositor bench`` reports it), and per
    kind; ``typical``: the mean of each sample's own ratio (capped at ``RATIO_CAP``), which counts harm done
    to a mildly perturbed object as much as help to a badly perturbed one; ``score``: their mean, the number
    checkpoints and variants are chosen by."""
    none = sample_errors(data["comp"], data)
    out = {"all": float(err.sum() / none.sum()),
           "typical": float(np.minimum((err + 1.0) / (none + 1.0), RATIO_CAP).mean())}
    out["score"] = 0.5 * (out["all"] + out["typical"])
    for kind, i in KIND_INDEX.items():
        sel = data["kind"] == i
        if sel.any():
            out[kind] = float(err[sel].sum() / none[sel].sum())
    return out


def base_scores(data: dict[str, np.ndarray], raw: np.ndarray | None = None) -> dict[str, float]:
    """``ratios`` of a fixed correction on the cached samples: the head's outputs ``raw`` (N, 9),
    zeros by default (the base correction alone)."""
    raw = np.zeros((len(data["colour"]), 9), np.float32) if raw is None else raw
    return ratios(sample_errors(corrected(raw, data), data), data)


def train(train_data: dict[str, np.ndarray], val_data: dict[str, np.ndarray], *, epochs: int, batch: int = 128,
          learning_rate: float = 1e-3, tau: float = 100.0, base=None, seed: int = 0, log=print, **model_args):
    """Fit the head; returns (best weights in Head layout, per-epoch history).

    Each sample's squared error is weighted by 1 / (its composite's error + ``tau``), normalised
    to a mean weight of 1: with ``tau`` small the loss is close to the mean of per-sample ratios
    (mild perturbations count as much as strong ones); with ``tau`` large, to plain MSE."""
    import tensorflow as tf

    cm, cs = train_data["colour"].mean(0), train_data["colour"].std(0) + 1e-3
    vm, vs = train_data["vgg"].mean(0), train_data["vgg"].std(0) + 1e-3
    model = build_model(cm, cs, vm, vs, seed=seed, **model_args)
    opt = tf.keras.optimizers.Adam(learning_rate)

    none = sample_errors(train_data["comp"], train_data)
    weight = 1.0 / (none + tau) if tau > 0 else np.ones_like(none)
    train_data = dict(train_data, weight=(weight / weight.mean()).astype(np.float32))

    @tf.function
    def step(colour, vgg, stats, rgb_px, truth, w):
        with tf.GradientTape() as tape:
            raw = model([colour, vgg], training=True)
            pred = corrected_rgb_tf(raw, stats, stats[:, RATIO], rgb_px, base)
            per_sample = tf.reduce_mean((pred - truth) ** 2, axis=(1, 2))
            loss = tf.reduce_mean(w * per_sample) + tf.add_n(model.losses or [tf.constant(0.0)])
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    n = len(train_data["colour"])
    rng = np.random.default_rng(seed)
    keys = ("colour", "vgg", "stats", "comp", "truth", "weight")
    history, best, best_score = [], None, np.inf
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        losses = []
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            losses.append(float(step(*(tf.constant(train_data[k][idx]) for k in keys))))
        val = score(model, val_data, base)
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val": val, "seconds": time.perf_counter() - t0}
        history.append(row)
        mark = ""
        if val["score"] < best_score:
            best_score, best = val["score"], export(model, cm, cs, vm, vs, base)
            mark = " *"
        log(f"epoch {epoch}: train loss {row['train_loss']:.2f}, validation score {val['score']:.4f} "
            + " ".join(f"{k} {v:.3f}" for k, v in val.items() if k != "score") + mark)
    return best, history


# --------------------------------------------------------------------------- the command


def write_report(path: Path, info: dict) -> None:
    """Write the training report ``info`` (``main``'s) as ``path`` .json and a Markdown .md table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(info, indent=1))
    kinds = [k for k in ("score", "all", "typical") + recipe.KINDS if k in info["base"]]
    lines = [f"# Training report: {info['out']}", "",
             f"Command: `{info['command']}`", "",
             f"Corpus: {info['data']} ({info['n_train']} training and {info['n_val']} validation samples; "
             f"validation holds out whole synsets). Seed {info['seed']}. sha256 of the weights: `{info['sha256']}`.", "",
             "Validation (lower is better; 1.0 = unchanged): `all` is fMSE of the corrected object pixels over the "
             "composite's, pooled over samples; `typical` the mean of each sample's own ratio (capped at 5); `score` "
             "their mean, which picks the epoch; then `all` per perturbation kind.", "",
             "| | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds),
             "| fixed base (half-way Lab transfer) | " + " | ".join(f"{info['base'][k]:.3f}" for k in kinds) + " |",
             "| edge ratio only (g = 0.4, s = 0) | " + " | ".join(f"{info['edge'][k]:.3f}" for k in kinds) + " |", "",
             "| epoch | train loss | " + " | ".join(f"val {k}" for k in kinds) + " | s |",
             "|---|---|" + "---|" * len(kinds) + "---|"]
    for row in info["history"]:
        best = " *" if row["epoch"] == info["best_epoch"] else ""
        lines.append(f"| {row['epoch']}{best} | {row['train_loss']:.2f} | "
                     + " | ".join(f"{row['val'].get(k, float('nan')):.3f}" for k in kinds) + f" | {row['seconds']:.1f} |")
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def edge_only_raw(n: int) -> np.ndarray:
    """Raw outputs giving s_mu = s_sd = 0 and g = 0.4 (the ``boundary`` backend's correction, in Lab)."""
    raw = np.zeros((n, 3, 3), np.float32)
    for i, (key, target) in enumerate((("s_mu", 0.0), ("s_sd", 0.0), ("g", 0.4))):
        lo, hi, base = learned.BOUNDS[key]
        raw[:, i] = np.log((target - lo) / (hi - target)) - np.log((base - lo) / (hi - base))
    return raw.reshape(n, 9)


def main(argv: list[str] | None = None) -> int:
    """The command (see the module docstring): train on ``--data``, write ``--out`` and its report;
    returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m compositor.training.harmonizer", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="folder with images/ and masks/ (DUTS-TR)")
    p.add_argument("--out", required=True, help="where the head's .npz goes")
    p.add_argument("--report", help="report path without suffix (.md and .json); default: next to --out")
    p.add_argument("--cache", default="out/harmonizer-cache", help="folder for the encoded samples (resumable)")
    p.add_argument("--samples", type=int, default=0, help="use at most this many photos (0: all)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--base", choices=tuple(learned.BASES), default="transfer",
                   help="the correction the head's outputs at 0 give: transfer (half-way Lab transfer) or edge "
                        "(the boundary backend's 0.4 of the edge ratio)")
    p.add_argument("--tau", type=float, default=100.0, help="loss weight 1/(composite's error + tau); 0: plain MSE")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--vgg-units", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    args = p.parse_args(argv)
    from .._tf import quiet_import

    quiet_import()

    photos = recipe.corpus(args.data)
    if not photos:
        print(f"{args.data}: no images/ with matching masks/ found.", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    photos = [photos[i] for i in np.sort(rng.permutation(len(photos))[: args.samples or len(photos)])]
    train_photos, val_photos = recipe.split(photos, args.val_fraction, args.seed)
    cache = Path(args.cache)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    train_data = build(train_photos, train_photos, cache, f"train{len(train_photos)}", args.seed, log=log)
    val_data = build(val_photos, val_photos, cache, f"val{len(val_photos)}", args.seed, log=log)
    base = base_scores(val_data)
    edge = base_scores(val_data, edge_only_raw(len(val_data["colour"])))
    log(f"validation score: fixed base {base['score']:.4f}, edge ratio only {edge['score']:.4f}")
    weights, history = train(train_data, val_data, epochs=args.epochs, batch=args.batch,
                             learning_rate=args.learning_rate, tau=args.tau, seed=args.seed, hidden=args.hidden,
                             base=None if args.base == "transfer" else learned.BASES[args.base],
                             vgg_units=args.vgg_units, log=log)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.asarray(v, np.float32) for k, v in weights.items()})
    tmp.replace(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    best_epoch = min(history, key=lambda r: r["val"]["score"])["epoch"]
    info = {"out": str(out), "sha256": digest, "data": args.data, "seed": args.seed,
            "command": "python -m compositor.training.harmonizer " + " ".join(argv if argv is not None else sys.argv[1:]),
            "n_train": int(len(train_data["colour"])), "n_val": int(len(val_data["colour"])), "base": base,
            "edge": edge, "best_epoch": best_epoch, "history": history}
    write_report(Path(args.report) if args.report else out.with_suffix(""), info)
    log(f"wrote {out} (sha256 {digest}); best epoch {best_epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
