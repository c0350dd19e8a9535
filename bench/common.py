"""What the benchmark scripts share: their argument parser and its common options, the
folder of photos and masks they score on, and the runs they start in fresh processes."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the script's docstring ``doc``."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def add_cases(p: argparse.ArgumentParser, *, limit: int | None, limit_help: str) -> None:
    """``--cases FOLDER`` (photos in images/, masks in masks/) and ``--limit N``."""
    p.add_argument("--cases", required=True, type=Path, help="folder with images/ and masks/")
    p.add_argument("--limit", type=int, default=limit, help=limit_help)


def cases(folder: Path, prog: str) -> list[tuple[Path, Path]]:
    """(photo, mask) pairs of ``folder``, by name: ``images/STEM.(jpg|png)`` with ``masks/STEM.png``;
    the script ``prog`` exits with a clear sentence if the layout is not there."""
    images, masks = folder / "images", folder / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise SystemExit(f"{prog}: {folder} has no images/ and masks/ folders.")
    pairs = [(p, masks / f"{p.stem}.png") for p in sorted(images.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    pairs = [(p, m) for p, m in pairs if m.is_file()]
    if not pairs:
        raise SystemExit(f"{prog}: {folder} has no photo in images/ with a mask of the same name in masks/.")
    return pairs


def add_runs(p: argparse.ArgumentParser, *, repeats: int, repeats_help: str) -> None:
    """``--size WxH``, ``--repeats N`` and the internal ``--one-run JSON`` (one run, in the fresh
    process ``fresh_run`` starts)."""
    p.add_argument("--size", default="640x480")
    p.add_argument("--repeats", type=int, default=repeats, help=repeats_help)
    p.add_argument("--one-run", metavar="JSON", help=argparse.SUPPRESS)


def one_run_here(args, one_run) -> bool:
    """With ``--one-run``, do that run in this process and print its JSON answer; True then."""
    if not args.one_run:
        return False
    print(json.dumps(one_run(json.loads(args.one_run))))
    return True


def fresh_run(script: str, spec: dict, label: str, what: str) -> dict:
    """``script --one-run SPEC`` in a fresh Python process: its JSON answer. Exits naming
    ``label`` if the process failed or any of its ``what`` (images, composites) did."""
    done = subprocess.run([sys.executable, script, "--one-run", json.dumps(spec)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{label}: the run failed:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if got["failed"]:
        raise SystemExit(f"{label}: {got['failed']} {what}(s) failed: {got['error']}")
    return got


def load_line(start: tuple, end: tuple) -> str:
    """The load average before and after, as the tables' headers print it."""
    return (f"load average (1/5/15 min) at start {start[0]:.2f}/{start[1]:.2f}/{start[2]:.2f}, "
            f"at end {end[0]:.2f}/{end[1]:.2f}/{end[2]:.2f}\n")
