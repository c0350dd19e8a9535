"""Magenta's style-prediction and transform networks as ONNX files, run with onnxruntime.

The ``onnx`` source of the ``magenta`` harmonizer (see ``harmonizers.magenta``): Magenta's
int8 TFLite pair converted to ONNX, on the CPU. The transform network is fully
convolutional, but its file declares a 384x384 input; the session is built from a copy
whose image height and width are left free, so a crop is stylized at its own aspect ratio.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from .. import _ort
from ..errors import CompositorError
from ..ops.resize import resize, scaled_size
from .base import Progress

STYLE_SIZE = 256  # the style network's input, square
ONNX_SIZE = 384  # the long side the ONNX transform runs at (the size its file declares)
ONNX_MULTIPLE = 4  # two stride-2 convolutions, two 2x upsamplings
ONNX_MIN_SIDE = 16  # the 9x9 reflect-padded first convolution needs more than 4 px
PREDICT_MODEL = "magenta-predict-onnx"
TRANSFORM_MODEL = "magenta-transform-onnx"

# sessions, created once per process
_LOCK = threading.Lock()
_SESSIONS: dict[str, object] = {}


def free_image_size(model_bytes: bytes) -> bytes:
    """The ONNX model with the height and width of its first input and of its outputs
    (NHWC images) made symbolic, so a fully convolutional network takes any size."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    for value in [model.graph.input[0], *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) != 4:
            raise CompositorError(f"expected NHWC image tensors in the transform model; {value.name} has "
                                  f"{len(dims)} dimensions.")
        dims[1].dim_param, dims[2].dim_param = "height", "width"
    del model.graph.value_info[:]  # inferred shapes of the 384x384 graph; recomputed by onnxruntime
    return model.SerializeToString()


def onnx_session(path: str | os.PathLike, free_size: bool = False):
    """An onnxruntime CPU session for ``path``, created once per process (and thread
    setting); ``free_size`` leaves the image input's height and width free."""
    file = str(Path(path).resolve())
    key = f"{file}|{_ort.threads()}|{free_size}"
    with _LOCK:
        sess = _SESSIONS.get(key)
        if sess is None:
            import onnxruntime as ort

            options = _ort.session_options()
            try:
                model = free_image_size(Path(file).read_bytes()) if free_size else file
                sess = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
            except CompositorError as exc:
                raise CompositorError(f"{file}: {exc}") from None
            except Exception as exc:  # onnx and onnxruntime raise their own types
                raise CompositorError(f"{file}: onnxruntime cannot load the model ({exc}).") from None
            _SESSIONS[key] = sess
        return sess


def to_network_size(image: np.ndarray, side: int, multiple: int = ONNX_MULTIPLE,
                    minimum: int = ONNX_MIN_SIDE) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``image`` resized so its long side is ``side``, then centred and padded by
    reflection until both sides are multiples of ``multiple`` and at least ``minimum``;
    returns it and (top, left, height, width) of the image inside."""
    h, w = image.shape[:2]
    nw, nh = scaled_size(w, h, side)
    small = resize(image, (nw, nh))

    def padded(n: int) -> int:
        return max(minimum, -(-n // multiple) * multiple)

    ph, pw = padded(nh), padded(nw)
    top, left = (ph - nh) // 2, (pw - nw) // 2
    # BORDER_REFLECT repeats the edge pixel, so it also pads a 1 px wide image
    out = cv2.copyMakeBorder(small, top, ph - nh - top, left, pw - nw - left, cv2.BORDER_REFLECT)
    return out, (top, left, nh, nw)


def stylize(crop: np.ndarray, style: np.ndarray, strength: float, timings: dict, progress: Progress):
    """The crop stylized by the ONNX pair at ``ONNX_SIZE`` px on its long side: (input at the working
    size, stylized at the working size, both float32 0..255, the working size (w, h), and the
    network input's size (w, h): the working size padded to multiples of 4)."""
    from .. import models

    t = time.perf_counter()
    predict = onnx_session(models.locate(PREDICT_MODEL))
    transform = onnx_session(models.locate(TRANSFORM_MODEL), free_size=True)
    timings["seconds_load"] = time.perf_counter() - t
    p_in, p_out = predict.get_inputs()[0].name, predict.get_outputs()[0].name
    t_inputs = [i.name for i in transform.get_inputs()]
    c_name = next((n for n in t_inputs if "content" in n), t_inputs[0])
    b_name = next(n for n in t_inputs if n != c_name)

    t = time.perf_counter()
    bottleneck = None
    if strength > 0:
        bottleneck = predict.run([p_out], {p_in: style[None]})[0]
    if strength < 1:
        own_in = np.clip(resize(crop, (STYLE_SIZE, STYLE_SIZE)) / 255.0, 0.0, 1.0).astype(np.float32)
        own = predict.run([p_out], {p_in: own_in[None]})[0]
        bottleneck = own if bottleneck is None else strength * bottleneck + (1.0 - strength) * own
    timings["seconds_predict"] = time.perf_counter() - t
    progress.update(1, 3)

    t = time.perf_counter()
    padded, (top, left, nh, nw) = to_network_size(crop, ONNX_SIZE)
    content = np.clip(padded / 255.0, 0.0, 1.0).astype(np.float32)[None]
    stylized = transform.run(None, {c_name: content, b_name: bottleneck.astype(np.float32)})[0][0]
    timings["seconds_transform"] = time.perf_counter() - t
    progress.update(2, 3)
    if stylized.shape[:2] != padded.shape[:2]:
        raise CompositorError(f"the Magenta transform model returned {stylized.shape[1]}x{stylized.shape[0]} "
                              f"for a {padded.shape[1]}x{padded.shape[0]} input.")
    small = padded[top:top + nh, left:left + nw]
    return small, stylized[top:top + nh, left:left + nw] * 255.0, (nw, nh), (padded.shape[1], padded.shape[0])
