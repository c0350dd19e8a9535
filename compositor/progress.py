"""The one progress bar the commands show (tqdm, on stderr)."""
from __future__ import annotations

import sys


def bar(total: int, *, desc: str, unit: str, quiet: bool = False, initial: int = 0, smoothing: float = 0.3,
        file=None):
    """A tqdm bar of ``total`` steps (``initial`` already done) on ``file`` (default stderr),
    resized with the terminal; None when ``quiet``. Callers update and close it."""
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=file or sys.stderr, dynamic_ncols=True,
                smoothing=smoothing)
