"""The server's store: ids, labels in messages, the bounded cache, the idle sweep."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from compositor.server.store import Store, UnknownId


def test_cache_stays_within_its_bytes():
    store = Store(cache_bytes=1000)
    try:
        entries = [store.put_json({"i": i}, f"{i}.json") for i in range(3)]
        made = []

        def make(entry):
            made.append(entry.id)
            return np.zeros(600, np.uint8)

        for e in entries:
            store.cached(e, "x", make)
        assert store._cached_bytes == 600 and len(store._cache) == 1  # only the last one fits
        store.cached(entries[2], "x", make)
        assert made == [e.id for e in entries]  # the kept one was not made again
    finally:
        store.close()


def test_ids_and_labels():
    store = Store()
    try:
        entry = store.put_json({}, "a.json")
        assert store.get(entry.id) is entry
        with pytest.raises(UnknownId, match="32 hex digits"):
            store.get("../etc")
        assert store.label_errors(f"{entry.path}: broken.") == "a.json: broken."
    finally:
        store.close()
    assert not store.folder.exists()


def test_an_upload_over_the_pixel_limit_is_refused_by_the_one_check(tmp_path):
    """The store hands its limit to ``imageio.read_rgba``, which refuses the image before decoding
    it, in one sentence naming the upload, its size and the limit (HTTP 413)."""
    import io

    from PIL import Image

    from compositor.imageio import TooManyPixels, read_rgba
    from compositor.server.store import TooLarge

    buf = io.BytesIO()
    Image.fromarray(np.zeros((1000, 1000), np.uint8)).save(buf, format="PNG")
    (tmp_path / "big.png").write_bytes(buf.getvalue())
    with pytest.raises(TooManyPixels, match=r"1000x1000 = 1,000,000 pixels, over the limit of 100,000 pixels\.$"):
        read_rgba(tmp_path / "big.png", max_pixels=100_000)
    assert read_rgba(tmp_path / "big.png", max_pixels=1_000_000).shape == (1000, 1000, 4)
    store = Store()
    try:
        with pytest.raises(TooLarge) as info:
            store.put_upload(buf.getvalue(), "big.png", max_pixels=100_000)
        assert str(info.value) == "big.png: image is 1000x1000 = 1,000,000 pixels, over the limit of 100,000 pixels."
        assert not any(store.folder.iterdir()) and len(store) == 0
    finally:
        store.close()


def test_an_upload_is_decoded_once(monkeypatch):
    """An uploaded background and sticker are decoded when they come; their RGB, the sticker, the
    previews and the paste are made from those pixels (they were decoded up to three times)."""
    import json

    from compositor.imageio import read as imageio_read, read_rgb

    from .test_api import SAMPLES, client_for, upload

    decoded = []
    real = imageio_read._decode
    monkeypatch.setattr(imageio_read, "_decode", lambda source, path, *a: (decoded.append(str(path)), real(source, path, *a))[1])
    with client_for() as c:
        bg = upload(c, SAMPLES / "chelsea.png")
        assert c.get(bg["preview"] + "?size=200").status_code == 200
        sticker = upload(c, SAMPLES / "coffee.png")  # an opaque photo as a sticker: its box is all of it
        r = c.post("/api/paste", data={"background_id": bg["id"], "placements": json.dumps(
            [{"sticker": sticker["id"], "x": "50%", "y": "50%", "scale": 0.2}])})
        assert r.status_code == 200, r.text
        assert c.get(sticker["preview"]).status_code == 200
        assert len(decoded) == 2, decoded  # one for each upload
        composite = np.asarray(Image.open(io.BytesIO(c.get(r.json()["composite"]["url"]).content)))
    assert composite.shape == read_rgb(SAMPLES / "chelsea.png").shape


def test_previews_and_files_are_made_by_the_library():
    """The preview is ``ops.resize`` to ``ops.working_size``, encoded by imageio's one PNG encoder
    (whose ``level`` the server sets: 0 stores, faster, for files read back from the cache)."""
    from compositor.imageio import encode_png, read_rgb, read_rgba
    from compositor.ops.resize import resize, working_size

    from .test_api import SAMPLES, client_for, upload

    photo = read_rgb(SAMPLES / "chelsea.png")
    stored, packed = encode_png(photo, level=0), encode_png(photo, level=1)
    assert len(stored) > len(packed)
    for data in (stored, packed):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), photo)
    with client_for() as c:
        entry = upload(c, SAMPLES / "chelsea.png")
        preview = np.asarray(Image.open(io.BytesIO(c.get(entry["preview"] + "?size=200").content)))
    rgba = read_rgba(SAMPLES / "chelsea.png")
    assert np.array_equal(preview, resize(rgba, working_size(rgba.shape, 200))) and max(preview.shape) == 200
