"""The studio's ASGI application: the page at ``/`` and the HTTP API under ``/api/``.

Every route reaches the pipeline through ``compositor.api`` (``cut``, ``paste``,
``harmonize``, ``compose``, ``load_composite``), the same single library path as the
command line and the batch workers; settings are the plugins' own, read from
``compositor.plugins``. Work runs on the pool's threads (``jobs.Pool``); files live in the
server's temporary folder (``store.Store``). Errors are JSON, ``{"error": "one sentence"}``,
in the command line's words, with these statuses: 400 bad input, 401 no or wrong token,
403 a cross-site request, 404 an unknown id, 409 a cancelled job, 413 an upload over a
limit, 422 an input the pipeline cannot use (an unreadable image, nothing to cut),
503 the queue is full or a model is missing; 500 never carries a stack.
"""
from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import shlex
import time
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import plugins
from ..errors import CompositorError, ModelMissingError, UsageError
from .jobs import Busy, Cancelled, Pool
from .store import Entry, Store, TooLarge, UnknownId

log = logging.getLogger("compositor.server")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclasses.dataclass(frozen=True)
class Config:
    """How a server runs: where it listens, its token, its limits and its pool."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_bytes: int = 50 * 1024 * 1024  # one request's body
    max_pixels: int | None = None  # None: the command line's limit (imageio.max_pixels)
    workers: int = 2
    queue: int = 8
    idle_seconds: float = 3600.0


@dataclasses.dataclass(frozen=True)
class Asked:
    """A request's harmonizer and finishing, checked once before any work: the plugin made
    ready (``api.harmonizer``) with the settings as given (the command it prints sets those),
    and the finishing settings as given, the studio's defaults filled in, and as checked."""

    ready: plugins.Ready
    values: dict
    finish: dict
    finishing: Any  # finish.FinishSettings, imported when a request first needs it


class Loaded(typing.NamedTuple):
    """A composite loaded for harmonizing: the Composite, the entries it came from, the paste
    record that split its objects (None: ``how``, union or components)."""

    composite: Any  # types.Composite
    image: Entry
    mask: Entry
    record: Entry | None
    how: str


# --------------------------------------------------------------------------- helpers

#: the sticker a placement is checked with before its own is read (``inputs.placements``)
_STAND_IN = np.full((1, 1, 4), 255, np.uint8)


def _label(name: str | None, default: str) -> str:
    """A client's file name reduced to a safe download name (letters, digits, ``._-``), for
    messages and downloads only: it never names a file on the server. It never starts with
    ``-``, which the printed command would read as an option."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    safe = "".join(c if c.isalnum() and c.isascii() or c in "._-" else "_" for c in base).lstrip("._-").rstrip("._")[:80]
    return safe or default


def _file_record(entry) -> dict:
    """``records.file_record`` of a stored file, under the name its download and command give it."""
    from .. import records
    from ..imageio import sha256_file

    return records.file_record(entry.label, sha256_file(entry.path))


def _free_name(name: str, taken, sidecars: bool = True) -> str:
    """``name``, or ``STEM-2.png`` (-3, ...) when it is among the file names ``taken``; with
    ``sidecars``, also when the ``STEM.json`` the command writes beside it is."""
    stem, suffix = Path(name).stem, Path(name).suffix or ".png"
    out, n = name, 2
    while out in taken or (sidecars and Path(out).stem + ".json" in taken):
        out, n = f"{stem}-{n}{suffix}", n + 1
    return out


def _json_field(text: str | None, field: str, kind: type = dict) -> Any:
    """A form field holding JSON (``settings``, ``placements``), checked to be a ``kind``."""
    if text is None or text.strip() == "":
        return kind()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{field} is not valid JSON ({exc.msg} at character {exc.pos}).") from None
    except RecursionError:  # json.loads recurses once per bracket: "[[[[..." would be a 500
        raise UsageError(f"{field} is nested too deeply to be read as JSON.") from None
    if not isinstance(value, kind):
        what = "object" if kind is dict else "list"
        raise UsageError(f"{field} must be a JSON {what}; received {type(value).__name__}.")
    return value


def _box(text: str) -> tuple[int, int, int, int]:
    """``X,Y,W,H`` -> four whole numbers of pixels (as ``--box`` reads it)."""
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):
        raise UsageError(f"box must be X,Y,W,H in pixels; received {text!r:.60}.") from None
    if len(values) != 4 or any(abs(v) > 10**7 for v in values):
        raise UsageError(f"box must be four numbers X,Y,W,H in pixels; received {text!r:.60}.")
    return values


def _settings_text(value: Any) -> str:
    """A setting's value as ``--set`` takes it, so the command reproduces the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(_settings_text(v) for v in value)
    return "none" if value is None else str(value)


def _type_name(hint) -> str:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):
        return _type_name(args[0]) if len(args) == 1 else "str"
    if origin is tuple:
        return "list"
    return getattr(hint, "__name__", "str")


def describe_plugin(kind: str, name: str) -> dict[str, Any]:
    """A plugin and its declared settings (type, default, help, choices, bounds): the
    source ``--help`` reads, so a third-party plugin's form needs no change to the page."""
    try:
        cls = plugins.load(kind, name)
    except CompositorError as exc:
        return {"name": name, "ok": False, "error": str(exc), "settings": []}
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {"name": name, "ok": True, "doc": doc, "settings": _settings_of(cls.Settings)}


def describe_settings(name: str, settings_cls) -> dict[str, Any]:
    """A settings class that is not a plugin (the finishing stage's), described as a plugin's."""
    doc = (settings_cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {"name": name, "ok": True, "doc": doc, "settings": _settings_of(settings_cls)}


def _finish_class():
    from ..finish import FinishSettings

    return FinishSettings


def finish_defaults() -> dict[str, Any]:
    """The studio's finishing defaults: ``compositor compose``'s, read from where that command
    declares them (match blur and grain, a contact shadow)."""
    from ..cli.commands.compose import DEFAULTS

    return dict(DEFAULTS)


def describe_finish() -> dict[str, Any]:
    """The finishing stage's settings as ``describe_settings`` gives them, each default the
    studio's (``finish_defaults``), so the page's form starts where the HTTP API does."""
    described = describe_settings("finish", _finish_class())
    studio = finish_defaults()
    for s in described["settings"]:
        s["default"] = studio.get(s["name"], s["default"])
    return described


def _settings_of(settings_cls) -> list[dict[str, Any]]:
    hints = typing.get_type_hints(settings_cls)
    settings = []
    for (field, default, help_text, choices), f in zip(plugins.describe(settings_cls), dataclasses.fields(settings_cls)):
        hint = hints.get(field)
        settings.append({
            "name": field, "type": _type_name(hint), "default": list(default) if isinstance(default, tuple) else default,
            "help": help_text, "choices": list(choices) if choices else None,
            "bounds": list(f.metadata["bounds"]) if f.metadata.get("bounds") else None,
            "optional": type(None) in typing.get_args(hint), "path": bool(f.metadata.get("path"))})
    return settings


# --------------------------------------------------------------------------- middleware


#: the bodies the API's POST calls read (form fields and files)
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class Guard:
    """Pure ASGI middleware in front of every request: the Host must be this server's (no DNS
    rebinding), a browser request from another origin is refused (CORS is off, and this also
    stops cross-site form posts), the token is checked when there is one, and a body over
    ``max_bytes`` is refused, by its Content-Length at once or while it streams."""

    def __init__(self, app, config: Config):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self._refuse(scope, headers)
        if problem is not None:
            status, message = problem
            return await _send_json(send, status, message)
        body = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and body and body not in _FORM_TYPES:  # a JSON body reads as no fields
            return await _send_json(send, 415, f"this API takes multipart/form-data (curl -F field=value -F "
                                               f"image=@photo.png), not {body:.60}.")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.config.max_bytes:
            return await _send_json(send, 413, _too_large(self.config.max_bytes))
        seen = 0
        limit = self.config.max_bytes

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(_too_large(limit))
            return message

        return await self.app(scope, counted, send)

    def _refuse(self, scope, headers) -> tuple[int, str] | None:
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else host[1:].split("]")[0]
        allowed = set(LOCAL_HOSTS) | {self.config.host}
        if self.config.token is None and hostname and hostname not in allowed:
            return 403, f"the Host {host!r} is not this server's; open it as http://127.0.0.1:{self.config.port}/."
        origin = headers.get("origin")
        if origin and origin != "null":
            origin_host = origin.split("://", 1)[-1]
            if origin_host != host:
                return 403, f"requests from another site ({origin}) are refused; CORS is off."
        if self.config.token is not None:
            given = headers.get("authorization", "")
            given = given[7:] if given.lower().startswith("bearer ") else headers.get("x-compositor-token", "")
            if not given:
                cookie = headers.get("cookie", "")
                for part in cookie.split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "compositor_token":
                        given = v
            if not given and scope.get("path") == "/":
                query = scope.get("query_string", b"").decode("latin-1")
                for part in query.split("&"):
                    k, _, v = part.partition("=")
                    if k == "token":
                        from urllib.parse import unquote

                        given = unquote(v)
                        scope.setdefault("state", {})["set_token_cookie"] = given
            if not given:
                return 401, ("this server needs its token: send 'Authorization: Bearer TOKEN', or open the page "
                             "as /?token=TOKEN.")
            if not hmac.compare_digest(given.encode(), self.config.token.encode()):
                return 401, "the token is wrong."
        return None


def _too_large(limit: int) -> str:
    return f"the upload is over the server's limit of {limit / 1024 / 1024:g} MB (start it with --max-upload-mb to raise it)."


async def _send_json(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------- the app


def create_app(config: Config | None = None) -> FastAPI:
    """The studio's app for ``config``; ``app.state.store`` and ``app.state.pool`` hold its
    files and its workers, closed (the folder removed) when the app shuts down."""
    config = config or Config()
    store = Store(config.idle_seconds)
    pool = Pool(config.workers, config.queue)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        import asyncio

        async def sweeper():
            while True:
                await asyncio.sleep(min(60.0, max(1.0, config.idle_seconds / 4)))
                store.sweep()

        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            pool.close()
            store.close()

    app = FastAPI(title="compositor studio", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Cut an object out of a photo, paste it onto a background, harmonize the result. "
                              "Images are multipart uploads or ids of earlier uploads and results; results are PNG "
                              "or JSON; errors are JSON, {\"error\": \"one sentence\"}.")
    app.state.store, app.state.pool, app.state.config = store, pool, config
    app.add_middleware(Guard, config=config)
    limit = config.max_pixels

    # ---------------------------------------------------------------- errors
    def error_response(exc: BaseException) -> JSONResponse:
        status, message = classify(exc)
        headers = {"Retry-After": "2"} if status == 503 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def classify(exc: BaseException) -> tuple[int, str]:
        if isinstance(exc, CompositorError):
            status = (413 if isinstance(exc, TooLarge) else 404 if isinstance(exc, UnknownId)
                      else 503 if isinstance(exc, (Busy, ModelMissingError)) else 409 if isinstance(exc, Cancelled)
                      else 400 if isinstance(exc, UsageError) else 422)
            return status, store.label_errors(str(exc))
        if isinstance(exc, (ValueError, TypeError)):
            return 400, store.label_errors(str(exc).strip() or type(exc).__name__)
        log.exception("internal error", exc_info=exc)
        return 500, f"internal error: {type(exc).__name__} (the server's log has the details)."

    for cls in (CompositorError, ValueError, TypeError, Exception):
        app.add_exception_handler(cls, lambda request, exc: error_response(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form"))
        return JSONResponse({"error": f"{where or 'the request'}: {first.get('msg', 'is not valid')}."}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        if isinstance(exc.__cause__, BaseException) and not isinstance(exc.__cause__, StarletteHTTPException):
            return error_response(exc.__cause__)  # FastAPI wraps what failed while it read the body
        text = {404: f"there is nothing at {request.url.path}.", 405: f"{request.method} is not allowed on "
                f"{request.url.path}."}.get(exc.status_code, str(exc.detail))
        return JSONResponse({"error": text}, status_code=exc.status_code)

    # ---------------------------------------------------------------- inputs
    async def upload(file: UploadFile | None, ident: str | None, field: str, kind: str = "image") -> Entry:
        """The stored file a request names: an upload in ``field`` or an id in ``field_id``."""
        if file is not None and ident:
            raise UsageError(f"give {field} or {field}_id, not both.")
        if file is None:
            if not ident:
                raise UsageError(f"{field} is missing: upload a file as {field} or give {field}_id.")
            return store.get(ident, f"{field}_id")
        data = await file.read()
        if not data:
            raise UsageError(f"{field} ({_label(file.filename, field)}) is empty (0 bytes), not an image.")
        return await pool.run(f"reading {field}", _decoded_upload, data, _label(file.filename, f"{field}.png"), kind)

    def _decoded_upload(data: bytes, label: str, kind: str) -> Entry:
        return store.put_upload(data, label, kind, max_pixels=limit)

    def rgb(entry: Entry) -> np.ndarray:
        """An image entry as RGB (transparent pixels over white, as ``imageio.read_rgb``), made
        from the pixels decoded when it came, not decoded again."""
        from ..imageio import over_white

        return store.cached(entry, "rgb", lambda e: over_white(store.rgba(e)))

    def sticker(entry: Entry):
        from ..stickers import read_sticker

        return store.cached(entry, "sticker", lambda e: read_sticker(e.path, Path(e.label).stem, rgba=store.rgba(e)))

    # ---------------------------------------------------------------- page and files
    static = resources.files("compositor.server") / "static"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request):
        text = (static / "index.html").read_text(encoding="utf-8")
        response = HTMLResponse(text, headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                                       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})
        token = request.scope.get("state", {}).get("set_token_cookie")
        if token:
            response.set_cookie("compositor_token", token, httponly=True, samesite="strict")
        return response

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs():
        """The API's reference, drawn from /openapi.json by a script of this package (FastAPI's
        own page loads Swagger UI from a CDN; this one works offline)."""
        return HTMLResponse((static / "docs.html").read_text(encoding="utf-8"), headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"})

    @app.get("/api/health", tags=["server"])
    async def health():
        """Whether the server is up, its limits and how busy it is."""
        from importlib.metadata import PackageNotFoundError, version as dist_version

        from ..imageio import max_pixels

        try:
            version = dist_version("compositor")
        except PackageNotFoundError:
            version = "unknown"

        import sys

        return {"ok": True, "version": version, "tensorflow_loaded": "tensorflow" in sys.modules,
                "workers": pool.workers, "queue": pool.queue,
                "in_flight": pool.in_flight, "max_bytes": config.max_bytes, "max_pixels": limit or max_pixels(),
                "files": len(store)}

    @app.get("/api/plugins", tags=["plugins"])
    async def list_plugins():
        """Every cutter and harmonizer with its declared settings (type, default, help, choices,
        bounds): the same source as ``compositor harmonize --help``."""
        from ..cut import DEFAULT_METHOD
        from ..harmonizers import DEFAULT_BACKEND

        return {"cutters": [describe_plugin("cutter", n) for n in plugins.names("cutter")],
                "harmonizers": [describe_plugin("harmonizer", n) for n in plugins.names("harmonizer")],
                "finish": describe_finish(),
                "defaults": {"cutter": DEFAULT_METHOD, "harmonizer": DEFAULT_BACKEND}}

    @app.post("/api/uploads", tags=["files"])
    async def post_upload(file: UploadFile = File(..., description="an image, read by its content")):
        """Store an image for later calls; returns its id, size and where to fetch it."""
        entry = await upload(file, None, "file")
        return entry.public()

    @app.get("/api/files/{ident}", tags=["files"])
    async def get_file(ident: str = PathParam(description="the id of an upload or result this server gave")):
        """A stored upload or result (PNG or JSON), offered for download under its name."""
        entry = store.get(ident)
        return FileResponse(entry.path, media_type=entry.media_type, filename=entry.label)

    @app.get("/api/files/{ident}/preview", tags=["files"])
    async def get_preview(ident: str = PathParam(description="the id of an image this server holds"),
                          size: int = Query(1600, description="the preview's long side in px (64..4096)")):
        """A smaller PNG copy (long side ``size`` px, at most the image's own) for the page."""
        entry = store.get(ident)
        if not entry.width:
            raise UsageError(f"{entry.label} is not an image, so it has no preview.")
        size = int(min(max(size, 64), 4096))

        def make() -> bytes:
            from ..imageio import encode_png
            from ..ops.resize import resize, working_size

            def encode(e):
                pixels = store.peek(e, "rgb")  # a composite kept as RGB; else the pixels as they came
                pixels = store.rgba(e) if pixels is None else pixels
                return encode_png(resize(pixels, working_size(pixels.shape, size)), level=1)

            return store.cached(entry, f"preview{size}", encode)

        data = await pool.run("a preview", make)
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    # ---------------------------------------------------------------- pipeline
    @app.post("/api/cut", tags=["pipeline"])
    async def post_cut(image: UploadFile | None = File(None, description="the photo to cut from"),
                       image_id: str | None = Form(None, description="or the id of an earlier upload"),
                       method: str | None = Form(None, description="the cutter (default: the CLI's)"),
                       settings: str | None = Form(None, description="the cutter's settings, a JSON object"),
                       box: str | None = Form(None, description="X,Y,W,H in the photo's pixels")):
        """Cut objects out of a photo: each sticker (RGBA PNG) and its mask, best first."""
        from ..cut import DEFAULT_METHOD

        values = _json_field(settings, "settings")
        if box:
            values["box"] = _box(box)
        method = method or DEFAULT_METHOD
        from .. import api

        ready = api.cutter(method, **values)  # a bad setting is refused before the photo is read
        entry = await upload(image, image_id, "image")
        stem = Path(entry.label).stem

        def work():
            from .. import api

            t0 = time.perf_counter()
            stickers = api.cut(rgb(entry), ready)
            seconds = time.perf_counter() - t0
            out = []
            for i, s in enumerate(stickers, 1):
                name = f"{stem}-sticker{'' if len(stickers) == 1 else f'-{i}'}.png"
                sticker_entry = store.put_image(s.rgba, name, "sticker", keep=True)
                mask_entry = store.put_mask(s.alpha, name.replace("sticker", "sticker-mask"))
                out.append({"sticker": sticker_entry.public(), "mask": mask_entry.public(),
                            "box": list(s.source_box), "score": round(float(s.score), 4), "method": s.method})
            command = ["compositor", "cut", entry.label, "-o", f"{stem}-sticker.png", "--method", method]
            if box:
                command += ["--box", ",".join(str(v) for v in values["box"])]
            command += [f"--{k.replace('_', '-')}={_settings_text(v)}" for k, v in values.items() if k != "box"]
            return {"stickers": out, "seconds": round(seconds, 3), "photo": entry.public(),
                    "command": shlex.join(command)}

        return await pool.run("the cut", work)

    @app.post("/api/paste", tags=["pipeline"])
    async def post_paste(background: UploadFile | None = File(None, description="the background"),
                         background_id: str | None = Form(None, description="or the id of an earlier upload"),
                         stickers: list[UploadFile] | None = File(None, description="sticker files (RGBA), "
                                                                  "referred to by index in placements"),
                         placements: str = Form(..., description='a JSON list: [{"sticker": ID or index, "x": '
                                                '120 or "50%", "y": ..., "scale": 0.5 or "height": "40%", '
                                                '"rotation": 0, "anchor": "centre"|"bottom"}]')):
        """Paste stickers onto a background, in order (later ones cover earlier ones): the
        composite, its mask and sidecar, and the ``compositor paste`` command that makes them."""
        from .. import inputs
        from ..paste import where_text

        items = _json_field(placements, "placements", list)
        if not items:
            raise UsageError("placements is empty: give at least one sticker to paste.")
        bg = await upload(background, background_id, "background")
        files = [await upload(f, None, f"stickers[{i}]", "sticker") for i, f in enumerate(stickers or [])]
        chosen = []
        for i, item in enumerate(items):
            where = f"placements[{i}]"
            if not isinstance(item, dict):
                raise UsageError(f"{where} must be a JSON object; received {item!r:.60}.")
            ref = item.get("sticker")
            if isinstance(ref, int) and not isinstance(ref, bool):
                if not 0 <= ref < len(files):
                    raise UsageError(f"{where}.sticker is {ref}, but {len(files)} sticker file(s) were uploaded.")
                entry = files[ref]
            else:
                entry = store.get(ref, f"{where}.sticker")
            chosen.append((entry, {**item, "sticker": _STAND_IN}))
        # the fields checked now, before any work, by the library's one check (as api.compose does)
        checked = inputs.placements([item for _, item in chosen])

        def work():
            from .. import api, records

            files = command_files(bg, [e for e, _ in chosen])
            t0 = time.perf_counter()
            todo = [dataclasses.replace(p, sticker=sticker(e), name=p.name if item.get("name") else files[e.id].label)
                    for (e, item), p in zip(chosen, checked)]
            comp = api.paste(rgb(bg), todo)
            seconds = time.perf_counter() - t0
            # stored uncompressed: a composite and its mask are mostly read back from the cache, and
            # level 0 is the fastest lossless PNG (a download is a larger file on this machine only)
            # the command's outputs under names none of its inputs has (a download opened again as
            # the background is composite.png or result-reinhard.png): never refused, never overwritten
            inputs = sorted({bg.label, *(f.label for f in files.values())})
            composite_name = _free_name("composite.png", inputs)
            mask_name = _free_name("mask.png", [*inputs, composite_name])
            composite = store.put_image(comp.image, composite_name, "composite", keep=True, level=0, inputs=inputs)
            mask = store.put_mask(comp.mask, mask_name, level=0)
            # the sidecar compositor paste writes: the files by the names the command gives them, with the
            # sha256 of the bytes this server holds (the upload as sent, the sticker as offered for download)
            record = records.paste_record(_file_record(bg), [_file_record(files[e.id]) for e, _ in chosen],
                                          comp.objects, mask_name)
            sidecar = store.put_json(record, Path(composite_name).stem + ".json")
            composite.info["record"] = sidecar.id  # harmonize splits the mask by its boxes, as the CLI does
            specs = [files[e.id].label + "@" + where_text("50%" if p.x is None else p.x, "50%" if p.y is None else p.y,
                                                scale=p.scale, height=p.height, rotation=p.rotation, anchor=p.anchor)
                     for (e, _), p in zip(chosen, checked)]
            command = shlex.join(["compositor", "paste", bg.label, *specs, "-o", composite_name, "--mask-out",
                                  mask_name])
            return {"composite": composite.public(), "mask": mask.public(), "sidecar": sidecar.public(),
                    "objects": record["objects"], "stickers": [files[e.id].public() for e, _ in chosen],
                    "seconds": round(seconds, 3), "command": command}

        return await pool.run("the paste", work)

    def command_files(bg: Entry, entries: list[Entry]) -> dict[str, Entry]:
        """Each sticker of a paste under a file name of its own, for the command and the page's
        downloads: two stickers cut from one photo, or two uploads of one name, share a label,
        which the command could not tell apart. A sticker whose label is taken is kept again,
        the same bytes, as STEM-2.png (-3, ...)."""
        taken = {bg.label}
        files: dict[str, Entry] = {}
        for e in entries:
            if e.id in files:
                continue
            label = _free_name(e.label, taken, sidecars=False)
            taken.add(label)
            files[e.id] = e if label == e.label else store.put_upload(e.path.read_bytes(), label, "sticker")
        return files

    def mask_of(entry: Entry):
        """A mask for ``api.load_composite``: a mask this server made, as its 8-bit pixels (read
        as the file would be: 0/255 -> 0/1, soft levels / 255); an upload, as its file (all of
        ``imageio.read_mask``'s modes)."""
        if entry.info.get("made"):
            from PIL import Image

            return store.cached(entry, "mask8", lambda e: np.asarray(Image.open(e.path)))
        return entry.path

    def load(composite: Entry, mask: Entry, objects: str = "auto") -> Loaded:
        """The Composite a request names, its objects split as ``objects`` says (``auto``: by
        the record of this server's paste, else the whole mask), loaded once however many
        backends then run on it."""
        from .. import api

        record = None
        if objects == "auto" and composite.info.get("record"):
            try:
                record = store.get(composite.info["record"])
            except UnknownId:
                record = None
        how = str(record.path) if record is not None else ("union" if objects == "auto" else objects)
        return Loaded(api.load_composite(rgb(composite), mask_of(mask), how), composite, mask, record, how)

    def harmonize_work(job, loaded: Loaded, asked: Asked, measure: bool = True) -> dict:
        from .. import api, metrics, records

        comp, composite, mask, record, how = loaded
        backend, values, finish = asked.ready.name, asked.values, asked.finish
        result = api.harmonize(comp, asked.ready, progress=job, finish=asked.finishing)
        # a result answered as PNG at once is stored uncompressed (the fastest lossless write); one
        # the page fetches later is compressed (level 1)
        name = _free_name(f"result-{backend}.png", [*composite.info.get("inputs", ()), composite.label, mask.label])
        entry = store.put_image(result.image, name, "result", level=0 if not measure else 1)
        sidecar = store.put_json({"composite": {"path": composite.label}, "mask": {"path": mask.label},
                                  "objects": record.label if record is not None else how,
                                  **records.result_record(result)}, Path(name).stem + ".json")
        command = ["compositor", "harmonize", composite.label, "--mask", mask.label, "--backend", backend,
                   "-o", entry.label]
        if record is None:  # with a paste record beside composite.png, the command finds it as the server did
            command += ["--objects", how]
        for key, value in values.items():
            command += ["--set", f"{key}={_settings_text(value)}"]
        from ..cli.commands.harmonize import DEFAULTS as CLI_FINISH  # what the command does unless told
        from ..cli.options import FINISH_OPTIONS  # the command's own option names
        from ..finish import FinishSettings

        # the finishing the server used is written out (the studio's defaults, and every setting that is
        # not the stage's own default: one that does not apply, a light without a cast shadow, can only
        # be that), and the command's own defaults it did not use are pinned to the stage's, so the line
        # makes this image whatever harmonize's defaults
        stage = FinishSettings()
        pinned = {k: getattr(stage, k) for k in CLI_FINISH if k not in finish}
        for key, value in {**finish, **pinned}.items():
            if key in finish_defaults() or key in CLI_FINISH or value != getattr(stage, key):
                command += [FINISH_OPTIONS[key], _settings_text(value)]
        return {"result": entry.public(), "sidecar": sidecar.public(), "backend": backend,
                "seconds": round(result.seconds, 3), "settings": result.params,
                "objects": len(comp.objects) or 1, "finish": result.stats.get("finish"),
                "metrics": _finite(metrics.no_reference(result.image, comp.mask)) if measure else None,
                "command": shlex.join(command)}

    def check_harmonize(backend: str, values: dict, finish: dict | None = None, like: Asked | None = None) -> Asked:
        """The backend made ready and the finishing settings (the studio's defaults where not
        given) checked, once, before any work: a bad one is refused as itself. ``like``: a request
        whose finishing this one shares (compare's backends), as it was checked."""
        from .. import api
        from ..finish import make_finish_settings

        ready = api.harmonizer(backend, **values)
        if like is not None:
            return dataclasses.replace(like, ready=ready, values=values)
        finish = {**finish_defaults(), **(finish or {})}
        return Asked(ready, values, finish, make_finish_settings(finish))

    @app.post("/api/harmonize", tags=["pipeline"])
    async def post_harmonize(composite: UploadFile | None = File(None, description="the composite image"),
                             composite_id: str | None = Form(None, description="or the id of a paste result"),
                             mask: UploadFile | None = File(None, description="its mask (nonzero = object)"),
                             mask_id: str | None = Form(None, description="or the id of a paste's mask"),
                             backend: str | None = Form(None, description="the harmonizer (default: the CLI's)"),
                             settings: str | None = Form(None, description="the backend's settings, a JSON object"),
                             objects: str = Form("auto", description="what is corrected one by one: auto (the "
                                                 "objects of this server's paste, else the whole mask), union, "
                                                 "components"),
                             finish: str | None = Form(None, description="the finishing stage's settings, a JSON "
                                                       "object (match, shadow, light, ...); those not given are "
                                                       "`compositor compose`'s defaults (GET /api/plugins shows "
                                                       'them); {"match": "none", "shadow": "none"} turns it off'),
                             wait: bool = Form(True, description="false: return a job to poll (progress, cancel)"),
                             format: str = Form("json", description="json (ids, timings, numbers) or png (the "
                                                                    "image itself)")):
        """Harmonize a composite inside its mask. ``wait=false`` returns at once with a job
        (``GET /api/jobs/{id}`` for its progress and result, ``DELETE`` to cancel it)."""
        from ..harmonizers import DEFAULT_BACKEND

        if format not in ("json", "png"):
            raise UsageError(f"format must be json or png; received {format!r:.40}.")
        backend = backend or DEFAULT_BACKEND
        values = _json_field(settings, "settings")
        if objects not in ("auto", "union", "components"):
            raise UsageError(f"objects must be auto, union or components; received {objects!r:.40}.")
        asked = check_harmonize(backend, values, _json_field(finish, "finish"))
        comp_entry = await upload(composite, composite_id, "composite")
        mask_entry = await upload(mask, mask_id, "mask", "mask")
        if not wait:
            job = pool.submit(f"harmonizing with {backend}", lambda job: harmonize_work(
                job, load(comp_entry, mask_entry, objects), asked), classify)
            return JSONResponse(job.public(), status_code=202)
        out = await pool.run(f"harmonizing with {backend}", lambda: harmonize_work(
            None, load(comp_entry, mask_entry, objects), asked, format == "json"))
        if format == "png":
            return FileResponse(store.get(out["result"]["id"]).path, media_type="image/png",
                                headers={"X-Seconds": str(out["seconds"])})
        return out

    @app.get("/api/jobs/{ident}", tags=["jobs"])
    async def get_job(ident: str = PathParam(description="the id the harmonize call with wait=false gave")):
        """A background job's state, progress (step of total) and, when done, its result."""
        job = pool.job(ident)
        if job is None:
            raise UnknownId(f"job {ident:.40} is not known here (finished jobs are kept for a while only).")
        if job.state == "failed":
            return JSONResponse(job.public(), status_code=200)
        return job.public()

    @app.delete("/api/jobs/{ident}", tags=["jobs"])
    async def cancel_job(ident: str = PathParam(description="the id the harmonize call with wait=false gave")):
        """Cancel a job: at once if it is waiting, else at its next progress report."""
        job = pool.job(ident)
        if job is None:
            raise UnknownId(f"job {ident:.40} is not known here.")
        pool.cancel(job)
        return job.public()

    @app.post("/api/compose", tags=["pipeline"])
    async def post_compose(photo: UploadFile | None = File(None), photo_id: str | None = Form(None),
                           background: UploadFile | None = File(None), background_id: str | None = Form(None),
                           method: str | None = Form(None), cut_settings: str | None = Form(None),
                           at: str | None = Form(None, description="X,Y[,SIZE[,DEG]][,ANCHOR] as compose --at"),
                           backend: str | None = Form(None), settings: str | None = Form(None),
                           finish: str | None = Form(None, description="the finishing stage's settings, as "
                                                     "/api/harmonize's (default: compose's)"),
                           format: str = Form("json", description="json or png (the harmonized image)")):
        """Cut the best object from a photo, paste it on a background and harmonize it, as
        ``compositor compose``: the sticker, composite, mask, result and the record."""
        from ..cut import DEFAULT_METHOD
        from ..harmonizers import DEFAULT_BACKEND
        from ..paste import parse_where

        if format not in ("json", "png"):
            raise UsageError(f"format must be json or png; received {format!r:.40}.")
        method, backend = method or DEFAULT_METHOD, backend or DEFAULT_BACKEND
        cut_values, values = _json_field(cut_settings, "cut_settings"), _json_field(settings, "settings")
        where = parse_where(at, f"at {at}") if at else {}
        from .. import api

        ready_cut = api.cutter(method, **cut_values)
        asked = check_harmonize(backend, values, _json_field(finish, "finish"))
        photo_entry = await upload(photo, photo_id, "photo")
        bg_entry = await upload(background, background_id, "background")

        def work():
            from .. import api

            s, comp, result, record = api.compose(rgb(photo_entry), rgb(bg_entry), method=ready_cut,
                                                  backend=asked.ready, finish=asked.finishing,
                                                  background_file=bg_entry.path, **where)  # its JPEG tables
            record["inputs"] = {"photo": {"path": photo_entry.label}, "background": {"path": bg_entry.label}}
            out = {"sticker": store.put_image(s.rgba, "sticker.png", "sticker").public(),
                   "composite": store.put_image(comp.image, "composite.png", "composite").public(),
                   "mask": store.put_mask(comp.mask, "mask.png").public(),
                   "result": store.put_image(result.image, "harmonized.png", "result").public(),
                   "record": record}
            out["sidecar"] = store.put_json(record, "compose.json").public()
            return out

        out = await pool.run("the compose", work)
        if format == "png":
            return FileResponse(store.get(out["result"]["id"]).path, media_type="image/png")
        return out

    @app.post("/api/compare", tags=["pipeline"])
    async def post_compare(composite: UploadFile | None = File(None), composite_id: str | None = Form(None),
                           mask: UploadFile | None = File(None), mask_id: str | None = Form(None),
                           backends: str | None = Form(None, description="comma-separated (default: all)"),
                           settings: str | None = Form(None, description='{"backend": {"setting": value}}')):
        """Several harmonizers on one composite: each result with its seconds and the
        no-reference numbers (colour gap, contrast gap, seam ratio). The composite itself is
        the ``none`` row, shown once."""
        names = [b.strip() for b in (backends or ",".join(plugins.names("harmonizer"))).split(",") if b.strip()]
        if not names:
            raise UsageError("backends is empty; name at least one backend.")
        per = _json_field(settings, "settings")
        asked: dict[str, Asked] = {}
        for name in names:
            value = per.get(name, {})
            if not isinstance(value, dict):
                raise UsageError(f"settings.{name} must be a JSON object; received {value!r:.60}.")
            asked[name] = check_harmonize(name, value, like=next(iter(asked.values()), None))
        for name in per:
            if name not in names:
                raise UsageError(f"settings names the backend {name!r}, which is not among the backends that run.")
        comp_entry = await upload(composite, composite_id, "composite")
        mask_entry = await upload(mask, mask_id, "mask", "mask")

        def work():
            from .. import metrics

            loaded = load(comp_entry, mask_entry)
            comp = loaded.composite
            rows = [{"backend": "none", "ok": True, "seconds": 0.0, "result": comp_entry.public(),
                     "metrics": _finite(metrics.no_reference(comp.image, comp.mask))}]
            for name in names:
                if name == "none":
                    continue
                try:
                    out = harmonize_work(None, loaded, asked[name])
                    rows.append({"backend": name, "ok": True, **out})
                except CompositorError as exc:
                    rows.append({"backend": name, "ok": False, "error": store.label_errors(str(exc))})
            return {"rows": rows}

        return await pool.run("the comparison", work)

    return app


def _finite(values: dict) -> dict:
    return {k: (None if v is None or not np.isfinite(v) else round(float(v), 4)) for k, v in values.items()}
