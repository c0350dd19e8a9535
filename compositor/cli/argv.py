"""The command line as typed, made ready for argparse (negative number lists)."""
from __future__ import annotations

import re

_NEGATIVE_LIST = re.compile(r"-\.?\d[\d.eE+-]*(,[+-]?[\d.eE+-]*)+")
_NEGATIVE_EXPONENT = re.compile(r"-(\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # argparse's negative numbers have none


def join_negative_values(argv: list[str]) -> list[str]:
    """``argv`` with ``--rotation -45,45`` made ``--rotation=-45,45``: argparse takes a value
    that starts with '-' and is not a plain number for an option, so comma lists of numbers
    (rotation, box, placement) and numbers with an exponent (``--prior -1e308``) would need
    the ``=`` form otherwise. Everything after ``--`` is left as it is."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        if arg.startswith("--") and "=" not in arg and i + 1 < len(argv) and (
                _NEGATIVE_LIST.fullmatch(argv[i + 1]) or _NEGATIVE_EXPONENT.fullmatch(argv[i + 1])):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out
