"""Several harmonizers on one composite, side by side: images, timings, quality numbers.

``compare()`` runs each backend (a failure is recorded, the others still run) and
measures every result; ``write_report()`` writes ``composite.png``, ``<backend>.png`` for
each, ``grid.png`` (labelled tiles, each with an enlarged crop of the seam), ``report.json``
and ``index.html`` (the table with numbers written for people, a before/after slider per
backend, each full-size image linked; ``none`` shown once, as the composite).
"""
from __future__ import annotations

import html
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from . import api, metrics
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
            ready = api.harmonizer(name, **settings.get(name, {}))
            t0 = time.perf_counter()
            result = api.harmonize(composite, ready, progress=bar)
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

_COLUMNS = [("seconds", "time"), ("color_gap", "colour gap (ΔE)"), ("contrast_gap", "contrast gap"),
            ("seam_ratio", "seam ratio"), ("mse", "MSE"), ("fmse", "fMSE"), ("bmse", "bMSE"), ("psnr", "PSNR (dB)"),
            ("ssim", "SSIM")]


def human_seconds(v: float | None) -> str:
    """Seconds as people read them: "under 1 ms", "45 ms", "1.24 s", "12.3 s", "2 min 5 s"."""
    if v is None or not np.isfinite(v):
        return "–"
    if v < 0.001:
        return "under 1 ms"
    if v < 1:
        return f"{v * 1000:.0f} ms"
    if v < 10:
        return f"{v:.2f} s"
    if v < 60:
        return f"{v:.1f} s"
    return f"{int(v // 60)} min {round(v % 60)} s"


def human_number(key: str, v: float | None) -> str:
    """A metric as people read it: no exponents; thousands grouped; SSIM to 3 decimals;
    values near 0 as "0" rather than 6.3e-05."""
    if v is None or not np.isfinite(v):
        return "–"
    if key == "seconds":
        return human_seconds(v)
    if key == "ssim":
        return f"{v:.3f}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01:
        return f"{v:.2f}"
    return "0" if a < 0.0005 else f"{v:.3f}"


def shown_rows(rows: list[Row]) -> list[Row]:
    """The rows a report shows: ``none`` (the composite as it is) is the composite row itself,
    so it is shown once, as the composite, when both are there and equal."""
    first = rows[0] if rows and rows[0].backend == "composite" else None
    return [r for r in rows if not (first is not None and r.backend == "none" and r.ok and r.image is not None
                                    and np.array_equal(r.image, first.image))]


def _label_of(row: Row, rows: list[Row]) -> str:
    if row.backend == "composite" and any(r.backend == "none" for r in rows) and len(shown_rows(rows)) < len(rows):
        return "composite (none)"
    return row.backend


_PAGE_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.failed td { color: #b00; text-align: left; }
.cards { display: flex; flex-wrap: wrap; gap: 16px; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 8px; width: 560px; max-width: 100%; }
.card h2 { font-size: 16px; margin: 0 0 6px; display: flex; justify-content: space-between; }
.ba { position: relative; overflow: hidden; line-height: 0; }
.ba img { width: 100%; display: block; }
.ba .after { position: absolute; top: 0; left: 0; height: 100%; width: 50%; overflow: hidden; border-right: 2px solid #fff; }
.ba .after img { height: 100%; width: auto; max-width: none; }
.ba .tag { position: absolute; top: 4px; background: rgba(0,0,0,.6); color: #fff; font-size: 11px; line-height: 1.4; padding: 1px 5px; border-radius: 3px; }
.card input[type=range] { width: 100%; }
.card p { margin: 4px 0; font-size: 13px; }
"""

_PAGE_SCRIPT = """
for (const card of document.querySelectorAll('.card')) {
  const range = card.querySelector('input[type=range]');
  const after = card.querySelector('.after');
  const base = card.querySelector('.ba > img');
  if (!range || !after) continue;
  const fit = () => { after.querySelector('img').style.width = base.getBoundingClientRect().width + 'px'; };
  range.addEventListener('input', () => { after.style.width = range.value + '%'; });
  base.addEventListener('load', fit); window.addEventListener('resize', fit); fit();
}
"""


def html_report(rows: list[Row], title: str, size: tuple[int, int], grid_file: str = "grid.png") -> str:
    """An HTML page over the files ``write_report`` writes beside it: the table of rows with
    numbers written for people, then a card per backend with a before/after slider over the
    composite and a link to each full-size image (``composite.png``, ``<backend>.png``);
    ``none`` shown once, as the composite. ``size`` is the images' (width, height)."""
    shown = shown_rows(rows)
    have = {k for r in rows for k in r.metrics} | {"seconds"}
    cols = [(k, label) for k, label in _COLUMNS if k in have]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    body = []
    for r in shown:
        name = html.escape(_label_of(r, rows))
        if not r.ok:
            body.append(f'<tr class="failed"><td>{name}</td>'
                        f'<td colspan="{len(cols)}">failed: {html.escape(r.error or "")}</td></tr>')
            continue
        cells = []
        for key, _ in cols:
            v = r.seconds if key == "seconds" else r.metrics.get(key)
            text = "input" if key == "seconds" and r.backend == "composite" else human_number(key, v)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append(f"<tr><td>{name}</td>{''.join(cells)}</tr>")
    w, h = size
    cards = []
    for r in shown:
        name = _label_of(r, rows)
        if not r.ok:
            continue
        file = "composite.png" if r.backend == "composite" else f"{r.backend}.png"
        link = f'<a href="{html.escape(file)}">{html.escape(file)}</a> (full size, {w}×{h} px)'
        numbers = " · ".join(f"{label} {human_number(k, r.metrics.get(k))}" for k, label in cols
                             if k != "seconds" and k in r.metrics)
        if r.backend == "composite":
            picture = f'<div class="ba"><a href="{html.escape(file)}"><img src="{html.escape(file)}" alt="composite"></a></div>'
            timing = "the input"
        else:
            picture = (f'<div class="ba"><img src="composite.png" alt="before">'
                       f'<div class="after"><img src="{html.escape(file)}" alt="after: {html.escape(name)}"></div>'
                       f'<span class="tag" style="left:4px">after: {html.escape(name)}</span>'
                       f'<span class="tag" style="right:4px">before</span></div>'
                       f'<input type="range" min="0" max="100" value="50" aria-label="before and after">')
            timing = human_seconds(r.seconds)
        cards.append(f'<div class="card" id="card-{html.escape(r.backend)}"><h2><span>{html.escape(name)}</span>'
                     f'<span>{html.escape(timing)}</span></h2>{picture}<p>{numbers}</p><p>{link}</p></div>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_PAGE_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Lower is better for the gaps, the seam ratio (about 1 = no visible seam), MSE, fMSE and bMSE;
higher for PSNR and SSIM. The first row is the composite before harmonization (what <code>none</code>
gives). Drag a slider to compare a result with the composite; each picture links to its full-size file.</p>
<table id="results"><thead><tr><th>backend</th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<div class="cards">
{chr(10).join(cards)}
</div>
<p>All results side by side, each with an enlarged crop of the seam: <a href="{html.escape(grid_file)}">{html.escape(grid_file)}</a></p>
<script>{_PAGE_SCRIPT}</script>
</body></html>
"""


def write_report(outdir: Path, rows: list[Row], composite: Composite, *, inputs: dict[str, Any],
                 title: str = "compositor: harmonizers compared") -> dict[str, Any]:
    """Write ``composite.png``, ``<backend>.png`` for each successful row, ``grid.png``,
    ``report.json`` and ``index.html`` into ``outdir`` (all or none); returns the report
    written to JSON."""
    from .imageio import write_all, write_image, write_json, write_text

    outdir = Path(outdir)
    grid_image = grid(shown_rows(rows), composite)
    report = {"inputs": inputs, "rows": [r.record() for r in rows]}
    H, W = composite.image.shape[:2]
    page = html_report(rows, title, (W, H))
    images = [composite.image, *(r.image for r in rows[1:] if r.ok), grid_image]  # in report_files' order
    writes = [(outdir / name, lambda name=name, image=image: write_image(outdir / name, image))
              for name, image in zip(report_files(report), images)]
    writes += [(outdir / "report.json", lambda: write_json(outdir / "report.json", report)),
               (outdir / "index.html", lambda: write_text(outdir / "index.html", page))]
    write_all(writes)
    return report


def report_files(report: Any) -> list[str]:
    """The names of the files ``write_report`` writes beside the ``report`` it returns (or an
    earlier run's report.json, read back): composite.png, <backend>.png for each backend that
    ran, grid.png, report.json, index.html."""
    rows = report.get("rows") if isinstance(report, dict) else None
    tiles = [f"{r['backend']}.png" for r in (rows if isinstance(rows, list) else [])[1:]
             if isinstance(r, dict) and r.get("ok") is True and isinstance(r.get("backend"), str)]
    return ["composite.png", *tiles, "grid.png", "report.json", "index.html"]


def read_report(outdir: Path) -> dict[str, Any] | None:
    """The report.json an earlier compare left in ``outdir``, or None (none there, or unreadable)."""
    import json

    try:
        report = json.loads((Path(outdir) / "report.json").read_text())
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return None
    return report if isinstance(report, dict) else None


def stale_files(outdir: Path, before: dict[str, Any] | None, after: dict[str, Any], keep=(),
                written_by: int | None = None) -> list[Path]:
    """The files the earlier report ``before`` lists in ``outdir`` that the report ``after`` does
    not (the tiles of backends this run did not make): plain files directly inside ``outdir``,
    none that is one of ``keep`` (the run's inputs). ``written_by``: the earlier report.json's
    status-change time (ns, st_ctime_ns: it was renamed into place after the tiles); a file
    modified or changed after it (a user's file put in a tile's place, even moved there with an
    old modification time) is not the earlier run's and is kept."""
    import os

    written = set(report_files(after))
    out = []
    for name in report_files(before) if before else []:
        path = Path(outdir) / name
        if name in written or Path(name).name != name or "\\" in name or not path.is_file() or path.is_symlink():
            continue
        if any(os.path.exists(k) and os.path.samefile(path, k) for k in keep):
            continue
        if written_by is not None and max(path.stat().st_mtime_ns, path.stat().st_ctime_ns) > written_by:
            continue
        out.append(path)
    return out


__all__ = ["compare", "write_report", "report_files", "read_report", "stale_files", "grid", "html_report", "shown_rows",
           "human_number", "human_seconds", "Row"]
