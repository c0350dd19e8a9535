"""plugins: the --set parser, and plugins.convert (a CLI string or a typed value -> the field's type)."""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Optional

import pytest

from compositor.errors import UsageError
from compositor.plugins import bounds, check_range, convert, load, names, parse_set, ready_settings, setting


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
    (1, bool, True), (0, bool, False), (1.0, bool, True),  # JSON manifests write switches as 0/1 too
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


# ----------------------------------------------------------------------------- the plugin base classes


def _composite():
    import numpy as np

    from compositor.types import Composite

    mask = np.zeros((20, 30), np.float32)
    mask[5:15, 10:20] = 1
    return Composite(image=np.full((20, 30, 3), 100, np.uint8), mask=mask)


def test_harmonizer_base_validates_checks_times_and_builds_the_result():
    import dataclasses

    import numpy as np

    from compositor.harmonizers.base import Harmonizer, Output
    from compositor.plugins import setting

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class BrighterSettings:
        gain: float = setting(1.0, "a gain")

        def validate(self) -> None:
            check_range(self.gain, 0, 2, "gain")

    class Brighter(Harmonizer):
        name = "brighter"
        Settings = BrighterSettings

        def run(self, composite, settings, progress, region):
            assert region is not None and region.sum() == 100
            return Output(np.clip(composite.image * settings.gain, 0, 255).astype(np.uint8), {"n": 1})

    comp = _composite()
    result = Brighter().harmonize(comp, BrighterSettings(gain=2.0))
    assert result.backend == "brighter" and result.params == {"gain": 2.0} and result.stats == {"n": 1}
    assert int(result.image[0, 0, 0]) == 200
    assert Brighter().harmonize(comp).params == {"gain": 1.0}
    with pytest.raises(UsageError, match="gain"):
        Brighter().harmonize(comp, BrighterSettings(gain=5.0))
    empty = dataclasses.replace(comp, mask=np.zeros_like(comp.mask))
    with pytest.raises(UsageError, match="brighter: the composite's mask is empty"):
        Brighter().harmonize(empty)


def test_cutter_base_clips_the_box_before_run():
    import numpy as np

    from compositor.cut.base import CutSettings, Cutter

    seen = []

    class Recorder(Cutter):
        name = "recorder"
        Settings = CutSettings

        def run(self, image, settings, box):
            seen.append(box)
            return []

    image = np.zeros((20, 30, 3), np.uint8)
    Recorder().cut(image)
    Recorder().cut(image, CutSettings(box=(-5, 2, 20, 40)))
    assert seen == [None, (0, 2, 15, 18)]
    with pytest.raises(UsageError, match="box"):
        Recorder().cut(image, CutSettings(box=(1, 2, 3)))


# ----------------------------------------------------------------------------- declared checks

@dataclass(frozen=True, kw_only=True)
class _Declared:
    count: int = setting(3, "a whole number", bounds=(1, 10))
    share: float = setting(0.5, "a fraction", bounds=(0.0, 1.0))
    rate: Optional[float] = setting(None, "none, or a positive number", bounds=(1e-6, None))
    kind: str = setting("a", "a letter", ("a", "b"))
    flag: bool = setting(False, "a switch")
    validated: list = dataclasses.field(default_factory=list)

    def validate(self) -> None:
        self.validated.append(True)


@pytest.mark.parametrize("values, message", [
    ({"count": 0}, "count must be between 1 and 10; received 0."),
    ({"count": 2.5}, "count must be a whole number; received 2.5."),
    ({"count": True}, "count must be a whole number; received True."),
    ({"share": float("nan")}, "share must be a finite number; received nan."),
    ({"share": 1.5}, "share must be between 0.0 and 1.0; received 1.5."),
    ({"rate": 0.0}, "rate must be >= 1e-06; received 0.0."),
    ({"kind": "c"}, "kind must be one of a, b; received 'c'."),
    ({"flag": "yes"}, "flag must be true or false; received 'yes'."),
    ({"flag": 2}, "flag must be true or false; received 2."),
])
def test_declared_choices_and_bounds_are_enforced_in_one_place(values, message):
    with pytest.raises(UsageError) as err:
        ready_settings(_Declared, _Declared(**values))
    assert str(err.value) == message


def test_declared_checks_pass_good_values_and_then_run_validate():
    settings = ready_settings(_Declared, _Declared(count=10, share=0.0, rate=None, kind="b", flag=True))
    assert settings.validated == [True]
    assert bounds(_Declared, "count") == (1, 10) and bounds(_Declared, "kind") is None


@pytest.mark.parametrize("kind", ["cutter", "harmonizer"])
def test_every_built_in_numeric_setting_declares_its_bounds(kind):
    """Ranges are declared in the fields, so the CLI, the API and manifests all refuse the same values."""
    missing = []
    for name in names(kind):
        cls = load(kind, name)
        hints = typing.get_type_hints(cls.Settings)
        for field in dataclasses.fields(cls.Settings):
            hint = hints[field.name]
            numeric = hint in (int, float) or hint == Optional[float] or hint == Optional[int]
            if numeric and field.metadata.get("bounds") is None:
                missing.append(f"{name}.{field.name}")
    assert missing == []


def test_a_plugin_names_itself_in_a_refused_setting():
    cls = load("harmonizer", "reinhard")
    with pytest.raises(UsageError, match=r"^reinhard\.strength must be between 0\.0 and 1\.0; received 2\.0\.$"):
        cls().harmonize(None, cls.Settings(strength=2.0))
    with pytest.raises(UsageError, match=r"^reinhard\.ring must be a whole number; received 2\.5\.$"):
        ready_settings(cls.Settings, cls.Settings(ring=2.5), "reinhard")
