"""Typed ``key=value`` options: one declarative schema per thing that takes options, one parser.

Dataset loaders (``--option``), generator configs (``--set``) and on/off switches all go
through :func:`parse_options` / :meth:`Schema.validate`, so an unknown key, a wrong type or a
value out of range is refused before any work, with one line that names the key and what is
allowed. Parsed values are canonical (``face_crop=yes`` and ``face_crop=true`` both give
``True``; a regex stays its source string; a mapping becomes a key-sorted dict), so anything
fingerprinted from them does not depend on how the user spelled a value.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from vbench_i2v.errors import InputError

TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0")
BOOL_HINT = "true/false, on/off, yes/no, 1/0"
TYPES = ("bool", "int", "float", "str", "regex", "choice", "mapping", "path")
_INT = re.compile(r"^[+-]?\d+$")


class OptionError(InputError):
    """A ``key=value`` option that is unknown, malformed, of the wrong type or out of range."""


def parse_bool(value, what: str = "value") -> bool:
    """Exactly true/false, on/off, yes/no, 1/0 (any case), or a Python bool; anything else refused."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy bool
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
    raise OptionError(f"{what!r} expects bool ({BOOL_HINT}), got {value!r}")


@dataclass(frozen=True)
class Option:
    """One option: its name, type, allowed values or range, default and help.

    ``type`` is one of bool, int, float, str, regex (``groups``: named groups it must have),
    choice (``choices``), mapping (``k=v,k=v``; ``keys``: a regex each key must match fully,
    ``choices``: allowed values) or path (made absolute; ``must_exist``). ``pixels`` marks an
    option that changes the frames a loader produces (part of the preprocessed-cache key).
    """

    name: str
    type: str
    default: Any = None
    help: str = ""
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    groups: tuple[str, ...] = ()
    keys: str | None = None
    must_exist: bool = False
    pixels: bool = False

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: unknown type {self.type!r} (types: {', '.join(TYPES)})")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"option {self.name}: a choice needs choices")

    def describe(self) -> str:
        """``name (type, allowed, default): help`` for help texts and docs."""
        kind = self.type
        if self.type == "choice":
            kind = "one of " + "|".join(map(str, self.choices))
        elif self.type == "bool":
            kind = "bool"
        rng = []
        if self.min is not None:
            rng.append(f">= {self.min:g}")
        if self.max is not None:
            rng.append(f"<= {self.max:g}")
        extra = f" {' and '.join(rng)}" if rng else ""
        default = "" if self.default is None else f", default {_show(self.default)}"
        return f"{self.name} ({kind}{extra}{default})" + (f": {self.help}" if self.help else "")

    def coerce(self, value):
        """A CLI string or a Python value -> the canonical value; :class:`OptionError` otherwise."""
        out = self._coerce(value)
        if self.choices and self.type in ("int", "float", "str") and out not in self.choices:
            raise OptionError(f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        return out

    def _coerce(self, value):
        n = self.name
        t = self.type
        if t == "bool":
            return parse_bool(value, n)
        if t == "int":
            if isinstance(value, bool):
                raise OptionError(f"{n!r} expects int, got {value!r}")
            if isinstance(value, str):
                if not _INT.match(value.strip()):
                    raise OptionError(f"{n!r} expects int (a whole number), got {value!r}")
                value = int(value.strip())
            elif isinstance(value, float) and value.is_integer():
                value = int(value)
            elif not isinstance(value, int) and type(value).__name__.startswith("int"):  # numpy ints
                value = int(value)
            if not isinstance(value, int):
                raise OptionError(f"{n!r} expects int (a whole number), got {value!r}")
            return self._in_range(value)
        if t == "float":
            if isinstance(value, bool):
                raise OptionError(f"{n!r} expects float, got {value!r}")
            try:
                out = float(value.strip() if isinstance(value, str) else value)
            except (TypeError, ValueError):
                raise OptionError(f"{n!r} expects float (a number), got {value!r}") from None
            if not math.isfinite(out):
                raise OptionError(f"{n!r} expects a finite number, got {value!r}")
            return self._in_range(out)
        if t == "str":
            if not isinstance(value, str):
                raise OptionError(f"{n!r} expects str, got {value!r}")
            return value
        if t == "choice":
            if not isinstance(value, str) or value.strip() not in self.choices:
                raise OptionError(f"{n} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return value.strip()
        if t == "regex":
            if not isinstance(value, str):
                raise OptionError(f"{n!r} expects a regular expression (str), got {value!r}")
            try:
                rx = re.compile(value)
            except re.error as exc:
                raise OptionError(f"{n}: invalid pattern {value!r} ({exc})") from None
            missing = [g for g in self.groups if g not in rx.groupindex]
            if missing:
                raise OptionError(f"{n}: pattern {value!r} lacks the named group(s) {', '.join(missing)}")
            return value
        if t == "mapping":
            return self._mapping(value)
        # path
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise OptionError(f"{n!r} expects a path, got {value!r}")
        path = os.path.abspath(os.path.expanduser(os.fspath(value).strip()))
        if self.must_exist and not os.path.exists(path):
            raise OptionError(f"{n}: {path} does not exist")
        return path

    def _in_range(self, value):
        lo, hi = self.min, self.max
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                want = f"between {lo:g} and {hi:g}"
            else:
                want = f">= {lo:g}" if lo is not None else f"<= {hi:g}"
            raise OptionError(f"{self.name} must be {want}, got {value!r}")
        return value

    def _mapping(self, value) -> dict[str, str]:
        n = self.name
        if isinstance(value, Mapping):
            items = [(str(k).strip(), v) for k, v in value.items()]
        elif isinstance(value, str):
            items = []
            for part in filter(None, (p.strip() for p in value.split(","))):
                key, sep, val = part.partition("=")
                if not sep:
                    raise OptionError(f"{n}: bad entry {part!r} (use key=value,key=value)")
                items.append((key.strip(), val.strip()))
        else:
            raise OptionError(f"{n!r} expects a mapping (key=value,key=value), got {value!r}")
        out: dict[str, str] = {}
        for key, val in items:
            if not isinstance(val, str):
                raise OptionError(f"{n}: value of {key!r} must be a string, got {val!r}")
            if self.keys is not None and not re.fullmatch(self.keys, key):
                raise OptionError(f"{n}: bad key {key!r} in {_show(value)} (keys must match {self.keys})")
            if self.choices and val not in self.choices:
                raise OptionError(f"{n}: bad value {val!r} for key {key!r} (values: {', '.join(self.choices)})")
            if key in out and out[key] != val:
                raise OptionError(f"{n}: key {key!r} given twice")
            out[key] = val
        return dict(sorted(out.items()))


class Schema:
    """An ordered set of options. ``noun`` words the unknown-key error: ``unknown <noun> 'k' for <what>``."""

    def __init__(self, *options: Option, noun: str = "option"):
        self.options = tuple(options)
        self.noun = noun
        self._by_name: dict[str, Option] = {}
        for o in self.options:
            if o.name in self._by_name:
                raise ValueError(f"option {o.name!r} declared twice")
            self._by_name[o.name] = o

    def __repr__(self) -> str:
        return f"Schema({', '.join(self.names())})"

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Option:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [o.name for o in self.options]

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def pixel_options(self) -> list[str]:
        return [o.name for o in self.options if o.pixels]

    def extend(self, *options: Option) -> "Schema":
        """This schema plus ``options`` (a later option of the same name replaces the earlier one)."""
        names = {o.name for o in options}
        return Schema(*[o for o in self.options if o.name not in names], *options, noun=self.noun)

    def unknown(self, key: str, what: str | None, flag: str | None) -> OptionError:
        known = ", ".join(self.names()) if self.options else "none: it takes no options"
        where = f" for {what}" if what else ""
        prefix = f"{flag}: " if flag else ""
        return OptionError(f"{prefix}unknown {self.noun} {key!r}{where} (known: {known})")

    def coerce(self, key: str, value, what: str | None = None, flag: str | None = None):
        if key not in self._by_name:
            raise self.unknown(key, what, flag)
        try:
            return self._by_name[key].coerce(value)
        except OptionError as exc:
            raise OptionError(f"{flag}: {exc}" if flag else str(exc)) from None

    def validate(self, values: Mapping[str, Any], what: str | None = None, flag: str | None = None,
                 fill_defaults: bool = False) -> dict[str, Any]:
        """Python-API values -> canonical values (``None`` means not given); refuses unknown keys.

        With ``fill_defaults`` every declared option is in the result (defaults where not given).
        """
        out = self.defaults() if fill_defaults else {}
        for key, value in values.items():
            if value is None:
                if key not in self._by_name:
                    raise self.unknown(key, what, flag)
                continue
            out[key] = self.coerce(key, value, what, flag)
        return out


def split_pairs(pairs: Iterable[str] | None, flag: str = "--option") -> list[tuple[str, str]]:
    """``["k=v", ...]`` -> ``[(k, v), ...]`` (keys stripped, ``-`` read as ``_``); a key given
    twice or an entry without ``=`` is refused."""
    out: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = str(pair).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise OptionError(f"{flag} expects key=value, got {pair!r}")
        value = value.strip()
        if key in seen:
            raise OptionError(f"{flag}: {key!r} given twice ({seen[key]!r} and {value!r})")
        seen[key] = value
        out.append((key, value))
    return out


def parse_options(pairs: Iterable[str] | None, schema: Schema, what: str | None = None,
                  flag: str = "--option") -> dict[str, Any]:
    """``["face_crop=yes", "frame_step=2"]`` -> ``{"face_crop": True, "frame_step": 2}``.

    Only the given keys are returned (canonical values); :class:`OptionError` (an
    :class:`~vbench_i2v.errors.InputError`) for a malformed pair, a key given twice, an unknown
    key (the message lists the known ones) or a bad value.
    """
    return {key: schema.coerce(key, value, what, flag) for key, value in split_pairs(pairs, flag)}


def _show(value) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(schema: Schema) -> str:
    """One line per option (for ``--help`` texts and the docs)."""
    return "\n".join(o.describe() for o in schema.options) or "(no options)"


# --- switches ---------------------------------------------------------------------------
def parse_switch(value, what: str, allow_auto: bool = True) -> str:
    """An on/off switch (optionally ``auto``) -> ``"on"``, ``"off"`` or ``"auto"``: the bool words
    of :func:`parse_bool`, any case; anything else refused naming the switch."""
    if allow_auto and isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return "on" if parse_bool(value, what) else "off"
    except OptionError:
        allowed = ("auto, " if allow_auto else "") + BOOL_HINT
        raise OptionError(f"{what} must be {allowed}; got {value!r}") from None


def switch_type(allow_auto: bool = True):
    """A click parameter type for an on/off(/auto) switch, returning ``on``/``off``/``auto``."""
    import click

    class Switch(click.ParamType):
        name = "auto|on|off" if allow_auto else "on|off"

        def convert(self, value, param, ctx):
            what = param.opts[0] if param is not None and param.opts else "switch"
            try:
                return parse_switch(value, what, allow_auto)
            except OptionError as exc:
                self.fail(str(exc), param, ctx)

    return Switch()


def switch_on(value, auto: bool, what: str, allow_auto: bool = True) -> bool:
    """A switch (:func:`parse_switch`) resolved to a bool: ``auto`` becomes ``auto``'s value."""
    word = parse_switch(value, what, allow_auto)
    return auto if word == "auto" else word == "on"


# --- worker counts ----------------------------------------------------------------------
MAX_WORKERS = 64  # DataLoader processes; far beyond any machine this project trains on


def parse_workers(value, what: str = "workers") -> str | int:
    """``auto`` or a whole number of worker processes in ``0..MAX_WORKERS`` -> ``"auto"`` or the int."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return "auto"
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and _INT.match(text))):
        raise OptionError(f"{what} must be auto or a whole number, got {value!r}")
    n = int(text)
    if not 0 <= n <= MAX_WORKERS:
        raise OptionError(f"{what} must be auto or a number between 0 and {MAX_WORKERS}, got {value!r}")
    return n


def workers_type():
    """A click parameter type for :func:`parse_workers` (``auto|N``)."""
    import click

    class Workers(click.ParamType):
        name = "auto|N"

        def convert(self, value, param, ctx):
            what = param.opts[0] if param is not None and param.opts else "workers"
            try:
                return parse_workers(value, what)
            except OptionError as exc:
                self.fail(str(exc), param, ctx)

    return Workers()
