"""The ``compositor`` command's argparse definition. Static: the same parser for any argv.

Every command's options, and every plugin's settings as options, are defined up front
(``settings.add_settings``); which of them apply is checked when the command runs. Listing
plugins imports no TensorFlow: plugin modules import their heavy libraries when they run.
"""
from __future__ import annotations

import argparse
import importlib

from ..errors import UsageError
from .commands import NAMES
from .options import Formatter
from .settings import reread_plugins
from .version import version

EPILOG = """examples:
  compositor cut samples/coffee.png -o out/cup.png
  compositor paste samples/chelsea.png out/cup.png@120,230,0.35 -o out/comp.png --mask-out out/mask.png
  compositor harmonize out/comp.png --mask out/mask.png --backend vgg19 -o out/harmonized.png
  compositor compose samples/coffee.png samples/chelsea.png --at 120,230,0.35 -o out/demo
  compositor models fetch

Exit codes: 0 done, 1 failure (unreadable input, missing weights), 2 usage error,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP, a closed terminal);
an interrupted command removes what it had written."""


class Parser(argparse.ArgumentParser):
    """Parse errors become one-sentence UsageErrors (exit 2) instead of a usage dump."""

    def error(self, message: str):
        """Raise the UsageError ``PROG: MESSAGE.`` (argparse calls this on any parse error)."""
        raise UsageError(f"{self.prog}: {message.rstrip('.')}.")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``compositor``: global options and one subparser per command
    (``commands.NAMES``), each added by its module's ``add_parser``."""
    reread_plugins()
    parser = Parser(
        prog="compositor", formatter_class=Formatter, epilog=EPILOG,
        description="Cut an object out of a photo, paste it onto a background, and harmonize the result.")
    parser.add_argument("--traceback", action="store_true", help="show the full stack on errors")
    parser.add_argument("--version", action="version", version=f"compositor {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in NAMES:
        importlib.import_module(f"{__package__}.commands.{name}").add_parser(sub)
    return parser
