"""Plugin settings as command-line options, in a parser that does not depend on argv.

Every registered plugin's settings (``plugins.describe``) become options of the commands
that take that kind of plugin: one option per setting name, shared by the plugins that
have it (its help says which take it; its choices are theirs together). Which plugin runs
is known only after parsing, so ``plugin_settings`` then checks the options given against
that plugin's own settings. A plugin that fails to load adds no options; the command that
uses it reports why.
"""
from __future__ import annotations

import argparse
import functools
from typing import NamedTuple

from .. import plugins
from ..errors import UsageError

class _Variant(NamedTuple):
    """One plugin's version of a setting."""
    plugin: str
    default: object
    help: str
    choices: tuple | None
    selects: bool


def flag(field: str) -> str:
    """The option of the setting ``field``: ``max_size`` -> ``--max-size``."""
    return "--" + field.replace("_", "-")


def _and(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _shown(default) -> object:
    """A default as the help shows it: a tuple as comma-separated text, anything else as is."""
    return ",".join(map(str, default)) if isinstance(default, tuple) else default


def _loaded(kind: str) -> list[tuple[str, type, list]]:
    """(name, Settings class, its ``plugins.describe`` rows) of each registered plugin of
    ``kind`` that loads, in name order."""
    return list(_described(kind, tuple(plugins.names(kind))))


@functools.lru_cache(maxsize=8)
def _described(kind: str, names: tuple[str, ...]) -> tuple:
    """``_loaded``'s rows, read once per parser (``reread_plugins``): several commands ask."""
    out = []
    for name in names:
        try:
            settings_cls = plugins.load(kind, name).Settings
            rows = plugins.describe(settings_cls)
        except Exception:  # a plugin can fail in any way; the command that uses it says why
            continue
        out.append((name, settings_cls, rows))
    return tuple(out)


def reread_plugins() -> None:
    """Forget the plugins read so far, so that the next parser reads them again (a parser is
    built once per command; the plugins cannot change while it runs)."""
    _described.cache_clear()


def _table(kind: str) -> dict[str, list[_Variant]]:
    """Each setting name of ``kind``'s plugins -> the plugins' versions of it, in plugin name order."""
    table: dict[str, list[_Variant]] = {}
    for name, settings_cls, rows in _loaded(kind):
        selecting = set(plugins.selecting(settings_cls))
        for row in rows:
            field, default, help_text, choices = row[:4]
            table.setdefault(field, []).append(_Variant(name, default, help_text, choices, field in selecting))
    return table


def _help(variants: list[_Variant], chooser: str) -> str:
    """The option's help: the setting's help and default, prefixed with the plugins that
    take it when several do (one sentence per distinct help and default)."""
    by_text: dict[tuple[str, str], list[str]] = {}
    for v in variants:
        by_text.setdefault((v.help, str(_shown(v.default))), []).append(v.plugin)
    selecting = [v.plugin for v in variants if v.selects]
    selects = f"; without {chooser}, it selects {' or '.join(selecting)}" if selecting else ""
    if len(variants) == 1:
        ((help_text, shown),) = by_text
        text = f"{help_text} (default: {shown}{selects})"
    else:
        text = ". ".join(f"{', '.join(names)}: {help_text} (default: {shown})"
                         for (help_text, shown), names in by_text.items()) + (f" ({selects[2:]})" if selects else "")
    return text.replace("%", "%%")


def _add_option(group, field: str, variants: list[_Variant], chooser: str) -> None:
    """Add the option of setting ``field`` to ``group``: a flag pair for a switch, else a
    value with the plugins' choices together; not given, it is absent from the namespace.
    An option name the command already has is left to ``--set``."""
    text = _help(variants, chooser)
    switches = [isinstance(v.default, bool) for v in variants]
    choices = None
    if all(v.choices for v in variants):
        choices = list(dict.fromkeys(c for v in variants for c in v.choices))
    try:
        if all(switches):
            group.add_argument(flag(field), dest=f"set_{field}", action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=text)
        elif any(switches):  # a switch for one plugin, a value for another: the value is optional
            group.add_argument(flag(field), dest=f"set_{field}", nargs="?", const="true", default=argparse.SUPPRESS,
                               choices=choices, metavar=field.upper() if not choices else None, help=text)
        else:
            group.add_argument(flag(field), dest=f"set_{field}", default=argparse.SUPPRESS, choices=choices,
                               metavar=field.upper() if not choices else None, help=text)
    except argparse.ArgumentError:  # clashes with one of the command's own options
        pass


def add_settings(parser: argparse.ArgumentParser, kind: str, chooser: str) -> None:
    """Add to ``parser`` the settings of every plugin of ``kind`` ("cutter", "harmonizer")
    as options: first a group of the settings several plugins share, then one group per
    plugin for its own (naming the shared ones it takes too). ``chooser`` is the option
    that names the plugin (``--method``, ``--backend``), for the help of selecting options."""
    table = _table(kind)
    shared = [field for field, variants in table.items() if len(variants) > 1]
    if shared:
        group = parser.add_argument_group(f"settings of several {kind}s (defaults shown; "
                                          f"the names in front say which {kind}s take each)")
        for field in shared:
            _add_option(group, field, table[field], chooser)
    owners = dict.fromkeys(v.plugin for variants in table.values() for v in variants)
    for name in sorted(owners):
        also = [flag(f) for f in shared if any(v.plugin == name for v in table[f])]
        group = parser.add_argument_group(f"{name} {kind} settings (defaults shown)",
                                          f"also: {', '.join(also)} (above)" if also else None)
        for field, variants in table.items():
            if len(variants) == 1 and variants[0].plugin == name:
                _add_option(group, field, variants, chooser)


def selector_help(kind: str) -> str:
    """"; --OPTION selects NAME" for each setting marked ``selects`` by a plugin of ``kind``
    (for the help of ``--method``), or ""."""
    return "".join(f"; {flag(field)} selects {name}" for name, settings_cls, _ in _loaded(kind)
                   for field in plugins.selecting(settings_cls))


def given(args: argparse.Namespace) -> dict:
    """The settings given on the command line, {name: value}: the setting options and the
    ``--set KEY=VALUE`` items. A setting given both ways with different values is a UsageError
    (neither silently wins). Values stay as typed, for ``make_settings``."""
    out = _options(args)
    for key, value in plugins.parse_set(getattr(args, "set", None)).items():
        field = key.replace("-", "_")
        if field in out and not _same(out[field], value):
            raise UsageError(f"{flag(field)} {_as_text(out[field])} and --set {key}={value} disagree; give the "
                             "setting once.")
        out[key] = value
    return out


def _same(a, b) -> bool:
    """Whether two spellings of a setting's value agree (``0.2`` and ``0.20``, ``a,b`` and ``('a', 'b')``)."""
    a, b = _as_text(a), _as_text(b)
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return a.lower() == b.lower() and a.lower() in ("true", "false")


def _as_text(value) -> str:
    """A setting option's value as it would be written after --set KEY= (a list: comma-separated)."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _options(args: argparse.Namespace) -> dict:
    """The setting options given (``set_FIELD`` in ``args``): {field: value}."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("set_")}


def choose(kind: str, name: str | None, settings: dict, default: str, chooser: str) -> str:
    """The plugin of ``kind`` that runs: ``name`` when given; else the one that a setting
    given in ``settings`` selects (``cut --cascade catface``: cascade); else ``default``.
    Settings that select different plugins are a UsageError naming ``chooser``."""
    if name:
        return name
    selected: dict[str, list[str]] = {}
    for plugin, settings_cls, _ in _loaded(kind):
        for field in plugins.selecting(settings_cls):
            if field in settings:
                selected.setdefault(plugin, []).append(flag(field))
    if len(selected) > 1:
        named = " and ".join(f"{', '.join(flags)} ({plugin})" for plugin, flags in selected.items())
        raise UsageError(f"{named} select different {kind}s; name one with {chooser}.")
    return next(iter(selected), default)


def plugin_settings(args: argparse.Namespace, kind: str, name: str) -> dict:
    """The settings given (``given``), after checking each setting option against the plugin
    ``name`` (the parser's options are every plugin's together): one it does not have, or a
    choice that is another plugin's, is a one-sentence UsageError naming the option. The
    values themselves are checked where the plugin is made ready (``api.cutter``,
    ``api.harmonizer``). Loads the plugin: one that fails to load raises here."""
    cls = plugins.load(kind, name)
    rows = {row[0]: row for row in plugins.describe(cls.Settings)}
    for field, value in _options(args).items():
        if field not in rows:
            known = f"its settings are {', '.join(map(flag, rows))}" if rows else "it has no settings"
            owners = [v.plugin for v in _table(kind).get(field, ())]
            taken = f" ({_and(owners)} take{'s' if len(owners) == 1 else ''} it)" if owners else ""
            raise UsageError(f"{flag(field)} is not a setting of the {name} {kind}{taken}; {known}.")
        choices = rows[field][3]
        if choices and not isinstance(value, bool) and value not in choices:
            raise UsageError(f"{flag(field)} of the {name} {kind} must be one of {', '.join(map(str, choices))}; "
                             f"received {value!r}.")
    return given(args)
