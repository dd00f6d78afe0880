"""The sampler lab of the Live sampling page: the extra knobs, N draws, greedy / sampled / beam search,
the text in the URL, and the exports. Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
import torch

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.exports import history_csv
from core.figures.sampling import token_name
from core.lessons import questions
from core.lessons.decoders import common_prefix, compare_decoders
from core.lessons.page_state import to_query
from core.lessons.sampling_session import SamplingSettings, stages_at
from core.lessons.settings import (
    ORDER_NAMES,
    PENALTY_RANGE,
    REPETITION_RANGE,
    TOP_P_MIN,
    text_from_query,
    text_to_query,
)
from core.lessons.states import SamplingState
from core.text.language_model import TextModel
from core.text.sampling import empirical_counts, total_variation
from pages.common import show_error
from pages.quiz_panel import check_yourself, quiz_rng
from pages.sampling_history import session
from pages.state import LinkedPage, bound, get, link_values, put, set_link_value

DRAW_CHOICES = (10, 100, 1000, 10000)  # "Draw N times"
BEAM_WIDTHS = (2, 3, 4, 5)
COMPARE_TOKENS = 30  # longest continuation the three decoders compare (beam search costs width x that)
KNOBS = ("min_p", "typical_p", "repetition", "presence", "frequency", "order")


# ---------------------------------------------------------------------------------------------
# The extra knobs


def more_knobs() -> None:
    """min-p, typical, the penalties and the order, in an expander (open when any is on)."""
    on = SamplingState(**{k: get(k) for k in KNOBS if get(k) is not None}).sampling().has_extras
    with st.expander("More ways to draw", expanded=on):
        st.slider(
            "Min-p", 0.0, 1.0, 0.0, 0.01, help="Keep tokens with p ≥ min-p × the top p. 0 = off.", **bound("min_p")
        )
        st.slider(
            "Typical-p",
            TOP_P_MIN,
            1.0,
            1.0,
            0.01,
            help="Keep the tokens whose surprise −log p is closest to the entropy, up to this mass. 1 = off. "
            "It can drop the most likely token.",
            **bound("typical_p"),
        )
        st.slider(
            "Repetition penalty",
            *REPETITION_RANGE,
            1.0,
            0.05,
            help="CTRL: a token already in the text has its logit divided by θ (if positive) or multiplied "
            "by θ (if negative). 1 = off; above 1 discourages repeats.",
            **bound("repetition"),
        )
        st.slider(
            "Presence penalty",
            *PENALTY_RANGE,
            0.0,
            0.1,
            help="OpenAI: subtract this from the logit of every token already in the text. 0 = off.",
            **bound("presence"),
        )
        st.slider(
            "Frequency penalty",
            *PENALTY_RANGE,
            0.0,
            0.1,
            help="OpenAI: subtract this times the token's count in the text. 0 = off.",
            **bound("frequency"),
        )
        st.radio(
            "Order of the stages",
            list(ORDER_NAMES),
            captions=list(ORDER_NAMES.values()),
            horizontal=True,
            help="Penalties always come first. Hugging Face then applies temperature before top-k / top-p / "
            "min-p / typical; llama.cpp truncates first and applies temperature last.",
            **bound("order"),
        )


# ---------------------------------------------------------------------------------------------
# The text in the URL: a reload (F5) or a shared link shows the same tokens (by hand: the binding of
# widgets cannot carry it, and only the model can turn the ids back into text)


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


# ---------------------------------------------------------------------------------------------
# The lab's panels


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


def decoders_section(
    lm: TextModel, prompt: str, prompt_ids: list[int], sampling: SamplingSettings, seed: int, limit: int
) -> None:
    st.subheader("Greedy, sampled or beam search")
    st.caption(
        "Three continuations of the same prompt, each scored by the model: log p is the sum of "
        "log p(token | context) at T = 1. Greedy picks the best token at each step; beam search keeps "
        "several candidates and often finds a more likely text — the most likely text is not made of the "
        "most likely steps."
    )
    n = min(limit, COMPARE_TOKENS)
    cols = st.columns([1, 1, 2])
    width = cols[0].select_slider("Beam width", BEAM_WIDTHS, value=3, key="sampling_beam_width")
    key = (lm.name, tuple(prompt_ids), sampling, seed, n, width)
    if cols[1].button("Compare", key="sampling_compare", icon="🔀", width="stretch"):
        try:
            with st.spinner("Decoding three ways…"):
                put("sampling_compare_result", (key, compare_decoders(lm, prompt, sampling, seed, n, width)))
        except ChainRuleError as e:
            show_error(escape_markdown(str(e)))
    got = get("sampling_compare_result")
    if not got or got[0] != key:
        cols[2].caption(f"Up to {n} tokens each, from the prompt, with this seed and these knobs (sampled).")
        return
    decoded = got[1]
    greedy = decoded[0].token_ids
    rows = []
    for d in decoded:
        shared = common_prefix(greedy, d.token_ids)
        differs = "–" if d is decoded[0] else ("never" if shared == len(d.token_ids) == len(greedy) else shared + 1)
        rows.append({"decoder": d.method, "tokens": len(d.token_ids), "log p": d.logprob,
                     "log p per token": d.per_token, "ended": "yes" if d.finished else "no",
                     "differs from greedy at token": differs})  # fmt: skip
        same, rest = lm.vocab.decode(list(d.token_ids[:shared])), lm.vocab.decode(list(d.token_ids[shared:]))
        marked = escape_markdown(same) + (f" **‖ {escape_markdown(rest)}**" if rest and d is not decoded[0] else "")
        st.markdown(f"**{d.method}** (continuation only): {marked or escape_markdown(rest)}")
    st.caption("‖ marks where a continuation leaves greedy's; the bold part is where they differ.")
    st.dataframe(rows, hide_index=True, key="sampling_compare_table")


def export_section(lm: TextModel, link: str) -> None:
    h = session().history
    with st.expander("Share and export"):
        st.markdown("**A link to this exact demo** (every setting and the text so far, forced tokens included):")
        st.code(link, language=None, wrap_lines=True)
        st.download_button(
            "Download the history (CSV)",
            history_csv(h, lm.vocab),
            file_name=f"sampling-{lm.name}-seed{session().seed}.csv",
            mime="text/csv",
            icon="⬇️",
            disabled=not h.entries,
            key="sampling_history_csv",
        )
        st.caption("Every chart has a camera button (top right, on hover) that saves it as a PNG.")


def quiz_section(lm: TextModel, sampling: SamplingSettings) -> None:
    """Check yourself, from the step on screen and the text drawn so far (waits for Pause)."""
    s = session()
    h = s.history
    logits = s.step_logits(lm, h.current_context)
    stages = [e.step.stages for e in h.entries]
    logprobs = torch.stack([st_.raw.log() for st_ in stages]) if stages and None not in stages else None

    def name(i: int) -> str:
        return token_name(lm.vocab, i)

    check_yourself(
        "sampling",
        [
            questions.sampling_survivors(quiz_rng("sampling", 1), logits, name),
            questions.sampling_greedy(quiz_rng("sampling", 2), logits, name),
            questions.sampling_temperature(quiz_rng("sampling", 3), logprobs, h.generated_ids),
        ],
    )


def lab_sections(lm: TextModel, prompt_ids: list[int], settings: SamplingState, link: str) -> None:
    if session().clock.playing:
        return  # the lab waits for Pause: auto-play redraws only the live panel
    sampling = settings.sampling()
    if not settings.presenter:
        decoders_section(lm, settings.prompt, prompt_ids, sampling, settings.seed, settings.tokens)
    export_section(lm, link)
    if not settings.presenter:
        quiz_section(lm, sampling)
