"""plugins: the --set parser, and plugins.convert (a CLI string or a typed value -> the field's type)."""
from __future__ import annotations

from typing import Optional

import pytest

from compositor.errors import UsageError
from compositor.plugins import check_range, convert, parse_set


# ----------------------------------------------------------------------------- parse_set

def test_parse_set_plain():
    assert parse_set(["iterations=10", " max-size =256", "style=a=b.png", "empty="]) == \
        {"iterations": "10", "max_size": "256", "style": "a=b.png", "empty": ""}
    assert parse_set(None) == {} and parse_set([]) == {}
    assert parse_set(["k= v "]) == {"k": " v "}
    assert parse_set(["k= v "], strip=True) == {"k": "v"}


def test_parse_set_scoped():
    assert parse_set(["vgg19.iterations=20", "vgg19.prior=3", " poisson . mode=mixed"], scoped=True) == \
        {"vgg19": {"iterations": "20", "prior": "3"}, "poisson": {"mode": "mixed"}}


@pytest.mark.parametrize("item, scoped, words", [
    ("novalue", False, "--set expects KEY=VALUE; received 'novalue'."),
    ("iterations=3", True, "--set expects BACKEND.KEY=VALUE; received 'iterations=3'."),
    ("vgg19.iterations", True, "--set expects BACKEND.KEY=VALUE; received 'vgg19.iterations'."),
])
def test_parse_set_refuses_malformed_items(item, scoped, words):
    with pytest.raises(UsageError) as info:
        parse_set([item], scoped=scoped)
    assert str(info.value) == words


# ----------------------------------------------------------------------------- check_range

def test_check_range_bounds_and_types():
    import numpy as np

    check_range(5, 0, 10, "n")
    check_range(np.int64(5), 0, None, "n", integer=True)
    check_range(np.float32(0.5), 0.0, 1.0, "f", integer=False)
    check_range(3, None, None, "f", integer=False)
    for value, integer, words in ((11, None, "n must be between 0 and 10; received 11."),
                                  (float("nan"), None, "n must be a finite number; received nan."),
                                  (True, True, "n must be a whole number; received True."),
                                  (2.0, True, "n must be a whole number; received 2.0."),
                                  ("3", False, "n must be a finite number; received '3'."),
                                  (float("inf"), False, "n must be a finite number; received inf."),
                                  (np.bool_(True), False, "n must be a finite number; received")):
        with pytest.raises(UsageError) as info:
            check_range(value, 0, 10, "n", integer=integer)
        assert str(info.value).startswith(words), info.value


# ----------------------------------------------------------------------------- convert

@pytest.mark.parametrize("raw, hint, expected", [
    ("3", int, 3),
    ("-2", int, -2),
    ("2.5", float, 2.5),
    ("1e-3", float, 0.001),
    ("yes", bool, True), ("ON", bool, True), ("1", bool, True), ("true", bool, True),
    ("no", bool, False), ("off", bool, False), ("0", bool, False), ("False", bool, False),
    ("mixed", str, "mixed"),
    ("none", int | None, None), ("", int | None, None), ("None", Optional[str], None),
    ("4", int | None, 4), ("a.png", str | None, "a.png"), (None, float | None, None),
    ("1,2,3", tuple[int, ...], (1, 2, 3)),
    ("a, b,", tuple[str, ...], ("a", "b")),
    ([60, 10, 430, 380], tuple[int, ...], (60, 10, 430, 380)),
    ("60,10,430,380", tuple[int, int, int, int] | None, (60, 10, 430, 380)),
    (2.0, int, 2),  # a whole float (JSON) is taken as an int
    (7, float, 7),  # typed values other than a float for an int pass as they are
    (True, bool, True),
])
def test_convert(raw, hint, expected):
    value = convert(raw, hint, "x.k")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("raw, hint, message", [
    ("maybe", bool, "x.k must be true or false; received 'maybe'."),
    ("3.5", int, "x.k must be a whole number; received '3.5'."),
    ("ten", float, "x.k must be a number; received 'ten'."),
    (2.5, int, "x.k must be a whole number; received 2.5."),
    ("1,b", tuple[int, ...], "x.k must be a whole number; received 'b'."),
])
def test_convert_refuses(raw, hint, message):
    with pytest.raises(UsageError) as info:
        convert(raw, hint, "x.k")
    assert str(info.value) == message
