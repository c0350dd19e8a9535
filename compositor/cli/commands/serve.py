"""``compositor serve``: the studio, a page and an HTTP API on this machine.

Open http://127.0.0.1:8080/ to cut an object out of a photo, place it on a background
(drag, scale, rotate, several objects), harmonize it with one or more backends side by
side, and download the results, or copy the `compositor` command line that makes the
same image. The HTTP API is under /api/ and documented at /docs.

It listens on 127.0.0.1 only. Another address (--host 0.0.0.0) needs --token: every
request must then carry 'Authorization: Bearer TOKEN' (the page: open /?token=TOKEN once).
Uploads are kept in a temporary folder that goes when the server stops, and files unused
for --idle-minutes go before then. Ctrl-C stops it.
"""
from __future__ import annotations

import os

from ..options import add_traceback, command
from ..output import say


def add_parser(sub) -> None:
    """Add the ``serve`` command to the subparsers ``sub``."""
    p = command(sub, "serve", __doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--token", default=None,
                   help="a secret every request must carry; required for an address other than this machine's. "
                        "Also read from $COMPOSITOR_TOKEN")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="threads that run cuts and harmonizations (default: the CPU cores, at most 4)")
    p.add_argument("--queue", type=int, default=8, metavar="N",
                   help="jobs that may wait or run at once; beyond, requests get 503 (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=50.0, metavar="MB",
                   help="largest request body (default: %(default)s); images are also held to the pixel limit "
                        "(COMPOSITOR_MAX_PIXELS)")
    p.add_argument("--idle-minutes", type=float, default=60.0, metavar="M",
                   help="uploads and results unused this long are removed (default: %(default)s)")
    add_traceback(p)


def config_from(args):
    """The server's Config from the parsed options, checked (UsageError: exit 2)."""
    from ...errors import UsageError
    from ...plugins import check_range
    from ...server.app import LOCAL_HOSTS, Config

    token = args.token or os.environ.get("COMPOSITOR_TOKEN") or None
    if args.host not in LOCAL_HOSTS and not token:
        raise UsageError(f"--host {args.host} lets other machines in; give --token SECRET too (every request must "
                         "then carry it), or keep the default 127.0.0.1.")
    if token is not None and len(token) < 8:
        raise UsageError("--token must be at least 8 characters long.")
    check_range(args.port, 0, 65535, "--port", integer=True)
    workers = args.workers or min(4, os.cpu_count() or 1)
    check_range(workers, 1, 64, "--workers", integer=True)
    check_range(args.queue, workers, 10000, "--queue", integer=True)
    check_range(args.max_upload_mb, 0.001, 1e6, "--max-upload-mb")
    check_range(args.idle_minutes, 0.01, 1e6, "--idle-minutes")
    return Config(host=args.host, port=args.port, token=token, max_bytes=int(args.max_upload_mb * 1024 * 1024),
                  workers=workers, queue=args.queue, idle_seconds=args.idle_minutes * 60)


def _steady_malloc() -> None:
    """On glibc, keep a long-running server's memory steady: arrays of 1 MB and more are always
    mapped on their own (and given back when freed) instead of glibc raising that threshold as it
    goes and carving later images out of a fragmented heap, and at most 4 malloc arenas for the
    threads. Elsewhere, nothing."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 4)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def run(args) -> int:
    """Serve until interrupted; returns 0."""
    import socket

    import uvicorn

    from ...errors import CompositorError
    from ...server.app import create_app

    config = config_from(args)
    _steady_malloc()
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        raise CompositorError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc}).") from None
    port = sock.getsockname()[1]
    app = create_app(config)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    say(f"compositor studio: http://{shown}:{port}/  (API docs at /docs; Ctrl-C stops it)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=3))
    server.run(sockets=[sock])
    return 0
