"""``compositor serve`` as a user starts it: a real process on 127.0.0.1."""
from __future__ import annotations

import json
import tempfile
import urllib.request
from pathlib import Path

import pytest

from .conftest import start_server, stop_server

pytestmark = pytest.mark.slow  # a real server process


def folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("compositor-serve-*"))


def test_serve_starts_without_tensorflow_and_cleans_up():
    before = folders()
    proc, url, _ = start_server()
    assert len(folders() - before) == 1  # its own folder
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=10) as r:
            health = json.load(r)
        assert health["ok"] and health["tensorflow_loaded"] is False
        with urllib.request.urlopen(url + "/api/plugins", timeout=30) as r:
            assert json.load(r)["harmonizers"]
        with urllib.request.urlopen(url + "/api/health", timeout=10) as r:
            assert json.load(r)["tensorflow_loaded"] is False  # listing plugins imports none either
    finally:
        stop_server(proc)
    assert proc.returncode == 143  # SIGTERM, as every command reports it
    assert not folders() - before  # its folder went with it
