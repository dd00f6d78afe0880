"""Moving between the lessons: the lesson list, links into the menu, and the mark that app.py runs the page.

Not a page itself. app.py builds its navigation from ``PAGES``; each page script's first line is
``require_app()``, and its last a link to the next lesson (``next_lesson``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st


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
