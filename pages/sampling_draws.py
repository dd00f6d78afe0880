"""Draw N times: N tokens from the current step's distribution, not added to the text, shown as diamonds
on the step's chart beside the probabilities. Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

import streamlit as st

from core.lessons.sampling_session import SamplingSettings, stages_at
from core.text.language_model import TextModel
from core.text.sampling import empirical_counts, total_variation
from pages.sampling_history import session
from pages.state import get, put

DRAW_CHOICES = (10, 100, 1000, 10000)  # "Draw N times"


def on_draw_many(lm: TextModel, sampling: SamplingSettings) -> None:
    """N draws from the current step's final distribution, with the session's own draws generator."""
    n = get("sampling_draws_n")
    counts = empirical_counts(current_stages(lm, sampling).final, n, session().draws_generator)
    put("sampling_draws", (_draws_key(lm, sampling), n, counts))


def _draws_key(lm: TextModel, sampling: SamplingSettings) -> tuple:
    """Which step and knobs a "Draw N times" belongs to (its diamonds vanish when either changes)."""
    return lm.name, tuple(session().history.ids), sampling


def current_stages(lm: TextModel, sampling: SamplingSettings):
    """The distribution the chart shows: the current step's (redrawn under these knobs), or step 1's."""
    s = session()
    ids = s.history.current_context
    return stages_at(lm, ids, sampling, s.step_logits(lm, ids))


def draws_for_chart(lm: TextModel, sampling: SamplingSettings):
    """(n, counts) of the last "Draw N times", if it belongs to the step and knobs on screen; else None."""
    got = get("sampling_draws")
    if got and got[0] == _draws_key(lm, sampling):
        return got[1], got[2]
    return None


def draw_many_controls(lm: TextModel, sampling: SamplingSettings) -> None:
    cols = st.columns([1.3, 1, 3])
    cols[0].button(
        "Draw N times",
        key="sampling_draw_many",
        on_click=on_draw_many,
        args=(lm, sampling),
        icon="📊",
        width="stretch",
        shortcut="D",
        help="Draw N tokens from this step's distribution (not added to the text) and show how often each came up. "
        "Shortcut: D.",
    )
    cols[1].selectbox(
        "N", DRAW_CHOICES, index=DRAW_CHOICES.index(1000), key="sampling_draws_n", format_func="{:,}".format,
        label_visibility="collapsed", persist_state="session",
    )  # fmt: skip
    if (got := draws_for_chart(lm, sampling)) is not None:
        n, counts = got
        p = current_stages(lm, sampling).final
        tv = total_variation(counts / n, p)
        cols[2].caption(
            f"◆ = share of {n:,} draws. Distance from the probabilities (total variation): **{tv:.3f}**; "
            f"it shrinks like 1/√N as N grows — frequencies converge to probabilities."
        )
    else:
        cols[2].caption("Draws from this step's distribution without adding them to the text.")
