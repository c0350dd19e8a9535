"""A Ray cluster address where no cluster answers: one sentence and exit 1 within seconds.

Ray itself retries an unreachable address for minutes (``batch ... --executor ray
--ray-address 127.0.0.1:1`` was still running after 120 s, printing Ray's C++ warnings about
another address than the one given); the executor probes the address first, with a connect
timeout, and refuses anything that does not answer as a gRPC server (Ray's head and its client
server both speak gRPC).
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def manifest(tmp_path) -> Path:
    path = tmp_path / "jobs.jsonl"
    path.write_text(json.dumps({"background": str(SAMPLES / "chelsea.png"), "backend": "none",
                                "objects": [{"sticker": str(SAMPLES / "coffee.png"), "scale": 0.2}]}) + "\n")
    return path


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says anything (not a Ray head)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    threading.Thread(target=lambda: [conns.append(srv.accept()) for _ in range(8)], daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def batch(manifest: Path, address: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "compositor.cli", "batch", str(manifest), "-o",
                           str(manifest.parent / "out"), "--executor", "ray", "--ray-address", address, "-q"],
                          capture_output=True, text=True, timeout=90)
    return done, time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_unreachable_ray_address_fails_in_one_sentence_within_seconds(manifest, address):
    done, seconds = batch(manifest, address)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("compositor: error: "), done.stderr
    assert address in lines[0] and "connection refused" in lines[0]
    assert seconds < 30, f"took {seconds:.0f} s"  # Python and Ray's import, then the probe
    assert not (manifest.parent / "out").exists()


@pytest.mark.slow
def test_a_port_that_is_not_ray_is_refused_after_the_connect_timeout(manifest, silent_port):
    done, seconds = batch(manifest, f"127.0.0.1:{silent_port}")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no answer within 5 s" in lines[0], done.stderr


@pytest.mark.parametrize("address, words", [("host:abc", "port must be a number"), ("http://x:1", "HOST:PORT"),
                                            (":6379", "no host")])
def test_a_malformed_ray_address_is_a_usage_error(address, words):
    from compositor.errors import UsageError
    from compositor.runs.executors.ray import check_address

    with pytest.raises(UsageError, match=words):
        check_address(address)


@pytest.mark.slow
def test_the_probe_accepts_a_real_ray_head(tmp_path):
    """The probe passes a real Ray cluster's address (a local one, started here)."""
    code = ("import logging, ray\n"
            "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)\n"
            "from compositor.runs.executors.ray import check_address\n"
            "check_address(ray.get_runtime_context().gcs_address)\n"
            "print('ok')\n"
            "ray.shutdown()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
