"""The server's store: ids, labels in messages, the bounded cache, the idle sweep."""
from __future__ import annotations

import numpy as np
import pytest

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
