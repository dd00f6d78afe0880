"""What a lesson page remembers, as one frozen dataclass: defaults, validation in words, and a link.

Every page of the app can be linked to: its state lives in the address bar, one query parameter
per field (``/sampling?model=shakespeare&temperature=0.8``). Anything in a URL may be typed by hand
or mangled on the way, so each field declares a *rule* - a range, a set of options, a length - and
``from_query`` turns query parameters into a state plus one note per value it could not use, saying
what was wrong, what is allowed and what was used instead. Nothing here raises for a bad value: a
broken link must still open its page.

A state class is a frozen dataclass whose fields are made by ``number``, ``whole``, ``choice``,
``text`` or ``flag``. The query parameter of a field is its name, which is also the key of the
widget that shows it (Streamlit's ``bind="query-params"`` uses the key), so the names must be
unique across the app. No streamlit here: pages bind widgets to these fields (``pages/state.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlencode

SHOWN_VALUE_CHARS = 40  # how much of a bad query value a note repeats back


class Rejected(Exception):
    """A query value a rule cannot use; the message says what is allowed."""


def shown(value: str) -> str:
    """A query value as a note repeats it: quoted, cut short, never more than one line."""
    value = value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…"
    return repr(value)


def finite_number(text: str) -> float | None:
    """A finite float from a query string, or None (rejects nan, inf, words, empty)."""
    try:
        x = float(text.strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def whole_number(text: str) -> int | None:
    """An int from '12' or '12.0'; None for anything else (including 1e400 and 0x10)."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    x = finite_number(text)
    return int(x) if x is not None and x.is_integer() else None


# ---------------------------------------------------------------------------------------------
# Rules: how one field reads a query value, checks a value, and writes it back


@dataclass(frozen=True)
class Number:
    lo: float
    hi: float
    allowed: str  # in words, e.g. "temperature must be a number from 0 (greedy) to 3"

    def parse(self, raw: str):
        x = finite_number(raw)
        if x is None or not self.lo <= x <= self.hi:
            raise Rejected(self.allowed)
        return x

    def check(self, value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and self.lo <= value <= self.hi

    def format(self, value) -> str:
        return f"{value:g}"


@dataclass(frozen=True)
class Whole:
    lo: int
    hi: int
    allowed: str
    clamp: Callable[[int], tuple[int, str | None]] | None = None  # past an end: (clamped value, note), not rejected
    words: Mapping[str, int] = field(default_factory=dict)  # e.g. {"off": 0}

    def parse(self, raw: str):
        n = self.words.get(raw.strip().lower()) if self.words else None
        n = whole_number(raw) if n is None else n
        if n is None or (self.clamp is None and not self.lo <= n <= self.hi):
            raise Rejected(self.allowed)
        return n

    def check(self, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.lo <= value <= self.hi

    def format(self, value) -> str:
        return str(value)


@dataclass(frozen=True)
class Choice:
    options: tuple
    allowed: str
    label: Callable[[Any], str] = str  # what the widget shows, and so what the link carries

    def parse(self, raw: str):
        for option in self.options:
            if self.label(option) == raw:
                return option
        raise Rejected(self.allowed)

    def check(self, value) -> bool:
        return value in self.options

    def format(self, value) -> str:
        return self.label(value)


@dataclass(frozen=True)
class Text:
    max_chars: int
    what: str  # "the prompt": how a note names it

    def parse(self, raw: str):
        return raw  # cut by from_query, with a note

    def check(self, value) -> bool:
        return isinstance(value, str) and len(value) <= self.max_chars

    def format(self, value) -> str:
        return value


@dataclass(frozen=True)
class Flag:
    allowed: str = "true or false"

    def parse(self, raw: str):
        if raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise Rejected(self.allowed)

    def check(self, value) -> bool:
        return isinstance(value, bool)

    def format(self, value) -> str:
        return "true" if value else "false"


Rule = Number | Whole | Choice | Text | Flag


def _field(default, rule: Rule) -> Any:
    return field(default=default, metadata={"rule": rule})


def number(default: float, lo: float, hi: float, allowed: str) -> Any:
    return _field(default, Number(lo, hi, allowed))


def whole(default: int, lo: int, hi: int, allowed: str, clamp=None, words=None) -> Any:
    return _field(default, Whole(lo, hi, allowed, clamp, dict(words or {})))


def choice(default, options, allowed: str | None = None, label: Callable[[Any], str] = str) -> Any:
    options = tuple(options)
    allowed = allowed or f"it must be one of {', '.join(label(o) for o in options)}"
    return _field(default, Choice(options, allowed, label))


def text(default: str, max_chars: int, what: str) -> Any:
    return _field(default, Text(max_chars, what))


def flag(default: bool) -> Any:
    return _field(default, Flag())


# ---------------------------------------------------------------------------------------------
# A whole state: from a link, to a link, from widget values


def rule_of(f: Field) -> Rule:
    return f.metadata["rule"]


def linked_fields(cls) -> list[Field]:
    """The fields of a state class that travel in a link (every field made by a rule)."""
    return [f for f in fields(cls) if "rule" in f.metadata]


def default_of(f: Field):
    return f.default if f.default is not MISSING else f.default_factory()


def _last(value) -> str | None:
    """A query value as one string: a repeated key counts by its last entry, as Streamlit does."""
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    return None if value is None else str(value)


def read_query_value(f: Field, raw: str, notes: list[str]):
    """The value field ``f`` takes from ``raw``; a bad one gives a note and the default."""
    rule, default = rule_of(f), default_of(f)
    if isinstance(rule, Text):
        if len(raw) > rule.max_chars:
            notes.append(
                f"{rule.what[0].upper() + rule.what[1:]} in the link had {len(raw)} characters; only the first "
                f"{rule.max_chars} are used."
            )
        return raw[: rule.max_chars]
    try:
        value = rule.parse(raw)
    except Rejected as e:
        notes.append(f"Ignored {f.name}={shown(raw)} in the link: {e}. Using the default {default!r}.")
        return default
    if isinstance(rule, Whole) and rule.clamp is not None:
        value, note = rule.clamp(value)
        notes += [note] if note else []
    return value


def from_query(cls, params: Mapping[str, str | list[str]]):
    """(state, notes) from query parameters: missing keys take their default silently, bad ones with
    a note, unknown keys are ignored."""
    notes: list[str] = []
    values = {}
    for f in linked_fields(cls):
        raw = _last(params.get(f.name))
        if raw is not None:
            values[f.name] = read_query_value(f, raw, notes)
    return cls(**values), notes


def to_query(state, changed_only: bool = True) -> dict[str, str]:
    """The state as query strings (only what differs from the defaults, unless ``changed_only`` is
    False); ``from_query(cls, to_query(s)) == (s, [])``."""
    out = {}
    for f in linked_fields(type(state)):
        value = getattr(state, f.name)
        if not changed_only or value != default_of(f):
            out[f.name] = rule_of(f).format(value)
    return out


def link(url_path: str, state) -> str:
    """A relative link that opens page ``url_path`` in ``state``: "/sampling?model=shakespeare"."""
    query = to_query(state)
    return f"/{url_path}" + (f"?{urlencode(query)}" if query else "")


def from_values(cls, values: Mapping[str, Any]):
    """(state, notes) from widget values: a value its rule does not allow is replaced by the default."""
    notes: list[str] = []
    checked = {}
    for f in linked_fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        if rule_of(f).check(value):
            checked[f.name] = value
        else:
            notes.append(f"{f.name} = {shown(str(value))} is not allowed here; using the default {default_of(f)!r}.")
    return cls(**checked), notes


def with_changes(state, **changes):
    """A copy of ``state`` with some fields changed (``dataclasses.replace``), for links to a moment."""
    return replace(state, **changes)
