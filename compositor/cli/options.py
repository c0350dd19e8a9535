"""Options and argument types that several commands share, and their checks at run time."""
from __future__ import annotations

import argparse
import textwrap

from .. import plugins
from ..errors import UsageError


class Formatter(argparse.RawDescriptionHelpFormatter):
    """The help layout of every command: descriptions and epilogs kept as written."""


def command(sub, name: str, doc: str | None) -> argparse.ArgumentParser:
    """Add the command ``name`` to the subparsers ``sub``, its texts taken from its module's
    docstring ``doc``: the first line, after the ``: ``, is the one-line help; the paragraphs
    after it are the description ``NAME --help`` shows, as they are wrapped there."""
    first, _, rest = (doc or "").strip().partition("\n")
    summary = first.partition(": ")[2].rstrip(".") or name
    return sub.add_parser(name, formatter_class=Formatter, help=summary, description=textwrap.dedent(rest).strip() or None)


def box(text: str) -> tuple[int, ...]:
    """``X,Y,W,H`` -> a box of four whole numbers (argparse type); anything else is an ArgumentTypeError."""
    try:
        values = tuple(int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):  # not a number, or inf
        raise argparse.ArgumentTypeError(f"box must be X,Y,W,H in pixels; received {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"box must be four numbers X,Y,W,H; received {text!r}")
    if any(abs(v) > 10**7 for v in values):
        raise argparse.ArgumentTypeError(f"box must be X,Y,W,H in pixels, each within 10000000; received {text!r}")
    return values


def at(text: str) -> dict:
    """``X,Y[,SIZE[,DEG]][,ANCHOR]`` -> the placement's keywords (argparse type; see ``paste.parse_where``)."""
    from ..paste import parse_where

    try:
        return parse_where(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: the rule every command that writes a folder follows, as its --help says it
OUTDIR_RULE = ("a new or empty folder: one that already holds files is refused, so nothing in it is replaced")


def add_force(p: argparse.ArgumentParser, more: str = "") -> None:
    """Add ``--force`` to a command that writes into a folder (``OUTDIR_RULE``); ``more``: what
    else the command's --force does there, appended to the help."""
    p.add_argument("--force", action="store_true",
                   help="write into an output folder that is not empty, replacing this command's own files there "
                        "(other files are left alone)" + more)


def add_traceback(p: argparse.ArgumentParser) -> None:
    """Add ``--traceback`` to a command, so that it may follow the command's name too."""
    p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full stack on errors")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Add the options of a command that harmonizes one image: ``--set``, snapshots, ``-q``."""
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any backend setting, e.g. --set iterations=10")
    p.add_argument("--snapshot-every", type=int, default=0, metavar="K",
                   help="save the image every K iterations (iterative backends)")
    p.add_argument("--snapshot-dir", help="where snapshots go (default: beside the output, OUTPUT_snapshots/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_traceback(p)


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """Add the options of a command that runs several harmonizers: ``--backends``, scoped ``--set``."""
    p.add_argument("--backends", default=",".join(plugins.names("harmonizer")),
                   help="comma-separated backends (default: all registered: %(default)s)")
    p.add_argument("--set", action="append", metavar="BACKEND.KEY=VALUE",
                   help="a backend setting, e.g. --set vgg19.iterations=20 (repeatable)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Add the options of a command that runs many jobs (batch, synth): the output folder,
    workers, threads, executor, resume, ``-q``."""
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help=f"the run folder: {OUTDIR_RULE}; --resume continues the run an earlier command left in it")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: 1, in this process; with --executor ray: one per CPU)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="math-library threads (OpenCV, onnxruntime, TensorFlow) per worker (default: the cores "
                        "shared out between the workers, so one worker uses them all; with Ray: 1). "
                        "--threads 1 makes throughput grow with --workers up to the number of cores")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local processes, or Ray actors (default: local)")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="Ray cluster to join (e.g. auto, ray://head:10001); default: a local Ray for the run")
    p.add_argument("--resume", action="store_true",
                   help="continue a run in OUTDIR: skip jobs whose outputs are complete and verified")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; failures and the summary only")
    add_traceback(p)


def backends(text: str) -> list[str]:
    """``--backends`` text -> the backend names; empty or unknown names are a UsageError."""
    names = [b.strip() for b in text.split(",") if b.strip()]
    if not names:
        raise UsageError("--backends is empty; name at least one backend.")
    known = plugins.names("harmonizer")
    for b in names:
        if b not in known:
            raise UsageError(f"unknown backend {b!r} in --backends; available: {', '.join(known)}.")
    twice = sorted({b for b in names if names.count(b) > 1})
    if twice:
        raise UsageError(f"--backends names {', '.join(twice)} more than once; name each backend once.")
    return names


def backend_settings(items: list[str] | None, backends: list[str] | None = None) -> dict[str, dict]:
    """``--set BACKEND.KEY=VALUE`` items -> {backend: {key: value}}; with ``backends``, each
    one is checked against the backends that will run, and its values are validated now,
    before any work (UsageError)."""
    settings = plugins.parse_set(items, scoped=True)
    if backends is not None:
        for name, values in settings.items():
            if name not in backends:
                raise UsageError(f"--set names the backend {name!r}, which is not among the backends that run "
                                 f"({', '.join(backends)}).")
            from .. import api

            api.harmonizer(name, **values)
    return settings


#: The finishing stage's options: field of FinishSettings -> option.
FINISH_OPTIONS = {"match": "--match", "shadow": "--shadow", "light": "--light", "shadow_opacity": "--shadow-opacity",
                  "shadow_softness": "--shadow-softness", "seed": "--finish-seed"}


def add_finish_options(p: argparse.ArgumentParser, defaults: dict | None = None) -> None:
    """Add the finishing stage's options (``--match``, ``--shadow``, ``--light``, ...) to a command,
    their help and bounds taken from ``FinishSettings``; ``defaults`` overrides the stage's own
    defaults for this command."""
    from ..finish import FinishSettings

    defaults = defaults or {}
    group = p.add_argument_group("finishing (realism beyond colour, after the harmonizer)")
    metavars = {"match": "LIST", "light": "AZ,EL", "shadow_opacity": "X", "shadow_softness": "X", "seed": "N"}
    for name, default, help_text, choices in plugins.describe(FinishSettings):
        shown = defaults.get(name, default)
        group.add_argument(FINISH_OPTIONS[name], dest=f"finish_{name}", default=None, choices=choices,
                           metavar=metavars.get(name), help=f"{help_text} (default: {shown})")
    p.set_defaults(finish_defaults=dict(defaults))


def finish_values(args) -> dict:
    """The finishing stage's settings a command was given (its defaults where not), checked:
    a bad value is refused in one sentence naming the option, before any work."""
    from ..finish import make_finish_settings

    values = dict(getattr(args, "finish_defaults", {}) or {})
    for name in FINISH_OPTIONS:
        given = getattr(args, f"finish_{name}", None)
        if given is not None:
            values[name] = given
    try:
        make_finish_settings(values)
    except UsageError as exc:
        text = str(exc)
        for name in sorted(FINISH_OPTIONS, key=len, reverse=True):
            text = text.replace(f"finish.{name}", FINISH_OPTIONS[name])
        raise UsageError(text) from None
    return values
