"""The head as a Keras model (built, exported in the NumPy ``learned.Head`` layout) and its
validation scores."""
from __future__ import annotations

import numpy as np

from ..harmonizers import learned
from .correction_tf import corrected
from .samples import KIND_INDEX


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
    """``all``: fMSE over the composite's, pooled over samples (as ``compositor bench`` reports it), the
    number checkpoints are chosen by; the same per kind, and for the ``placed`` and ``salient``
    regions apart; ``typical``: the mean of each sample's own ratio (capped at ``RATIO_CAP``), which
    counts harm done to a mildly perturbed object as much as help to a badly perturbed one;
    ``score``: the mean of ``all`` and ``typical`` (reported; it chose checkpoints before, and
    picked early epochs that under-correct the large edits the pooled figure is made of)."""
    none = sample_errors(data["comp"], data)
    out = {"all": float(err.sum() / none.sum()),
           "typical": float(np.minimum((err + 1.0) / (none + 1.0), RATIO_CAP).mean())}
    out["score"] = 0.5 * (out["all"] + out["typical"])
    for kind, i in KIND_INDEX.items():
        sel = data["kind"] == i
        if sel.any():
            out[kind] = float(err[sel].sum() / none[sel].sum())
    if "placed" in data:
        for name, sel in (("placed", data["placed"]), ("salient", ~data["placed"])):
            if sel.any():
                out[name] = float(err[sel].sum() / none[sel].sum())
    return out


def base_scores(data: dict[str, np.ndarray], raw: np.ndarray | None = None) -> dict[str, float]:
    """``ratios`` of a fixed correction on the cached samples: the head's outputs ``raw`` (N, 9),
    zeros by default (the base correction alone)."""
    raw = np.zeros((len(data["colour"]), 9), np.float32) if raw is None else raw
    return ratios(sample_errors(corrected(raw, data), data), data)


def edge_only_raw(n: int) -> np.ndarray:
    """Raw outputs giving s_mu = s_sd = 0 and g = 0.4 (the ``boundary`` backend's correction, in Lab)."""
    raw = np.zeros((n, 3, 3), np.float32)
    for i, (key, target) in enumerate((("s_mu", 0.0), ("s_sd", 0.0), ("g", 0.4))):
        lo, hi, base = learned.BOUNDS[key]
        raw[:, i] = np.log((target - lo) / (hi - target)) - np.log((base - lo) / (hi - base))
    return raw.reshape(n, 9)
