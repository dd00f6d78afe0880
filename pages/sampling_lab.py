"""The sampler lab of the Live sampling page: greedy / sampled / beam search, the exports and Check yourself.
Not a page itself: a module of pages/sampling.py. (The extra knobs are in pages/sampling_sidebar.py, "Draw N
times" in pages/sampling_draws.py, the text in the URL in pages/sampling_link.py.)
"""

from __future__ import annotations

import streamlit as st
import torch

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.exports import history_csv
from core.figures.sampling import token_name
from core.lessons import questions
from core.lessons.decoders import common_prefix, compare_decoders
from core.lessons.sampling_session import SamplingSettings
from core.lessons.states import SamplingState
from core.text.language_model import TextModel
from pages.common import show_error
from pages.quiz_panel import check_yourself, quiz_rng
from pages.sampling_history import session
from pages.state import get, put

BEAM_WIDTHS = (2, 3, 4, 5)
COMPARE_TOKENS = 30  # longest continuation the three decoders compare (beam search costs width x that)


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
