"""The Live sampling page's "History and branching" panel: every step kept, rewind to one, force a
token, and the branches left behind. Not a page itself: a module of pages/sampling_panels.py.
"""

from __future__ import annotations

import streamlit as st

from core.figures.sampling import token_name
from core.lessons.sampling_session import History, SamplingSettings, describe_settings
from core.text.language_model import TextModel
from pages.state import get, put


def session():
    """This browser session's live-sampling demo (a SamplingSession): the one accessor of the page's modules."""
    return get("sampling")


def on_rewind() -> None:
    session().rewind(get("sampling_rewind_step") - 1)


def on_force(lm: TextModel, sampling: SamplingSettings) -> None:
    session().force(lm, sampling, get("sampling_force_step"), get("sampling_force_token"))


def history_section(lm: TextModel, sampling: SamplingSettings, h: History) -> None:
    st.subheader("History and branching")
    st.caption(
        "Every step is kept. Rewind to a step and draw again from there, or force a token and watch the "
        "continuation change: every later conditional reads it."
    )
    st.code(lm.vocab.decode(h.ids[1:]) or " ", language=None, wrap_lines=True)
    if not h.entries:
        return
    rows = [
        {
            "step": i + 1,
            "token": token_name(lm.vocab, e.step.token_id),
            "p (model)": e.p_model,
            "p (sampled from)": e.p_sampled,
            "log p": e.step.logprob,
            "how": "forced" if e.forced else "sampled",
            "settings": describe_settings(e.settings),
        }
        for i, e in enumerate(h.entries)
    ]
    st.dataframe(rows, hide_index=True, height=min(35 * len(rows) + 38, 250), key="sampling_history_table")
    steps = list(range(1, len(h) + 1))
    grown = get("_sampling_steps_seen") != len(h)
    put("_sampling_steps_seen", len(h))
    for key in ("sampling_rewind_step", "sampling_force_step"):
        if grown or get(key) not in steps:  # a new step (or a rewind): point at the latest one
            put(key, steps[-1])
    options = session().force_choices(lm, get("sampling_force_step"))
    if get("sampling_force_token") not in options:
        put("sampling_force_token", options[0])
    rewind_col, force_col = st.columns(2)
    with rewind_col.container(border=True):
        st.selectbox("Rewind to step", steps, key="sampling_rewind_step")
        st.button("Rewind", key="sampling_rewind", on_click=on_rewind, width="stretch", icon="⏪")
    with force_col.container(border=True):
        step_col, token_col = st.columns(2)
        step_col.selectbox("At step", steps, key="sampling_force_step")
        token_col.selectbox(
            "Force token", options, key="sampling_force_token", format_func=lambda i: token_name(lm.vocab, i)
        )
        st.button(
            "Force this token", key="sampling_force", on_click=on_force, args=(lm, sampling), width="stretch", icon="📌"
        )
    if h.branches:
        st.markdown("**Earlier branches** (most recent first)")
        newest_first = list(range(len(h.branches)))[::-1]
        st.dataframe(
            [
                {
                    "branch": n,
                    "branched after step": h.branches[i].fork,
                    "text": lm.vocab.decode(list(h.prompt_ids[1:]) + list(h.branches[i].token_ids)),
                    "log p": h.branches[i].logprob,
                }
                for n, i in enumerate(newest_first, start=1)
            ],
            hide_index=True,
            key="sampling_branches_table",
        )
        pick, go = st.columns([1, 2], vertical_alignment="bottom")
        if get("sampling_branch_pick") not in range(1, len(h.branches) + 1):
            put("sampling_branch_pick", 1)
        pick.selectbox("Branch", range(1, len(h.branches) + 1), key="sampling_branch_pick")
        go.button(
            "Restore this branch",
            key="sampling_branch_restore",
            icon="↩️",
            on_click=lambda: session().restore_branch(newest_first[get("sampling_branch_pick") - 1]),
            help="Bring that text back exactly as it was drawn; the current one becomes a branch.",
        )
