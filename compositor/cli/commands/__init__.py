"""The commands of ``compositor``, one module each.

Each module has ``add_parser(sub)``, which adds the command's subparser to the
subparsers ``sub``, and ``run(args) -> int``, which runs it and returns the exit code.
"""
from __future__ import annotations

#: The commands, in the order ``compositor --help`` lists them; each is the module of that name.
NAMES = ("cut", "paste", "harmonize", "compose", "compare", "serve", "bench", "batch", "synth", "models")
