"""The Live sampling page's text in the URL: a reload (F5) or a shared link shows the same tokens.

By hand: the binding of widgets cannot carry the text, and only the model can turn the ids back into text.
Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from core.lessons.page_state import to_query
from core.lessons.sampling_session import SamplingSettings
from core.lessons.settings import text_from_query, text_to_query
from core.lessons.states import SamplingState
from core.text.language_model import TextModel
from pages.sampling_history import session
from pages.state import LinkedPage, link_values, set_link_value


def restore_from_link(lm: TextModel, sampling: SamplingSettings, page: LinkedPage) -> None:
    """Rebuild the text the link carries (on arrival); what cannot be used gets a note."""
    ids, forced, notes = text_from_query({key: link_values(key) for key in ("text", "forced")})
    for note in notes:
        page.add_note(note)
    if ids and not session().restore(lm, sampling, ids, forced):
        page.add_note(f"The link's text was cut short: {session().last_error}")
        session().last_error = None


def write_text_to_url() -> dict[str, str]:
    """The generated tokens and the forced steps into the address bar (removed when the text is empty)."""
    h = session().history
    wanted = text_to_query(h.generated_ids, [i for i, e in enumerate(h.entries, start=1) if e.forced])
    for key in ("text", "forced"):
        set_link_value(key, wanted.get(key))
    return wanted


def share_link(settings: SamplingState, text_query: dict[str, str]) -> str:
    """This exact demo as a link: every setting that differs from its default, and the text so far."""
    base = (st.context.url or "").split("?")[0]
    query = {**to_query(settings), **text_query}
    return f"{base}?{urlencode(query)}" if query else base
