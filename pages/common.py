"""Glue shared by the pages: the lesson list, cached models, and showing errors in words.

Not a page itself. Everything here is small; the maths lives in ``core``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import core


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
        "Generate token by token and watch temperature, top-k and top-p reshape each step.",
    ),
    PageInfo(
        "pages/pixelcnn.py",
        "PixelCNN",
        "🖼️",
        "Images",
        "pixelcnn",
        "The same chain rule over pixels: masked convolutions, receptive fields, sampling.",
    ),
]


def leave_legacy_pages_mode() -> None:
    """Make a deep link on a fresh server open the page inside the app, not as a bare script.

    Until ``st.navigation`` has run once in the process, Streamlit treats a ``pages/`` folder as a
    legacy multipage app: the first visitor of a shared link such as ``/sampling?seed=3`` would
    get the page script alone, with every file of ``pages/`` in the sidebar. Flipping Streamlit's
    flag and rerunning sends that visit through ``app.py``; the URL paths equal the file names,
    so the rerun resolves to the same page. Called once, when this module is first imported.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def existing_pages(root: Path) -> list[PageInfo]:
    """Only lessons whose script exists are listed (and linked from the home page)."""
    return [p for p in PAGES if (root / p.path).exists()]


@st.cache_resource(show_spinner="Loading the model…")
def text_model(name: str) -> core.TextModel:
    """One shared, read-only copy of each text model for every browser session."""
    return core.load_text_model(name)


def load_text_model_or_error(name: str) -> core.TextModel | None:
    """The model, or None after showing in words why it cannot be loaded."""
    try:
        return text_model(name)
    except core.ChainRuleError as e:
        st.error(f"The model **{name}** is unavailable. {e}", icon="⚠️")
        return None


def session_generator(key: str, seed: int):
    """A torch.Generator private to this browser session, re-seeded when ``seed`` changes."""
    import torch

    state_key = f"_generator_{key}"
    if st.session_state.get(f"{state_key}_seed") != seed or state_key not in st.session_state:
        st.session_state[state_key] = torch.Generator().manual_seed(seed)
        st.session_state[f"{state_key}_seed"] = seed
    return st.session_state[state_key]


leave_legacy_pages_mode()
