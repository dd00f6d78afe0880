"""The pages' one way to keep state: a lesson's state bound to the link, and a few values per session.

Every page script reads and writes ``st.session_state`` only through this module (a unit test holds
that). Two kinds of state:

* **A lesson's state** (``core.lessons.states``): each field is one widget, bound to the URL with
  Streamlit's ``bind="query-params"`` (its value lives in the address bar under its key, so a link
  or F5 reproduces the page) and kept across page switches with ``persist_state="session"``.
  ``LinkedPage`` adds what the binding cannot do: on arrival it reads the link with the lesson's own
  rules and keeps a note in words for every value it could not use; Streamlit drops an invalid value
  silently, and where the two read a value differently (``seed=1.5``: Streamlit takes 1, the rules
  say "not a whole number") the rules win, by a correction applied before the widgets of the next run.
* **Values of this browser session** that are not part of a link (the live-sampling session, a
  training job, quiz answers): ``get``, ``put``, ``pop`` and ``remember``.

Text boxes have no ``max_chars``: Streamlit 1.67 throws away a paste longer than it without a word.
``text_box`` cuts a long value to its limit instead, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from core.display import escape_markdown
from core.lessons.page_state import default_of, from_query, from_values, linked_fields, rule_of

_state = st.session_state  # a proxy: resolves to the current browser session on every access


# ---------------------------------------------------------------------------------------------
# Values of this browser session (not in the link)


def get(name: str, default: Any = None) -> Any:
    return _state.get(name, default)


def put(name: str, value: Any) -> None:
    _state[name] = value


def pop(name: str, default: Any = None) -> Any:
    return _state.pop(name, default)


def remember(name: str, make: Callable[[], Any]) -> Any:
    """The session's value of ``name``, made once by ``make()``."""
    if name not in _state:
        _state[name] = make()
    return _state[name]


def setter(name: str, value: Any) -> Callable[[], None]:
    """A callback that sets ``name`` (a widget's key too: the widget then shows ``value``)."""
    return lambda: put(name, value)


def link_values(name: str) -> list[str]:
    """Query parameter ``name`` as the address bar holds it now (every value of a repeated key)."""
    return st.query_params.get_all(name)


def set_link_value(name: str, value: str | None) -> None:
    """Write (or, with None, remove) a query parameter that no widget is bound to: the drawn text of
    Live sampling, the quiz's question set. Written only when it changes."""
    if value is not None and st.query_params.get(name) != value:
        st.query_params[name] = value
    elif value is None and name in st.query_params:
        del st.query_params[name]


# ---------------------------------------------------------------------------------------------
# A lesson's state, bound to the link


def bound(name: str) -> dict:
    """The keyword arguments that bind a widget to field ``name`` of its page's state."""
    return {"key": name, "bind": "query-params", "persist_state": "session"}


class LinkedPage:
    """One page's linked state for one run: create it before any widget, ``settle()`` after the last."""

    def __init__(self, cls, page: str):
        self.cls, self.page = cls, page
        self._notes_key = f"_link_notes_{page}"
        corrections = _state.pop(f"_link_fix_{page}", None)
        for name, value in (corrections or {}).items():
            _state[name] = value  # before the widget exists: the widget, and the URL, take it
        # A run is an arrival when another page (or nothing) ran before it in this session: only then is
        # the address bar a link to read. Later runs must not read it: it may lag behind the widgets.
        self.arrived = _state.get("_current_page") != page and not corrections
        _state["_current_page"] = page
        raw = {key: st.query_params.get_all(key) for key in st.query_params}
        self.linked, notes = from_query(cls, raw) if self.arrived else (cls(), [])
        self.in_link = {f.name for f in linked_fields(cls) if f.name in raw} if self.arrived else set()
        if self.arrived:
            _state[self._notes_key] = notes
        # the widgets will show what the rules read (nothing to settle), or settle() corrects them next run
        self._unsettled = bool(self.in_link) and not _seed_widgets_from_rules(cls, self.linked, self.in_link)

    def value(self, name: str) -> Any:
        """What field ``name``'s widget will show this run (the link's value on arrival)."""
        if name in self.in_link:
            return getattr(self.linked, name)
        return _state.get(name, getattr(self.cls(), name))

    def expect(self, name: str, value: Any, note: str | None = None) -> None:
        """The page fitted a linked value itself (top-k past the vocabulary): use ``value`` instead."""
        if name in self.in_link:
            self.linked = replace(self.linked, **{name: value})
            if not self._unsettled:  # already seeded from the link: the widget must take the fitted value too
                _seed_widgets_from_rules(self.cls, self.linked, {name})
        if note:
            self.add_note(note)

    def add_note(self, note: str) -> None:
        _state[self._notes_key] = [*_state.get(self._notes_key, []), note]

    def read(self):
        """The state as the widgets hold it now (a value its rule forbids becomes the default, with a note)."""
        values = {f.name: _state[f.name] for f in linked_fields(self.cls) if f.name in _state}
        values.update({name: getattr(self.linked, name) for name in self.in_link})  # what settle() makes them
        state, notes = from_values(self.cls, values)
        for note in notes:
            self.add_note(note)
        return state

    def settle(self) -> None:
        """After the widgets: where Streamlit read the link otherwise than the rules, correct it next run."""
        if not self._unsettled:
            return
        fixes = {n: getattr(self.linked, n) for n in self.in_link if _state.get(n) != getattr(self.linked, n)}
        if fixes:
            _state[f"_link_fix_{self.page}"] = fixes
            st.rerun()

    def show_notes(self) -> None:
        """The link's notes in words, until dismissed."""
        notes = _state.get(self._notes_key)
        if notes:
            st.warning("  \n".join(escape_markdown(n) for n in notes), icon="🔗")
            st.button("Dismiss", key=f"{self.page}_dismiss_notes", on_click=setter(self._notes_key, []))


def _seed_widgets_from_rules(cls, linked, names: set[str]) -> bool:
    """Make the bound widgets seed from the rules' reading of the link instead of the raw text, before any
    widget exists. Streamlit 1.67 seeds a bound widget from its own parse of the URL: it takes
    ``seed=1.5`` as 1, and ``seed=1e999`` crashes an integer ``number_input`` (OverflowError, uncaught).
    This writes the link as the rules read it into the session's initial query parameters (a private
    structure of the pinned Streamlit; tests/app/test_links.py fails if it changes) and into the address
    bar. Returns False when that structure is not there: ``settle()`` then corrects on the next run."""
    ctx = get_script_run_ctx()
    fields = {f.name: f for f in linked_fields(cls)}
    wanted = {}
    for name in names:
        value = getattr(linked, name)
        wanted[name] = None if value == default_of(fields[name]) else rule_of(fields[name]).format(value)
    with ctx.session_state.query_params() as qp:
        initial = getattr(qp, "_initial_query_params", None)
        if not isinstance(initial, dict):
            return False
        for name, text in wanted.items():
            if text is None:
                initial.pop(name, None)
            else:
                initial[name] = [text]
    for name, text in wanted.items():
        set_link_value(name, text)
    return True


def text_box(widget: Callable, label: str, name: str, limit: int, linked: bool = True, **kwargs) -> str:
    """A text widget bound to field ``name``, cut to ``limit`` characters with a note (not refused).

    ``linked=False``: kept for the session but not in the link (a text too long for an address)."""
    cut_key = f"_cut_{name}"

    def cut() -> None:
        value = _state.get(name) or ""
        _state[cut_key] = len(value) if len(value) > limit else None
        if len(value) > limit:
            _state[name] = value[:limit]

    keep = bound(name) if linked else {"key": name, "persist_state": "session"}
    value = widget(label, on_change=cut, **keep, **kwargs)
    if len(value) > limit:  # from a link or a script (no change event): cut it here
        value = value[:limit]
    if _state.get(cut_key):
        st.info(
            f"The text had {_state[cut_key]:,} characters; only the first {limit:,} are kept (the limit here).",
            icon="✂️",
        )
    return value
