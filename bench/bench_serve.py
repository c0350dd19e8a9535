"""The studio's HTTP API against the same calls in-process, on loopback, bounded in count and time.

Run:  .venv/bin/python bench/bench_serve.py [--clients 4] [--soak-seconds 120]

Starts ``compositor serve`` on 127.0.0.1 (a free port, its default workers), measures the
time from start to the first page, then for each call, with 1 client and with ``--clients``
concurrent clients (threads, one HTTP connection each), p50 and p95 latency and throughput:

- ``cut``: the default cutter (u2net) on coffee.png scaled to 1024 px (long side);
- ``paste+none``: a paste of the cup on chelsea.png scaled to 1024 px, then ``harmonize``
  with ``none`` (two requests; the PNG result downloaded);
- ``fit``: ``harmonize`` with vgg19 in fit mode (the default) on one 1024 px composite, warm.

The finishing stage is off in every call (the server's default is compose's, the in-process
calls' none), so both sides do the same work.

The same three calls run in this process through ``compositor.api`` (one client), in the
same run, as the baseline, alternated call by call with the API's one-client calls. The server's resident memory (VmRSS) is read after the first call
of each kind, after a warm-up (each call from every client at once, so every worker thread
has run each model, then ``--warmup-pastes`` paste+none calls, which fill its bounded cache of
decoded images), after 500 more requests, and after ``--soak-seconds`` of ``--clients``
clients repeating paste+none, with the errors counted. The machine's load average is printed
with the table: on a shared machine it moves every figure. Every request goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SAMPLES = ROOT / "samples"


def png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def inputs():
    """(photo, background, cup sticker) as arrays: coffee.png and chelsea.png at 1024 px, the
    cup cut by its hand-made mask."""
    import cv2
    import numpy as np

    from compositor.imageio import read_mask, read_rgb
    from compositor.ops.resize import resize

    def to_1024(img):
        h, w = img.shape[:2]
        s = 1024 / max(h, w)
        return resize(img, (round(w * s), round(h * s)))

    photo = read_rgb(SAMPLES / "coffee.png")
    mask = read_mask(SAMPLES / "masks" / "coffee_cup.png")
    x, y, w, h = cv2.boundingRect((mask > 0).astype(np.uint8))
    alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)
    cup = np.dstack([photo, alpha])[y:y + h, x:x + w]
    return to_1024(photo), to_1024(read_rgb(SAMPLES / "chelsea.png")), cup


PLACE = {"x": "30%", "y": "92%", "height": "35%", "anchor": "bottom"}


def start_server(idle_minutes: float) -> tuple[subprocess.Popen, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "compositor.cli", "serve", "--port", "0", "--idle-minutes",
                             str(idle_minutes), "--queue", "64"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stderr.readline())
    if not match:
        proc.kill()
        raise SystemExit("the server did not start")
    url = f"http://127.0.0.1:{match.group(1)}"
    while True:
        try:
            urllib.request.urlopen(url + "/", timeout=5).read()
            return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    """One HTTP client (its own connection) that counts its requests and errors."""

    requests = 0
    errors: list[str] = []
    lock = threading.Lock()

    def __init__(self, url: str):
        import httpx

        self.http = httpx.Client(base_url=url, timeout=300)

    def post(self, path: str, files=None, data=None):
        r = self.http.post(path, files=files, data=data)
        with Client.lock:
            Client.requests += 1
            if r.status_code != 200:
                Client.errors.append(f"{path}: {r.status_code} {r.text[:200]}")
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
        return r

    def upload(self, data: bytes, name: str) -> str:
        return self.post("/api/uploads", files={"file": (name, data)}).json()["id"]


#: the finishing stage off, as the in-process baseline runs it
NO_FINISH = json.dumps({"match": "none", "shadow": "none"})


def calls(client: Client, ids: dict):
    """The three calls through the API, each a function of no arguments."""
    def cut():
        client.post("/api/cut", data={"image_id": ids["photo"]})

    def paste_none():
        out = client.post("/api/paste", data={"background_id": ids["background"], "placements": json.dumps(
            [{"sticker": ids["cup"], **PLACE}])}).json()
        client.post("/api/harmonize", data={"composite_id": out["composite"]["id"], "mask_id": out["mask"]["id"],
                                            "backend": "none", "format": "png", "finish": NO_FINISH})

    def fit():
        client.post("/api/harmonize", data={"composite_id": ids["composite"], "mask_id": ids["mask"],
                                            "backend": "vgg19", "settings": json.dumps({"mode": "fit"}),
                                            "format": "png", "finish": NO_FINISH})

    return {"cut": cut, "paste+none": paste_none, "fit": fit}


def in_process(photo, background, cup):
    from compositor import api
    from compositor.paste import Placement
    from compositor.types import Sticker

    sticker = Sticker(cup, "cup", (0, 0, cup.shape[1], cup.shape[0]), 1.0, "mask")
    comp = api.paste(background, [Placement(sticker, **PLACE)])

    def cut():
        api.cut(photo)

    def paste_none():
        c = api.paste(background, [Placement(sticker, **PLACE)])
        api.harmonize(c, "none")

    def fit():
        api.harmonize(comp, "vgg19", mode="fit")

    return {"cut": cut, "paste+none": paste_none, "fit": fit}


def summary(latencies: list[float]) -> dict:
    """p50, p95 and calls per second of one client's sequential ``latencies``."""
    ordered = sorted(latencies)
    return {"n": len(ordered), "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], "per_s": len(ordered) / sum(ordered)}


def timed(fn, n: int, clients: int) -> dict:
    """Run ``fn`` ``n`` times from ``clients`` threads; latencies and throughput."""
    latencies = []
    lock = threading.Lock()

    def one(_):
        t = time.perf_counter()
        fn()
        with lock:
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    if clients == 1:
        for i in range(n):
            one(i)
    else:
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(one, range(n)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"n": n, "p50": statistics.median(latencies),
            "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], "per_s": n / wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cut-n", type=int, default=4)
    parser.add_argument("--paste-n", type=int, default=24)
    parser.add_argument("--fit-n", type=int, default=8)
    parser.add_argument("--soak-seconds", type=float, default=120.0)
    parser.add_argument("--warmup-pastes", type=int, default=64, help="paste+none calls in the warm-up")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    photo, background, cup = inputs()
    proc, url, start_s = start_server(idle_minutes=5.0)
    report: dict = {"start_to_first_page_s": round(start_s, 3)}
    try:
        with urllib.request.urlopen(url + "/api/health") as r:
            report["tensorflow_at_start"] = json.load(r)["tensorflow_loaded"]
        clients = [Client(url) for _ in range(args.clients)]

        def fresh_ids(c: Client) -> dict:
            """Inputs uploaded again for each phase (the server drops files unused for 5 minutes)."""
            ids = {"photo": c.upload(png(photo), "coffee.png"), "background": c.upload(png(background), "chelsea.png"),
                   "cup": c.upload(png(cup), "cup.png")}
            out = c.post("/api/paste", data={"background_id": ids["background"], "placements": json.dumps(
                [{"sticker": ids["cup"], **PLACE}])}).json()
            ids.update(composite=out["composite"]["id"], mask=out["mask"]["id"])
            return ids

        # warm-up: each call once through the API and in-process (models load here), then
        # --warmup-pastes paste+none calls from all clients, enough for the server's decoded-image
        # cache (bounded at 128 MB) to fill: the steady state the memory is measured from
        ids = fresh_ids(clients[0])
        for fn in calls(clients[0], ids).values():
            fn()
        local = in_process(photo, background, cup)
        for fn in local.values():
            fn()
        report["rss_after_first_calls_mb"] = round(rss_mb(proc.pid), 1)
        for name in ("cut", "fit"):  # every worker thread runs each model once too
            with ThreadPoolExecutor(args.clients) as ex:
                list(ex.map(lambda c: calls(c, ids)[name](), clients))
        warm = [calls(c, ids)["paste+none"] for c in clients]
        for _ in range(max(1, args.warmup_pastes // len(warm))):
            with ThreadPoolExecutor(args.clients) as ex:
                list(ex.map(lambda f: f(), warm))
        report["rss_after_warmup_mb"] = round(rss_mb(proc.pid), 1)
        requests_at_warmup = Client.requests

        rows = []
        counts = {"cut": args.cut_n, "paste+none": args.paste_n, "fit": args.fit_n}
        for name, n in counts.items():
            ids = fresh_ids(clients[0])
            # one client: in-process and through the API alternated call by call, so both see
            # the same machine load
            local_lat, api_lat = [], []
            for _ in range(n):
                for fn, out in ((local[name], local_lat), (calls(clients[0], ids)[name], api_lat)):
                    t = time.perf_counter()
                    fn()
                    out.append(time.perf_counter() - t)
            rows.append((name, "in-process", 1, summary(local_lat)))
            rows.append((name, "API", 1, summary(api_lat)))
            pool = ThreadPoolExecutor(args.clients)
            per_client = [calls(c, ids)[name] for c in clients]
            turn = iter(range(10**9))
            lock = threading.Lock()

            def any_client():
                with lock:
                    i = next(turn) % len(per_client)
                per_client[i]()

            rows.append((name, "API", args.clients, timed(any_client, n, args.clients)))
            pool.shutdown()

        # up to 500 requests, then a soak of --clients clients repeating paste+none
        ids = fresh_ids(clients[0])
        pastes = [calls(c, ids)["paste+none"] for c in clients]
        while Client.requests - requests_at_warmup < 500:
            with ThreadPoolExecutor(args.clients) as ex:
                list(ex.map(lambda f: f(), pastes))
        report["requests_at_500"] = Client.requests - requests_at_warmup
        report["rss_after_500_requests_mb"] = round(rss_mb(proc.pid), 1)
        soak_start, before = time.perf_counter(), Client.requests
        stop = soak_start + args.soak_seconds

        def soak(fn):
            done = 0
            while time.perf_counter() < stop:
                try:
                    fn()
                    done += 1
                except RuntimeError:
                    pass
            return done

        with ThreadPoolExecutor(args.clients) as ex:
            list(ex.map(soak, pastes))
        report["soak_seconds"] = round(time.perf_counter() - soak_start, 1)
        report["soak_requests"] = Client.requests - before
        report["rss_after_soak_mb"] = round(rss_mb(proc.pid), 1)
        report["errors"] = len(Client.errors)
        report["first_errors"] = Client.errors[:3]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"server start to first page: {report['start_to_first_page_s']:.2f} s "
          f"(TensorFlow imported at start: {'yes' if report['tensorflow_at_start'] else 'no'})")
    print()
    print("| call | where | clients | n | p50 s | p95 s | per second | p50 / in-process |")
    print("|---|---|---|---|---|---|---|---|")
    base = {name: r["p50"] for name, where, k, r in rows if where == "in-process"}
    for name, where, k, r in rows:
        print(f"| {name} | {where} | {k} | {r['n']} | {r['p50']:.3f} | {r['p95']:.3f} | {r['per_s']:.2f} | "
              f"{r['p50'] / base[name]:.2f}x |")
    print()
    print(f"server memory (VmRSS): {report['rss_after_first_calls_mb']:.0f} MB after the first call of each, "
          f"{report['rss_after_warmup_mb']:.0f} MB after the warm-up ({args.warmup_pastes} paste+none), "
          f"{report['rss_after_500_requests_mb']:.0f} MB after {report['requests_at_500']} more requests, "
          f"{report['rss_after_soak_mb']:.0f} MB after a {report['soak_seconds']:.0f} s soak of {args.clients} clients "
          f"({report['soak_requests']} more requests); errors: {report['errors']}")
    for e in report["first_errors"]:
        print("  error:", e)
    if args.json:
        report["rows"] = [{"call": n, "where": w, "clients": k, **r} for n, w, k, r in rows]
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if not report["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
