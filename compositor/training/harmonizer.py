"""Train the learned harmonizer's head (``vgg19 --mode learned``) from photos with object masks.

    python -m compositor.training.harmonizer --data ../shared/data/duts-tr --out compositor/weights/harmonizer_head.npz \
        --epochs 40 --learning-rate 3e-3 --base edge

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
3. **Choice.** Each epoch is scored on the validation part; the epoch with the lowest
   pooled ratio (fMSE of the corrected pixels over that of the composite, pooled over
   samples, as ``compositor bench`` reports it) is kept: its weights are written to ``--out`` as ``.npz`` with a
   report (``--report``, Markdown and JSON) of the loss and validation scores per epoch,
   the fixed base's score and each perturbation kind's.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..harmonizers import learned
from . import recipe
from .correction_tf import corrected_rgb_tf
from .head import base_scores, build_model, edge_only_raw, export, sample_errors, score
from .samples import RATIO, build

#: The validation figure that picks the epoch: the pooled ratio (``head.ratios``).
SELECT = "all"


def train(train_data: dict[str, np.ndarray], val_data: dict[str, np.ndarray], *, epochs: int, batch: int = 128,
          learning_rate: float = 1e-3, tau: float = 0.0, base=None, seed: int = 0, log=print, **model_args):
    """Fit the head; returns (the weights of the epoch with the lowest pooled validation ratio
    ``all``, in Head layout; per-epoch history).

    With ``tau`` > 0 each sample's squared error is weighted by 1 / (its composite's error +
    ``tau``), normalised to a mean weight of 1: the smaller ``tau``, the closer the loss is to
    the mean of per-sample ratios (mild perturbations count as much as strong ones); ``tau`` 0
    is plain MSE, the pooled figure itself."""
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
        if val[SELECT] < best_score:
            best_score, best = val[SELECT], export(model, cm, cs, vm, vs, base)
            mark = " *"
        log(f"epoch {epoch}: train loss {row['train_loss']:.2f}, validation {SELECT} {val[SELECT]:.4f} "
            + " ".join(f"{k} {v:.3f}" for k, v in val.items() if k != SELECT) + mark)
    return best, history


# --------------------------------------------------------------------------- the command


def write_report(path: Path, info: dict) -> None:
    """Write the training report ``info`` (``main``'s) as ``path`` .json and a Markdown .md table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(info, indent=1))
    kinds = [k for k in ("all", "placed", "salient", "typical", "score") + recipe.KINDS if k in info["base"]]
    lines = [f"# Training report: {info['out']}", "",
             f"Command: `{info['command']}`", "",
             f"Corpus: {info['data']} ({info['n_train']} training and {info['n_val']} validation samples; "
             f"validation holds out whole synsets; {info.get('placed_share', 0.2):.0%} of the regions in both are "
             f"another photo's mask placed at random). Seed {info['seed']}. sha256 of the weights: `{info['sha256']}`.", "",
             "Validation (lower is better; 1.0 = unchanged): `all` is fMSE of the corrected object pixels over the "
             "composite's, pooled over samples, which picks the epoch; `placed` and `salient` the same over placed "
             "regions and over the photos' own objects; `typical` the mean of each sample's own ratio (capped at 5); "
             "`score` the mean of `all` and `typical`; then `all` per perturbation kind.", "",
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
    p.add_argument("--tau", type=float, default=0.0, help="loss weight 1/(composite's error + tau); 0: plain MSE")
    p.add_argument("--placed-share", type=float, default=recipe.PLACED_SHARE,
                   help="share of the training and validation regions that are another photo's object mask placed "
                        "at random rather than the photo's own salient object")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--vgg-units", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    args = p.parse_args(argv)
    if not 0.0 <= args.placed_share <= 1.0:
        p.error(f"--placed-share must lie between 0 and 1, got {args.placed_share}")
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
    train_data = build(train_photos, train_photos, cache, f"train{len(train_photos)}", args.seed, log=log,
                       placed_share=args.placed_share)
    val_data = build(val_photos, val_photos, cache, f"val{len(val_photos)}", args.seed, log=log,
                     placed_share=args.placed_share)
    if not train_data or not val_data:
        part = "training" if not train_data else "validation"
        print(f"{args.data}: no {part} sample could be made (every object was under 16 pixels at "
              f"{learned.WORK_SIDE} px, or the {part} part is empty); give more photos.", file=sys.stderr)
        return 1
    base = base_scores(val_data)
    edge = base_scores(val_data, edge_only_raw(len(val_data["colour"])))
    log(f"validation {SELECT}: fixed base {base[SELECT]:.4f}, edge ratio only {edge[SELECT]:.4f}")
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
    best_epoch = min(history, key=lambda r: r["val"][SELECT])["epoch"]
    info = {"out": str(out), "sha256": digest, "data": args.data, "seed": args.seed,
            "command": "python -m compositor.training.harmonizer " + " ".join(argv if argv is not None else sys.argv[1:]),
            "n_train": int(len(train_data["colour"])), "n_val": int(len(val_data["colour"])), "base": base,
            "placed_share": args.placed_share, "tau": args.tau, "select": SELECT,
            "edge": edge, "best_epoch": best_epoch, "history": history}
    write_report(Path(args.report) if args.report else out.with_suffix(""), info)
    log(f"wrote {out} (sha256 {digest}); best epoch {best_epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
