"""Glue shared by the pages: the lesson list, cached models, and showing errors in words.

Not a page itself. Everything here is small; the maths lives in ``core``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import core
import core.image.model
from core.display import escape_markdown
from pages.state import bound, get, put


@dataclass(frozen=True)
class PageInfo:
    path: str  # script, relative to the app's folder
    title: str
    icon: str
    section: str  # navigation group
    url_path: str
    description: str  # one line on the home page


PAGES = [
    PageInfo(
        "pages/tour.py",
        "Tour",
        "🧭",
        "Start here",
        "tour",
        "The lesson in 17 short steps, each with a live example and a link to the page that shows it in full.",
    ),
    PageInfo(
        "pages/scenes.py",
        "Scenes",
        "🎬",
        "Start here",
        "scenes",
        "For teachers: a list of pages in chosen states, each with a line to say, to step through in class.",
    ),
    PageInfo(
        "pages/chain_rule.py",
        "Chain rule",
        "✖️",
        "Text",
        "chain_rule",
        "Factor a joint probability into conditionals and read any text's likelihood ledger.",
    ),
    PageInfo(
        "pages/attention.py",
        "Attention and causality",
        "🎭",
        "Text",
        "attention",
        "See the causal mask, the learned attention, and what peeking at the future breaks.",
    ),
    PageInfo(
        "pages/sampling.py",
        "Live sampling",
        "🎲",
        "Text",
        "sampling",
        "Generate token by token and watch temperature, top-k, top-p, min-p and penalties reshape each step.",
    ),
    PageInfo(
        "pages/training.py",
        "Training",
        "🏋️",
        "Text",
        "training",
        "Train a tiny model live and watch next-token prediction learn: loss, samples, the leaky pitfall.",
    ),
    PageInfo(
        "pages/pixelcnn.py",
        "PixelCNN",
        "🖼️",
        "Images",
        "pixelcnn",
        "The same chain rule over pixels: masked convolutions, receptive fields, sampling.",
    ),
    PageInfo(
        "pages/remember.py",
        "What to remember",
        "📌",
        "Close",
        "remember",
        "The lesson's three takeaways, each with a number computed now and a link to where it shows live.",
    ),
]


def page_link(path: str, label: str, **kwargs) -> None:
    """``st.page_link`` where there is a menu to link into; a page script run on its own (a test of one
    page, without app.py's ``st.navigation``) shows the label alone."""
    if getattr(_app_run, "active", False):
        st.page_link(path, label=label, **kwargs)
    else:
        st.markdown(label)


def next_lesson(url_path: str) -> None:
    """A page's last line: a link to the next lesson in the menu's order (the lesson's order). A page
    script run on its own (a test of one page) has no menu to link into, and no link."""
    if not getattr(_app_run, "active", False):
        return
    order = existing_pages(Path(__file__).resolve().parent.parent)
    at = next((i for i, p in enumerate(order) if p.url_path == url_path), None)
    if at is None or at + 1 >= len(order):
        return
    after = order[at + 1]
    st.divider()
    page_link(after.path, f"**Next: {after.title}** — {after.description}", icon="➡️")


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


_app_run = threading.local()  # set while app.py runs the chosen page, in that run's thread


@contextmanager
def run_by_app() -> Iterator[None]:
    """app.py runs the chosen page inside: a page script that runs without it is sent back (require_app)."""
    _app_run.active = True
    try:
        yield
    finally:
        _app_run.active = False


def require_app() -> None:
    """Each lesson's first line: a page script Streamlit ran without ``app.py`` reruns through it.

    Until some run has called ``st.navigation``, Streamlit treats a ``pages/`` folder beside the main
    script as a legacy multipage app and runs a requested page's script alone: no page setup, every
    file of ``pages/`` in the sidebar. That happens to the very first visitor of a deep link (such as
    ``/sampling?seed=3``) and to every session that connects while the server's first run is still
    importing (a class opening the app at once). Flipping Streamlit's flag and rerunning sends the
    visit through ``app.py``; the URL paths equal the file names, so the rerun opens the same page.
    A page script tested on its own (``AppTest.from_file``) is its own main script and runs as is.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if getattr(_app_run, "active", False) or ctx is None or Path(ctx.main_script_path).name != "app.py":
        return
    PagesManager.uses_pages_directory = False
    st.rerun()


def existing_pages(root: Path) -> list[PageInfo]:
    """Only lessons whose script exists are listed (and linked from the home page)."""
    return [p for p in PAGES if (root / p.path).exists()]


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
    "the secondary sections are hidden and the main charts get bigger text. Kept in the link."
)


def presenter_toggle(field: str) -> bool:
    """Presenter view's switch for one page (``field``: its flag in the page's state), in the main area so that
    it stays in reach while the sidebar is folded away. On, it asks the browser to fold the sidebar (Streamlit's
    own ``initial_sidebar_state``, re-sent each run: a browser where the student folded or opened the sidebar by
    hand keeps that choice). The page then skips its secondary sections and passes its main figures through
    ``core.figures.presenter.for_projector``. Page text keeps its size: without raw HTML (which the app never
    uses) no page can restyle it; the browser's zoom can."""
    on = st.toggle("Presenter view", help=PRESENTER_HELP, **bound(field))
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


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def previous_session_id(websocket_protocol: str) -> str | None:
    """The session id a reconnecting browser names in its websocket's ``Sec-WebSocket-Protocol``.

    Streamlit's browser code opens the websocket with the protocols ``streamlit``, an XSRF token,
    and, when it reconnects after losing the server, the id of the session it had. A fresh visit
    names none.
    """
    entries = [e.strip() for e in websocket_protocol.split(",")]
    return next((e for e in entries[2:] if _UUID.match(e)), None)


RESTART_NOTICE = (
    "**The server restarted, so this page started again.** What the address bar holds was kept (the "
    "settings, and on Live sampling the tokens drawn so far); text you typed and other choices were reset."
)


def notice_lost_session() -> None:
    """On a session's first run, say so if the browser had a session this server no longer holds
    (the server restarted or this replica replaced another): the page shows its state afresh."""
    if get("crl_session_started"):
        return
    put("crl_session_started", True)
    if previous_session_id(st.context.headers.get("Sec-Websocket-Protocol", "")):
        st.info(RESTART_NOTICE, icon="🔄")


@contextmanager
def notice_clicks_while_waiting() -> Iterator[None]:
    """Inside, a page that waits for a worker process (the real LLM, core.workers) notices its user's clicks.

    Every 50 ms of a wait the hook reads this session's state: that is a point where Streamlit stops a
    run that a click made stale, and the worker then drops the abandoned request. The hook draws
    nothing: waits may happen inside a cached function, where an element drawn outside it could not
    be replayed. (Continuous batching keeps a step's wait short; long requests show their own spinner.)
    """
    from core.workers import wait_hook

    with wait_hook(lambda status: get("crl_session_started")):
        yield


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
