"""A real ``compositor serve`` in a subprocess on 127.0.0.1, for the tests that need a
server as users run it (start-up, the browser)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_server(*args: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str, float]:
    """Start ``compositor serve --port 0 ARGS`` and wait for its page; returns the process,
    its base URL and the seconds from start to the first page."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "compositor.cli", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    url = f"http://127.0.0.1:{match.group(1)}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as r:
                r.read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    return proc, url, time.perf_counter() - t0


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def live_server():
    proc, url, _ = start_server()
    try:
        yield url
    finally:
        stop_server(proc)
