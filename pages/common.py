"""Glue shared by the pages: cached models, showing errors in words, presenter view and chart toolbars.

Not a page itself. Everything here is small; the maths lives in ``core``. The lesson list and the links
between lessons are in ``pages/navigation.py``; what a session is told about the server, in
``pages/session_notices.py``.
"""

from __future__ import annotations

import os
import re

import streamlit as st

import core
import core.image.model
from core.display import escape_markdown
from pages.state import bound, get, put

THREADS_ENV = "CHAIN_RULE_LAB_THREADS"  # torch threads per request (default 1)


def configure_torch_threads() -> int:
    """One torch thread per request, set once per server process.

    A server answers many small requests at once, from a laptop that also runs a browser and a
    video call: with torch's default of one thread per core, two requests (or one request and
    the browser) oversubscribe the CPU and every rerun slows down many times over; with one
    thread each, two sessions compute side by side on two cores. The LLM's decoding is bound by
    reading its weights, so a second thread gains it little (see BENCHMARKS.md).
    """
    import torch

    n = int(os.environ.get(THREADS_ENV, "1"))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already ran in this process
        pass
    return n


def chart_config(key: str) -> dict:
    """Plotly's toolbar for one chart: a PNG download named after it (drawn in the browser, offline), no logo."""
    name = "chain-rule-lab-" + re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").lower()
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    }


PRESENTER_HELP = (
    "For a projector: the sidebar folds away (its arrow at the top left brings it back), the opening words and "
    "the secondary sections are hidden and every chart gets bigger text. Kept in the link."
)


PRESENTING = "crl_presenting"  # this run's page is in presenter view: set by presenter_toggle, cleared by app.py


def page_run_starts() -> None:
    """app.py, before each page runs: no presenter view until that page's toggle says so (a page without one,
    such as Home, must not inherit the previous page's)."""
    put(PRESENTING, False)


def presenting() -> bool:
    """True while the page drawing now is in presenter view (then every chart gets projector-size text)."""
    return bool(get(PRESENTING))


def presenter_toggle(field: str) -> bool:
    """Presenter view's switch for one page (``field``: its flag in the page's state), in the main area so that
    it stays in reach while the sidebar is folded away. On, it asks the browser to fold the sidebar (Streamlit's
    own ``initial_sidebar_state``, re-sent each run: a browser where the student folded or opened the sidebar by
    hand keeps that choice). The page then skips its secondary sections and passes its main figures through
    ``core.figures.presenter.for_projector`` (projector height too); ``pages.charts`` gives every other chart
    the same text sizes. Page text keeps its size: without raw HTML (which the app never uses) no page can
    restyle it; the browser's zoom can."""
    on = st.toggle("Presenter view", help=PRESENTER_HELP, **bound(field))
    put(PRESENTING, on)
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    return on


def opening(text: str, presenter: bool) -> None:
    """A page's opening words (what it is for), skipped in presenter view: there the teacher says them, and
    the page's first picture moves up into the projector's 720 px."""
    if not presenter:
        st.markdown(text)


def show_error(message: str, error: Exception | None = None, icon: str = "⚠️") -> None:
    """The pages' one way to show a problem: ``message`` (page markdown) then the error's own words,
    escaped so that user text inside an error can never become markup or a link."""
    words = escape_markdown(str(error)) if error is not None else ""
    st.error(" ".join(part for part in (message, words) if part), icon=icon)


@st.cache_resource(show_spinner="Loading the model…")
def shared_model(name: str):
    """One shared, read-only copy of each model (text or image) for every browser session."""
    if name in core.TEXT_MODELS:
        return core.load_text_model(name)
    return core.image.model.load_image_model(name)


def model_or_error(name: str):
    """The model called ``name``, or None after saying in words why it cannot be loaded."""
    try:
        return shared_model(name)
    except core.ChainRuleError as e:
        show_error(f"The model **{name}** is unavailable.", e)
        return None


configure_torch_threads()
