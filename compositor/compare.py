"""Several harmonizers on one composite, side by side: images, timings, quality numbers.

``compare()`` runs each backend (a failure is recorded, the others still run) and
measures every result; ``write_report()`` writes ``<backend>.png`` for each,
``grid.png`` (labelled tiles, each with an enlarged crop of the seam), ``report.json``
and a self-contained ``index.html``.
"""
from __future__ import annotations

import base64
import html
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from . import metrics, plugins
from .errors import CompositorError
from .types import Composite


@dataclass
class Row:
    """One backend's outcome: its settings, seconds and metrics, its image, or the error that stopped it."""

    backend: str
    ok: bool
    seconds: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    image: np.ndarray | None = None

    def record(self) -> dict[str, Any]:
        """The row for ``report.json``: everything but the image, non-finite metrics as null."""
        return {"backend": self.backend, "ok": self.ok, "seconds": self.seconds, "settings": self.settings,
                "metrics": {k: _num(v) for k, v in self.metrics.items()}, "error": self.error}


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def compare(composite: Composite, backends: list[str], *, settings: dict[str, dict] | None = None,
            truth: np.ndarray | None = None, progress: Callable[[str], Any] | None = None) -> list[Row]:
    """Run each backend on ``composite`` with its ``settings`` (by backend name) and measure the
    results (against ``truth`` if given). Returns the rows, the composite itself first;
    ``progress(name)`` may return a progress bar for that backend."""
    settings = settings or {}
    rows = [Row("composite", True, 0.0, {}, _measure(composite.image, composite, truth), image=composite.image)]
    for name in backends:
        bar = progress(name) if progress else None
        try:
            cls = plugins.load("harmonizer", name)
            chosen = plugins.make_settings(cls, settings.get(name, {}))
            t0 = time.perf_counter()
            result = cls().harmonize(composite, chosen, bar)
            seconds = time.perf_counter() - t0
            rows.append(Row(name, True, seconds, result.params, _measure(result.image, composite, truth),
                            image=result.image))
        except CompositorError as exc:
            rows.append(Row(name, False, error=str(exc)))
        except Exception as exc:  # a broken backend must not stop the comparison; its reason is reported
            rows.append(Row(name, False, error=f"{type(exc).__name__}: {exc}",
                            settings={"traceback": traceback.format_exc(limit=3)}))
        finally:
            if bar is not None and hasattr(bar, "close"):
                bar.close()
    return rows


def _measure(image: np.ndarray, composite: Composite, truth: np.ndarray | None) -> dict[str, float]:
    out = metrics.no_reference(image, composite.mask)
    if truth is not None:
        out.update(metrics.with_reference(image, truth, composite.mask))
    return out


# --------------------------------------------------------------------------- grid


def seam_point(composite: Composite) -> tuple[int, int]:
    """The point (x, y) on the object's edge where the composite's colour jumps the most."""
    region = (composite.mask > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]) if contours else np.array([[0, 0]])
    blurred = cv2.GaussianBlur(composite.image.astype(np.float32), (0, 0), 1.0)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1)
    energy = (gx ** 2 + gy ** 2).sum(axis=2)
    energy = cv2.blur(energy, (9, 9))
    H, W = region.shape
    inner = pts[(pts[:, 0] > 2) & (pts[:, 0] < W - 3) & (pts[:, 1] > 2) & (pts[:, 1] < H - 3)]
    pts = inner if len(inner) else pts
    x, y = pts[int(np.argmax(energy[pts[:, 1], pts[:, 0]]))]
    return int(x), int(y)


def _label(tile: np.ndarray, lines: list[str]) -> np.ndarray:
    bar = np.full((22 * len(lines) + 6, tile.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bar, text, (6, 20 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def grid(rows: list[Row], composite: Composite, tile_width: int = 360) -> np.ndarray:
    """One RGB uint8 image: a labelled tile a row, side by side, each the image ``tile_width`` px
    wide over a 4x-ish enlarged crop around the seam (``seam_point``); failed rows say so."""
    H, W = composite.image.shape[:2]
    th = round(H * tile_width / W)
    cx, cy = seam_point(composite)
    half = max(16, min(H, W) // 10)
    x0, y0 = int(np.clip(cx - half, 0, max(0, W - 2 * half))), int(np.clip(cy - half, 0, max(0, H - 2 * half)))
    x1, y1 = min(W, x0 + 2 * half), min(H, y0 + 2 * half)
    tiles = []
    for row in rows:
        if row.ok and row.image is not None:
            small = cv2.resize(row.image, (tile_width, th), interpolation=cv2.INTER_AREA)
            # where the crop comes from
            sx, sy = tile_width / W, th / H
            cv2.rectangle(small, (int(x0 * sx), int(y0 * sy)), (int(x1 * sx), int(y1 * sy)), (255, 255, 0), 1)
            crop = cv2.resize(row.image[y0:y1, x0:x1], (tile_width, tile_width), interpolation=cv2.INTER_NEAREST)
            body = np.concatenate([small, np.full((4, tile_width, 3), 255, np.uint8), crop], axis=0)
            secs = "input" if row.backend == "composite" else f"{row.seconds:.2f} s"
            gap = row.metrics.get("color_gap")
            lines = [f"{row.backend}  {secs}", f"color gap {gap:.1f}  seam {row.metrics.get('seam_ratio', float('nan')):.2f}"]
            if "fmse" in row.metrics:
                lines.append(f"fMSE {row.metrics['fmse']:.1f}  PSNR {row.metrics['psnr']:.1f}")
        else:
            body = np.full((th + 4 + tile_width, tile_width, 3), 235, np.uint8)
            cv2.putText(body, "failed", (12, th // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (200, 0, 0), 2, cv2.LINE_AA)
            lines = [f"{row.backend}  FAILED", (row.error or "")[:40]]
        tiles.append(_label(body, lines))
    height = max(t.shape[0] for t in tiles)
    tiles = [np.concatenate([t, np.full((height - t.shape[0], tile_width, 3), 255, np.uint8)]) for t in tiles]
    sep = np.full((height, 8, 3), 255, np.uint8)
    out = [tiles[0]]
    for t in tiles[1:]:
        out += [sep, t]
    return np.concatenate(out, axis=1)


# --------------------------------------------------------------------------- report

_COLUMNS = [("seconds", "seconds"), ("color_gap", "colour gap (ΔE)"), ("contrast_gap", "contrast gap"),
            ("seam_ratio", "seam ratio"), ("mse", "MSE"), ("fmse", "fMSE"), ("bmse", "bMSE"), ("psnr", "PSNR"),
            ("ssim", "SSIM")]


def _png_data_uri(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def html_report(rows: list[Row], grid_image: np.ndarray, title: str) -> str:
    """A self-contained HTML page: the table of rows and the grid image inlined as a PNG."""
    have = {k for r in rows for k in r.metrics} | {"seconds"}
    cols = [(k, label) for k, label in _COLUMNS if k in have]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = []
    for r in rows:
        if not r.ok:
            body.append(f'<tr class="failed"><td>{html.escape(r.backend)}</td>'
                        f'<td colspan="{len(cols)}">failed: {html.escape(r.error or "")}</td></tr>')
            continue
        cells = []
        for key, _ in cols:
            v = r.seconds if key == "seconds" else r.metrics.get(key)
            cells.append("<td>–</td>" if v is None or not np.isfinite(v) else f"<td>{v:.4g}</td>")
        body.append(f"<tr><td>{html.escape(r.backend)}</td>{''.join(cells)}</tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.failed td {{ color: #b00; text-align: left; }}
img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Lower is better for the gaps, the seam ratio (about 1 = no visible seam), MSE, fMSE and bMSE;
higher for PSNR and SSIM. The first row is the composite before harmonization.</p>
<table id="results"><thead><tr><th>backend</th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<img id="grid" alt="results side by side, each with an enlarged crop of the seam" src="{_png_data_uri(grid_image)}">
</body></html>
"""


def write_report(outdir: Path, rows: list[Row], composite: Composite, *, inputs: dict[str, Any],
                 title: str = "compositor: harmonizers compared") -> dict[str, Any]:
    """Write ``<backend>.png`` for each successful row, ``grid.png``, ``report.json`` and
    ``index.html`` into ``outdir`` (all or none); returns the report written to JSON."""
    from .imageio import write_all, write_image, write_json, write_text

    outdir = Path(outdir)
    grid_image = grid(rows, composite)
    report = {"inputs": inputs, "rows": [r.record() for r in rows]}
    page = html_report(rows, grid_image, title)
    writes = [(outdir / f"{r.backend}.png", (lambda r=r: write_image(outdir / f"{r.backend}.png", r.image)))
              for r in rows[1:] if r.ok]
    writes += [(outdir / "grid.png", lambda: write_image(outdir / "grid.png", grid_image)),
               (outdir / "report.json", lambda: write_json(outdir / "report.json", report)),
               (outdir / "index.html", lambda: write_text(outdir / "index.html", page))]
    write_all(writes)
    return report


__all__ = ["compare", "write_report", "grid", "html_report", "Row"]
