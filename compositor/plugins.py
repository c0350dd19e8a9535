"""Plugin discovery through entry points (``compositor.cutters``, ``compositor.harmonizers``).

Listing names imports nothing. The command line loads every plugin's class to offer its
settings as options, so a plugin module imports only what describing its settings needs,
and heavy libraries (TensorFlow above all) inside the functions that use them. A plugin that fails to load is
reported with its name and the reason; the others keep working.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import sys
import types
import typing
from importlib.metadata import entry_points

from .errors import CompositorError, UsageError

GROUPS = {"cutter": "compositor.cutters", "harmonizer": "compositor.harmonizers"}


def _entry_points(kind: str) -> dict:
    """{name: entry point} of the group ``kind``, sorted by name. Reading the installed
    packages' metadata takes milliseconds and the command line asks often, so the table is
    kept per ``sys.path`` (a folder added to it can bring new plugins)."""
    return _table(GROUPS[kind], tuple(sys.path))


@functools.lru_cache(maxsize=8)
def _table(group: str, path: tuple[str, ...]) -> dict:
    eps = entry_points(group=group)
    return {ep.name: ep for ep in sorted(eps, key=lambda e: e.name)}


def names(kind: str) -> list[str]:
    """Registered plugin names, without importing them."""
    return list(_entry_points(kind))


def load(kind: str, name: str):
    """The plugin class registered as ``name``; a clear error if unknown or broken."""
    eps = _entry_points(kind)
    if name not in eps:
        known = ", ".join(eps) or "none (is the package installed? run `pip install -e .`)"
        raise UsageError(f"unknown {kind} {name!r}; available: {known}.")
    try:
        cls = eps[name].load()
    except Exception as exc:  # a third-party plugin can fail in any way; name it and go on
        raise CompositorError(f"the {kind} plugin {name!r} ({eps[name].value}) failed to load: {exc}") from exc
    for attr in ("name", "Settings"):
        if not hasattr(cls, attr):
            raise CompositorError(f"the {kind} plugin {name!r} ({eps[name].value}) has no {attr!r} attribute.")
    return cls


@dataclasses.dataclass(frozen=True)
class Ready:
    """A plugin made ready to run (``ready``): an instance of the plugin ``name`` of ``kind``
    and its checked settings."""

    kind: str
    name: str
    plugin: typing.Any
    settings: typing.Any


def ready(kind: str, name: str, values: dict | None = None, *, default_seed: int | None = None) -> Ready:
    """The one way from (kind, name, values) to a plugin that can run: the plugin loaded, its
    settings made from ``values`` (text converted, each value checked, then the plugin's own
    ``validate()``; checked here once), an instance made. ``default_seed`` fills in the
    ``seed`` setting when ``values`` leave it unset and the plugin has one (batch and synth
    give each job its own)."""
    cls = load(kind, name)
    values = dict(values or {})
    if default_seed is not None and "seed" not in values and \
            any(f.name == "seed" for f in dataclasses.fields(cls.Settings)):
        values["seed"] = default_seed
    return Ready(kind, name, cls(), make_settings(cls, values))


def make_settings(cls, values: dict | None = None):
    """Build ``cls.Settings`` from a dict, converting strings and validating each value."""
    return build_settings(cls.Settings, cls.name, values)


def build_settings(settings_cls, owner: str, values: dict | None = None):
    """``settings_cls`` from a dict of values (a key's '-' read as '_', text converted to each
    field's type), checked by ``ready_settings``; errors name ``owner`` and ``owner.field``.
    Plugins (``make_settings``) and the finishing stage's settings are made here."""
    values = dict(values or {})
    hints = _hints(settings_cls)
    fields = {f.name: f for f in dataclasses.fields(settings_cls)}
    kwargs = {}
    for key, raw in values.items():
        if not isinstance(key, str):
            raise UsageError(f"{owner}: a setting's name must be text; received {key!r}.")
        key = key.replace("-", "_")
        if key not in fields:
            known = f"its settings are {', '.join(fields)}" if fields else "it has no settings"
            raise UsageError(f"{owner} has no setting {key!r}; {known}.")
        kwargs[key] = convert(raw, hints[key], f"{owner}.{key}")
    return ready_settings(settings_cls, settings_cls(**kwargs), owner)


@functools.lru_cache(maxsize=None)
def _hints(settings_cls) -> dict:
    """The resolved type of each field of ``settings_cls`` (read once per class: it is slow)."""
    return typing.get_type_hints(settings_cls)


#: the attribute that marks a frozen settings object as checked (it cannot change, so it stays valid)
_CHECKED = "_compositor_checked"


def ready_settings(settings_cls, settings=None, owner: str = ""):
    """``settings`` (None: ``settings_cls()``) once its fields pass their declared checks
    (``check_fields``, messages naming ``owner.field``) and its own ``validate()``, where it
    has one, passes too. A settings object that passed is marked, and passes again without
    being checked twice (``make_settings`` checks; the plugin it is given to does not again)."""
    if settings is None:
        settings = settings_cls()
    elif getattr(settings, _CHECKED, False):
        return settings
    check_fields(settings, owner)
    check = getattr(settings, "validate", None)
    if check:
        check()
    params = getattr(type(settings), "__dataclass_params__", None)
    if params is not None and params.frozen:  # one that can change is checked each time
        try:
            object.__setattr__(settings, _CHECKED, True)
        except AttributeError:  # __slots__: checked each time too
            pass
    return settings


def check_fields(settings, owner: str = "") -> None:
    """Enforce what each field of a settings dataclass declares through ``setting()``: a bool
    is True or False, a value with ``choices`` is one of them, a number with ``bounds`` is
    finite, of the field's kind (int: whole) and within them. None passes where the field's
    type allows it. Raises a UsageError naming the field (as ``owner.field`` with an owner)."""
    hints = _hints(type(settings))
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        label = f"{owner}.{f.name}" if owner else f.name
        hint = hints.get(f.name)
        if value is None and _allows_none(hint):
            continue
        base = _without_none(hint)
        if base is bool and not isinstance(value, (bool, type(None))) and type(value).__name__ != "bool_":
            raise UsageError(f"{label} must be true or false; received {value!r}.")
        choices = f.metadata.get("choices")
        if choices is not None:
            check_choice(value, choices, label)
        bounds = f.metadata.get("bounds")
        if bounds is not None:
            check_range(value, bounds[0], bounds[1], label, integer=base is int if base in (int, float) else None)


def _allows_none(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _without_none(hint):
    if _allows_none(hint):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0] if len(inner) == 1 else hint
    return hint


def convert(raw, hint, label: str):
    """Convert a CLI string (or an already typed value) to the field's type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return convert(raw, inner[0], label)
    if origin is tuple:
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(convert(i.strip() if isinstance(i, str) else i, args[0], label) for i in items if i != "")
    if not isinstance(raw, str):
        if hint is bool and isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw in (0, 1):
            return bool(raw)  # JSON manifests often write switches as 0/1
        if hint is int and isinstance(raw, float):
            if not raw.is_integer():
                raise UsageError(f"{label} must be a whole number; received {raw!r}.")
            return int(raw)
        return raw
    try:
        if hint is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(hint, f"a {hint.__name__}")
        raise UsageError(f"{label} must be {kind}; received {raw!r}.") from None
    return raw


def parse_set(items, *, scoped: bool = False, strip: bool = False, option: str = "--set") -> dict:
    """``KEY=VALUE`` texts (``--set``) -> {key: value}; with ``scoped``, ``SCOPE.KEY=VALUE``
    (a backend's setting) -> {scope: {key: value}}. Keys and scopes are stripped and a key's
    '-' is read as '_'; values stay text (stripped with ``strip``) for ``make_settings`` to
    convert. A malformed item, or a key given twice with two values, raises a UsageError
    naming ``option`` and the item."""
    out: dict = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        scope, dot, key = key.partition(".") if scoped else ("", ".", key)
        if not sep or not dot:
            raise UsageError(f"{option} expects {'BACKEND.' if scoped else ''}KEY=VALUE; received {item!r}.")
        target = out.setdefault(scope.strip(), {}) if scoped else out
        name, value = key.strip().replace("-", "_"), value.strip() if strip else value
        if name in target and target[name] != value:  # the last one would win without a word
            raise UsageError(f"{option} gives {(scope.strip() + '.') if scoped else ''}{name} twice, as "
                             f"{target[name]!r} and {value!r}; give each setting once.")
        target[name] = value
    return out


def describe(settings_cls) -> list[tuple[str, object, str, tuple | None]]:
    """(name, default, help, choices) for each field, for building CLI options; the help
    ends with the declared bounds, e.g. "(0..1)" or "(>= 1e-12)"."""
    out = []
    for f in dataclasses.fields(settings_cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "")
        shown = _bounds_text(f.metadata.get("bounds"))
        out.append((f.name, default, f"{help_text} ({shown})" if shown else help_text, f.metadata.get("choices")))
    return out


def _bounds_text(bounds) -> str:
    """Declared bounds as the help shows them: "0..1", ">= 32", "<= 10", or "" for none."""
    lo, hi = bounds if bounds is not None else (None, None)
    if lo is not None and hi is not None:
        return f"{lo:g}..{hi:g}"
    if lo is not None or hi is not None:
        return f">= {lo:g}" if lo is not None else f"<= {hi:g}"
    return ""


def setting(default, help: str, choices: tuple | None = None, *, bounds: tuple | None = None, path=None,
            selects: bool = False):
    """A settings field with its help text (shown by the CLI) and what a value may be.

    ``choices``: the values allowed. ``bounds``: (low, high) for a number, either None for
    no bound; an int field also takes only whole numbers, a float field only finite ones.
    Both are enforced in one place, ``check_fields`` (through ``ready_settings``), so a
    plugin's ``validate()`` keeps only the checks that involve several fields or files.
    ``path`` marks a setting whose value names a file or folder (so a manifest's relative
    value resolves against the manifest's folder): True, or a test ``path(value) -> bool``
    for settings that also take names or URLs. None and "none" are never paths.
    ``selects`` marks a setting that names its plugin: given on the command line without
    naming a plugin (``compositor cut --cascade catface``), it chooses this plugin."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if bounds is not None:
        meta["bounds"] = tuple(bounds)
    if path is not None:
        meta["path"] = path
    if selects:
        meta["selects"] = True
    return dataclasses.field(default=default, metadata=meta)


def bounds(settings_cls, name: str) -> tuple | None:
    """The (low, high) bounds declared for field ``name`` of ``settings_cls``, or None."""
    field = {f.name: f for f in dataclasses.fields(settings_cls)}.get(name)
    return None if field is None else field.metadata.get("bounds")


def selecting(settings_cls) -> list[str]:
    """The names of the fields of ``settings_cls`` marked ``selects`` (see ``setting``)."""
    return [f.name for f in dataclasses.fields(settings_cls) if f.metadata.get("selects")]


def path_value(cls, key: str, value) -> bool:
    """Whether ``value`` of ``cls``'s setting ``key`` names a file or folder (see ``setting``)."""
    field = {f.name: f for f in dataclasses.fields(cls.Settings)}.get(key)
    test = field.metadata.get("path") if field is not None else None
    if not test or not isinstance(value, str) or value.strip().lower() in ("", "none"):
        return False
    return True if test is True else bool(test(value.strip()))


def check_choice(value, choices, label: str) -> None:
    """Refuse ``value`` unless it is one of ``choices``, naming ``label``."""
    if value not in choices:
        raise UsageError(f"{label} must be one of {', '.join(map(str, choices))}; received {value!r}.")


def check_range(value, lo, hi, label: str, *, integer: bool | None = None) -> None:
    """Refuse ``value`` unless it is finite and within [lo, hi] (None: no bound), naming ``label``.
    ``integer`` checks the type too: True, a whole number (an int, not a bool); False, any
    finite int or float (not a bool); None (default), no type check."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) > 2 ** 63:
        digits = len(str(abs(int(value))))  # math.isfinite of it would raise OverflowError
        raise UsageError(f"{label} must be a number of reasonable size; received a {digits}-digit number.")
    if integer is not None:
        kind = numbers.Integral if integer else numbers.Real
        if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, kind) \
                or not math.isfinite(value):
            raise UsageError(f"{label} must be a {'whole' if integer else 'finite'} number; received {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{label} must be a finite number; received {value}.")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")
        raise UsageError(f"{label} must be {bounds}; received {value}.")
