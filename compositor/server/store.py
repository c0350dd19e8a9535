"""The server's files: uploads and results, kept in one temporary folder per server.

Every file is named by a random id the server makes (32 hex digits), never by anything a
client sends, so no client text reaches the file system. Uploads are decoded by their
content (Pillow reads the bytes; the name and the declared type are ignored), with the
command line's pixel limit. The folder is removed when the server stops, and a file
nobody has used for ``idle_seconds`` is removed before then.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CompositorError, UsageError

ID = re.compile(r"^[0-9a-f]{32}$")


class TooLarge(UsageError):
    """A request body or an image over the server's limits (HTTP 413)."""


class UnknownId(UsageError):
    """An id that names no file of this server (never made, or removed after its idle time)."""


@dataclass
class Entry:
    """One stored file: what it is (``image``, ``mask``, ``sticker``, ``json``), how a message
    names it (``label``), its pixel size, and when it was last used."""

    id: str
    path: Path
    kind: str
    label: str
    width: int = 0
    height: int = 0
    media_type: str = "image/png"
    used: float = field(default_factory=time.monotonic)
    info: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """What a client is told about the file: id, kind, size, and where to fetch it."""
        out = {"id": self.id, "kind": self.kind, "label": self.label, "url": f"/api/files/{self.id}"}
        if self.width:
            out.update(width=self.width, height=self.height, preview=f"/api/files/{self.id}/preview")
        return out


class Store:
    """The per-server folder of uploads and results (see the module's docstring)."""

    def __init__(self, idle_seconds: float = 3600.0, root: str | os.PathLike | None = None,
                 cache_bytes: int = 128 * 1024 * 1024):
        self.folder = Path(tempfile.mkdtemp(prefix="compositor-serve-", dir=root))
        self.idle_seconds = idle_seconds
        self.cache_bytes = cache_bytes
        self._entries: dict[str, Entry] = {}
        self._cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    # -------------------------------------------------------------- ids and files
    def new_path(self, suffix: str = ".png") -> tuple[str, Path]:
        """A fresh id and the path its file will have."""
        ident = secrets.token_hex(16)
        return ident, self.folder / f"{ident}{suffix}"

    def add(self, entry: Entry) -> Entry:
        """Keep ``entry`` (its file already written)."""
        with self._lock:
            self._entries[entry.id] = entry
        return entry

    def get(self, ident: str, field_name: str = "id") -> Entry:
        """The entry ``ident`` names; an UnknownId naming ``field_name`` otherwise."""
        if not isinstance(ident, str) or not ID.match(ident):
            raise UnknownId(f"{field_name} must be an id this server gave (32 hex digits); received {ident!r:.60}.")
        with self._lock:
            entry = self._entries.get(ident)
            if entry is None:
                raise UnknownId(f"{field_name} {ident} is not known here: it was never made, or was removed after "
                                f"{self.idle_seconds:g} s unused; upload the file again.")
            entry.used = time.monotonic()
            return entry

    def cached(self, entry: Entry, what: str, make) -> Any:
        """``make(entry)`` (a decoded array, or bytes), kept for the next call with the same entry
        and ``what`` while the entry lives, the least recently used dropped first beyond
        ``cache_bytes`` in all, so memory stays bounded however many files come and go."""
        key = (entry.id, what)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make(entry)
        size = _size(value)
        with self._lock:
            if entry.id in self._entries and key not in self._cache and size <= self.cache_bytes:
                self._cache[key] = value
                self._cached_bytes += size
                while self._cached_bytes > self.cache_bytes:
                    _, old = self._cache.popitem(last=False)
                    self._cached_bytes -= _size(old)
        return value

    def label_errors(self, message: str) -> str:
        """``message`` with this folder's paths replaced by the labels of the files they are,
        so no server path reaches a client."""
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            message = message.replace(str(entry.path), entry.label)
        return message.replace(str(self.folder) + os.sep, "").replace(str(self.folder), "the server's folder")

    # -------------------------------------------------------------- writing
    def put_upload(self, data: bytes, label: str, kind: str = "image", max_pixels: int | None = None) -> Entry:
        """Store uploaded bytes, decode them by content (``imageio.read_rgba``, the CLI's checks)
        and keep them; a file that is not an image is refused and removed, and one whose header
        declares more than ``max_pixels`` (default: the CLI's limit) is refused before it is
        decoded (``TooLarge``)."""
        from ..imageio import TooManyPixels, max_pixels as cli_limit, read_rgba

        ident, path = self.new_path("")
        path.write_bytes(data)
        entry = Entry(ident, path, kind, label)
        try:
            rgba = read_rgba(path, max_pixels or cli_limit())
        except CompositorError as exc:
            path.unlink(missing_ok=True)
            raise (TooLarge if isinstance(exc, TooManyPixels) else type(exc))(str(exc).replace(str(path), label)) \
                from None
        entry.height, entry.width = rgba.shape[:2]
        entry.info["alpha"] = bool((rgba[..., 3] < 255).any())
        self.add(entry)
        self.cached(entry, "rgba", lambda e: rgba)  # its RGB, sticker and preview are made from these pixels
        return entry

    def rgba(self, entry: Entry) -> np.ndarray:
        """An image entry's pixels as RGBA: the ones decoded when it came, while the cache holds
        them, else read again (at its own size, which was accepted then)."""
        from ..imageio import read_rgba

        return self.cached(entry, "rgba", lambda e: read_rgba(e.path, max(1, e.width * e.height)))

    def peek(self, entry: Entry, what: str) -> Any:
        """What the cache holds for ``entry`` and ``what``, or None (nothing is made)."""
        with self._lock:
            return self._cache.get((entry.id, what))

    def put_image(self, pixels: np.ndarray, label: str, kind: str = "image", *, keep: bool = False, level: int = 1,
                  **info) -> Entry:
        """Write ``pixels`` (RGB, RGBA or gray uint8) as a PNG (zlib ``level``) and keep it; with
        ``keep``, the array stays in the cache too (a composite, harmonized next; a sticker, pasted
        next), so it is not decoded again."""
        from ..imageio import encode_png

        ident, path = self.new_path(".png")
        path.write_bytes(encode_png(pixels, level))
        entry = self.add(Entry(ident, path, kind, label, pixels.shape[1], pixels.shape[0], info=info))
        if keep and pixels.ndim == 3:
            self.cached(entry, "rgb" if pixels.shape[2] == 3 else "rgba", lambda e: pixels)
        return entry

    def put_mask(self, mask: np.ndarray, label: str, level: int = 1, **info) -> Entry:
        """Write a float mask as the 8-bit PNG ``compositor paste --mask-out`` writes (its levels
        as ``imageio.write_mask`` rounds them) and keep it, its 8-bit pixels cached."""
        from ..imageio import encode_png, mask_levels

        levels = mask_levels(mask)
        ident, path = self.new_path(".png")
        path.write_bytes(encode_png(levels, level))
        entry = self.add(Entry(ident, path, "mask", label, mask.shape[1], mask.shape[0], info={"made": True, **info}))
        self.cached(entry, "mask8", lambda e: levels)
        return entry

    def put_json(self, data: Any, label: str) -> Entry:
        """Write ``data`` as JSON (as sidecars are written) and keep it."""
        from ..imageio import write_json

        ident, path = self.new_path(".json")
        write_json(path, data)
        return self.add(Entry(ident, path, "json", label, media_type="application/json"))

    # -------------------------------------------------------------- clean-up
    def sweep(self, now: float | None = None) -> int:
        """Remove the files unused for ``idle_seconds``; returns how many went."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [e for e in self._entries.values() if now - e.used > self.idle_seconds]
            for e in old:
                del self._entries[e.id]
                for key in [k for k in self._cache if k[0] == e.id]:
                    self._cached_bytes -= _size(self._cache.pop(key))
        for e in old:
            e.path.unlink(missing_ok=True)
            for extra in self.folder.glob(f"{e.id}.*"):
                extra.unlink(missing_ok=True)
        return len(old)

    def close(self) -> None:
        """Remove the folder and everything in it."""
        with self._lock:
            self._entries.clear()
            self._cache.clear()
            self._cached_bytes = 0
        shutil.rmtree(self.folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._entries)


def _size(value: Any) -> int:
    """The bytes a cached value holds (an array's buffer, a bytes object, a sticker's pixels)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    rgba = getattr(value, "rgba", None)
    return rgba.nbytes if isinstance(rgba, np.ndarray) else 1024
