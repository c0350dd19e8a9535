"""VGG feature extraction without TensorFlow: the conv stack written as an ONNX graph.

The graph is built in memory from the same conv weights the Keras extractor uses
(``network.load_weights``) and run by onnxruntime, so a learned-mode harmonize call
never imports TensorFlow. The network is truncated at the deepest requested layer.

``features(image, layers)`` takes RGB on a 0..255 scale (HxWx3, any float or uint8)
and returns {layer: float32 HxWxC activations}, the same numbers as
``network.build_extractor`` gives (a test checks this).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .network import ARCHITECTURES, IMAGENET_BGR_MEANS, check_layers, conv_layers, load_weights

OPSET = 13


def build_graph(weights: dict[str, tuple[np.ndarray, np.ndarray]], network: str, outputs: tuple[str, ...],
                pooling: str = "max") -> bytes:
    """A serialized ONNX model: input ``bgr`` (N, 3, H, W, caffe-preprocessed), one output per layer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    check_layers(network, outputs, "output")
    order = conv_layers(network)
    last = max(order.index(layer) for layer in outputs)
    nodes, inits = [], []
    x = "bgr"
    block = 1
    for name, _filters in ARCHITECTURES[network][: last + 1]:
        layer_block = int(name[5])
        if layer_block != block:
            op = "MaxPool" if pooling == "max" else "AveragePool"
            nodes.append(helper.make_node(op, [x], [f"block{block}_pool"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"block{block}_pool"
            block = layer_block
        kernel, bias = weights[name]
        inits.append(numpy_helper.from_array(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32), f"{name}_W"))
        inits.append(numpy_helper.from_array(bias.astype(np.float32), f"{name}_b"))
        nodes.append(helper.make_node("Conv", [x, f"{name}_W", f"{name}_b"], [f"{name}_pre"], pads=[1, 1, 1, 1],
                                      kernel_shape=[3, 3]))
        nodes.append(helper.make_node("Relu", [f"{name}_pre"], [name]))
        x = name
    graph = helper.make_graph(
        nodes, f"{network}_features",
        [helper.make_tensor_value_info("bgr", TensorProto.FLOAT, [1, 3, None, None])],
        [helper.make_tensor_value_info(layer, TensorProto.FLOAT, [1, None, None, None]) for layer in outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def session(network: str, weights_name: str, outputs: tuple[str, ...], pooling: str = "max"):
    """An onnxruntime session for these layers, built once per process (and thread setting)."""
    from .. import _ort

    return _session(network, weights_name, outputs, pooling, _ort.threads())


@lru_cache(maxsize=4)
def _session(network: str, weights_name: str, outputs: tuple[str, ...], pooling: str, threads: str):
    import onnxruntime as ort

    from .. import _ort

    order = conv_layers(network)
    needed = order[: max(order.index(layer) for layer in outputs) + 1]
    graph = build_graph(load_weights(weights_name, network, needed), network, outputs, pooling)
    return ort.InferenceSession(graph, _ort.session_options(), providers=["CPUExecutionProvider"])


def preprocess(image: np.ndarray) -> np.ndarray:
    """RGB 0..255 HxWx3 -> the caffe input (1, 3, H, W): BGR minus ImageNet's channel means."""
    bgr = np.asarray(image, np.float32)[..., ::-1] - np.asarray(IMAGENET_BGR_MEANS, np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])


def features(sess, image: np.ndarray, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
    """{layer: HxWxC float32} for an RGB 0..255 image through ``sess`` (see ``session``)."""
    values = sess.run(list(outputs), {"bgr": preprocess(image)})
    return {name: v[0].transpose(1, 2, 0) for name, v in zip(outputs, values)}
