"""The Live sampling page's "Drift, side by side" section: the next token as drawn (A) against an alternative
forced in its place (B), both continued with the same seed (core.lessons.drift), their strips aligned, and
KL(p_A || p_B) at every later position.

Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

import math

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.figures.sampling import drift_figure, drift_strips, token_name, token_strip_markdown
from core.lessons.drift import (
    DEFAULT_PICK,
    MAX_DRIFT_TOKENS,
    MIN_DRIFT_TOKENS,
    TYPED_TOKEN_CHARS,
    drift,
    length_for,
    surviving_tokens,
    token_from_text,
)
from core.lessons.sampling_session import FORCE_CHOICES, SamplingSettings
from core.text.language_model import TextModel
from pages.charts import chart_with_table
from pages.common import show_error
from pages.sampling_history import session
from pages.state import bound, get, put, text_box


def pick_options(lm: TextModel, survivors: list[int]) -> dict[str, int]:
    """The selectbox's choices, name -> id: the default first, then the most probable survivors."""
    options = {DEFAULT_PICK: survivors[-1]}
    for i in survivors[:FORCE_CHOICES]:
        options.setdefault(token_name(lm.vocab, i), i)
    return options


def alternative_controls(lm: TextModel, survivors: list[int]) -> int | None:
    """The token to force: picked from the survivors, or typed (that wins); None after a message in words."""
    options = pick_options(lm, survivors)
    if get("drift_pick") not in options:  # another step's token, or a link's: back to the default
        put("drift_pick", DEFAULT_PICK)
    kept = f"the {len(survivors):,} tokens that survive the knobs" + (
        f" (the {FORCE_CHOICES} most probable listed)" if len(survivors) > FORCE_CHOICES else ""
    )
    pick_col, typed_col, length_col = st.columns([1.2, 1.2, 1])
    picked = pick_col.selectbox(
        "Alternative token", list(options), index=0, help=f"One of {kept}.", **bound("drift_pick")
    )
    with typed_col:
        typed = text_box(
            st.text_input,
            "…or type any token",
            "drift_typed",
            TYPED_TOKEN_CHARS,
            help="Any token of the model's vocabulary, even one the knobs cut; it replaces the pick. Empty: the pick.",
        )
    length_col.number_input(
        f"Tokens per continuation ({MIN_DRIFT_TOKENS} to {MAX_DRIFT_TOKENS})",
        MIN_DRIFT_TOKENS,
        MAX_DRIFT_TOKENS,
        20,
        1,
        help="The fork included. Each continuation is drawn in full, so longer takes longer.",
        **bound("drift_tokens"),
    )
    if not typed:
        return options[picked]
    try:
        return token_from_text(lm, typed)
    except ChainRuleError as e:
        show_error("That token cannot be forced.", e, icon="🚫")
        return None


def drift_section(lm: TextModel, sampling: SamplingSettings, seed: int, n: int) -> None:
    """The section: framing, the controls, then (when on) both continuations, their strips and the figure."""
    st.subheader("Drift, side by side")
    st.markdown(
        "What if the next token were different? Below, **A** is the next token drawn as usual and its "
        "continuation; **B** forces another token in its place and continues with the same seed. Every later "
        "conditional reads the forced token, so one early choice moves every distribution after it: the KL bars "
        "measure by how much, position by position."
    )
    h = session().history
    if h.finished:
        st.caption("The text ended with the end token: press **Back** to compare continuations from an earlier step.")
        return
    context = h.ids  # the prompt and every token drawn so far: the fork is the next step
    survivors = surviving_tokens(lm, context, sampling, session().step_logits(lm, context))
    alternative = alternative_controls(lm, survivors)
    on = st.toggle(
        "Draw both continuations",
        help="Each one is drawn with the seed from the sidebar (the real LLM takes a few seconds).",
        **bound("drift_on"),
    )
    if alternative is None or not on:
        return
    n, note = length_for(lm, n)
    if note:
        st.caption(note)
    key = (lm.name, tuple(context), sampling, seed, n, alternative)
    memo = get("_drift_memo")
    if memo is None or memo[0] != key:
        try:
            with st.spinner("Drawing both continuations…"):
                memo = (key, drift(lm, context, sampling, seed, n, alternative))
        except ChainRuleError as e:
            show_error("The comparison could not be drawn.", e)
            return
        put("_drift_memo", memo)
    result = memo[1]
    strip_a, strip_b = drift_strips(lm.vocab, result)
    fork = len(h) + 1
    drawn_id = result.drawn.token_ids[0]
    drawn_p, forced_p = math.exp(result.drawn.logprobs[0]), math.exp(result.forced.logprobs[0])
    st.markdown(
        f"**Fork at step {fork}.** A draws {escape_markdown(token_name(lm.vocab, drawn_id))} (p = {drawn_p:.3g}); "
        f"B forces {escape_markdown(token_name(lm.vocab, alternative))} (p = {forced_p:.3g}), both under the model."
    )
    with st.container(key="drift_strip_a"):
        st.markdown(f"**A, drawn** (log p = {result.drawn.logprob:.2f}): " + token_strip_markdown(strip_a, None))
    with st.container(key="drift_strip_b"):
        st.markdown(f"**B, forced** (log p = {result.forced.logprob:.2f}): " + token_strip_markdown(strip_b, None))
    if result.same_fork:
        st.info(
            "The forced token is the one A drew: with the same random numbers B is A, and every KL is 0.", icon="🟰"
        )
    figure = drift_figure(lm.vocab, result, context)
    chart_with_table(figure, "drift_chart", name=f"{lm.name}-drift")
    later = result.kl[1:]
    st.caption(
        "KL(p_A ‖ p_B) = Σ p_A log(p_A / p_B), in nats, of the model's own next-token distributions (temperature 1, "
        "nothing cut: after a cut a token kept on one side only would make it infinite). It is 0 at the fork, where "
        "both read the same context"
        + (
            f"; after it, {sum(later):.2f} nats summed over {len(later)} position{'s' * (len(later) > 1)}."
            if later
            else "."
        )
        + " Both continuations use the same random numbers after the fork: B differs from A only by the forced token."
    )
