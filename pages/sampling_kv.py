"""The Live sampling page's "Why caching matters" panel: one text generated with and without the
key/value cache, timed per position (core.lessons.kv_timing), same seed, same tokens.

Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.figures.sampling import carried_state_figure, kv_timing_figure, kv_totals_figure
from core.lessons.kv_timing import growth_fits, growth_words, time_kv_cache, tokens_to_block
from core.lessons.sampling_session import SamplingSettings
from core.lessons.settings import SAMPLING_MODELS
from core.lessons.states import SamplingState
from core.lessons.step_memory import carried_state
from core.text.language_model import LLM_MODELS, context_ids
from pages.charts import chart_with_table
from pages.common import shared_model, show_error
from pages.state import bound, get, put

KV_REPEATS = 3  # runs per mode behind each timing median
LLM_KV_TOKENS = 256  # the real LLM times this many tokens, once per mode: its whole block, uncached, takes minutes


def kv_section(prompt: str, sampling: SamplingSettings, seed: int) -> None:
    st.subheader("Why caching matters")
    default = SAMPLING_MODELS.index(SamplingState().kv_model)
    name = st.selectbox("Model for this experiment", SAMPLING_MODELS, index=default, width=320, **bound("kv_model"))
    try:
        lm = shared_model(name)
    except ChainRuleError as e:  # a side experiment: a note, not an error over the whole page
        st.info(f"**{name}** cannot be loaded: {escape_markdown(str(e))} Pick another model here.", icon="ℹ️")
        return
    try:
        context_ids(lm, prompt)
    except ChainRuleError:
        st.caption(f"The sidebar's prompt is not in **{name}**'s vocabulary: this experiment starts from no prompt.")
        prompt = ""
    room = tokens_to_block(lm, prompt)
    llm = lm.name in LLM_MODELS
    n, repeats = (min(room, LLM_KV_TOKENS), 1) if llm else (room, KV_REPEATS)
    reach = (
        f"the first **{LLM_KV_TOKENS}** tokens after the prompt (of the {max(room, 0)} its block of {lm.block_size} "
        "leaves), once each: without the cache they take minutes on a laptop, so the experiment stops there. "
        "Any click stops it sooner"
        if llm
        else f"up to the block size of **{lm.name}** ({lm.block_size} tokens, {max(room, 0)} after the prompt)"
    )
    st.markdown(
        "Without a cache, every new token runs the network over the whole context again, so its cost grows "
        "with its position. A key/value cache keeps the keys and values of the earlier tokens, and only the "
        f"new token goes through the network. Both runs below generate {reach} with the same seed and settings."
    )
    kv_key = (lm.name, prompt, sampling, seed)
    if st.button("Time both ways", key="sampling_kv_run", disabled=room < 1, icon="⏱️"):
        # any click reruns the page and ends this run at the model's next wait (core.workers cancels the request)
        st.button("Stop", key="sampling_kv_stop", icon="⏹️", help="Stop the experiment; nothing is kept.")
        try:
            with st.spinner("Generating with and without the cache…"):
                result = time_kv_cache(lm, prompt, sampling, seed, repeats, max_new_tokens=n)
            put("sampling_kv", (kv_key, result))
        except ChainRuleError as e:
            show_error("The timing could not run.", e)
    if room < 1:
        st.caption(f"The prompt fills the whole block of {lm.block_size} tokens: shorten it to run the experiment.")
    got = get("sampling_kv")
    if got is None or got[0] != kv_key:
        return
    result = got[1]
    c1, c2, c3 = st.columns(3)
    c1.metric("Speed-up with the cache", f"{result.speedup:.1f}×")
    c2.metric("Total without cache", f"{result.total_uncached_s * 1000:.0f} ms")
    c3.metric("Total with cache", f"{result.total_cached_s * 1000:.0f} ms")
    chart_with_table(kv_timing_figure(result), "sampling_kv_chart")
    growth_section(result)
    if result.same_tokens:
        st.success(f"Both runs produced the same {len(result.cached_tokens)} tokens:", icon="✅")
    else:
        show_error("The two runs produced different tokens: the cache changed the maths.", icon="❌")
    st.code(lm.vocab.decode(result.cached_tokens), language=None, wrap_lines=True)
    if not result.same_tokens:
        st.code(lm.vocab.decode(result.uncached_tokens), language=None, wrap_lines=True)
    if result.speedup < 1.5:
        st.caption(
            f"With a block of only {lm.block_size} tokens, recomputing the prefix is cheap: the cache's "
            "bookkeeping costs about as much as it saves. The gap opens with longer contexts (shakespeare: 128)."
        )
    if len(result.cached_tokens) < n:
        st.caption(
            f"The text ended after {len(result.cached_tokens)} tokens, before the block was full; "
            "shakespeare's block of 128 tokens shows the growth best."
        )
    runs = f"Median of {result.repeats} runs per mode" if result.repeats > 1 else "One run per mode"
    st.caption(f"{runs} at each position; a token's time is its forward pass plus sampling.")


def growth_section(result) -> None:
    """How the totals grow: cumulative sums of the steps, a quadratic fitted without the cache, a line with it."""
    st.markdown(
        "**How the totals grow.** Generating n tokens costs the sum of the first n steps. Without the cache "
        "step t reads about t tokens, so the total should grow like a quadratic in n; with the cache every "
        "step reads one token, so like a line."
    )
    fits = growth_fits(result)
    if fits is None:
        st.caption("Fewer than 3 tokens were generated: too few points to fit a curve.")
        return
    chart_with_table(kv_totals_figure(result, *fits), "sampling_kv_totals")
    st.caption(
        growth_words(*fits) + " R² near 1: the curve explains the measured totals; noise on a shared CPU lowers it."
    )


STATE_MODELS = ("names", "names-gru", "names-mlp", "names-wavenet")  # the same names, four ways to carry a step
STATE_TEXT = "christopher"  # 13 tokens with the start and end: most of the names models' block of 16


@st.cache_resource(show_spinner="Reading the name one token at a time with each network…")
def cached_states(names: tuple[str, ...], ids: tuple[int, ...]) -> list:
    """Per server: the bytes are deterministic; the times are this machine's, measured once."""
    return [carried_state(shared_model(name), list(ids)) for name in names]


def loadable(name: str) -> bool:
    try:
        shared_model(name)
        return True
    except ChainRuleError:
        return False


def state_section() -> None:
    st.subheader("What a step carries")
    st.markdown(
        "Decoding token by token, each network keeps something so as not to redo the earlier steps. The "
        "transformer keeps every earlier token's keys and values: its cache **grows with the text**. The GRU "
        "keeps one hidden state, the MLP the last few tokens of its window, the WaveNet a short queue per "
        "layer: **the same size at every step**, and each reads only what that state holds."
    )
    names = tuple(n for n in STATE_MODELS if loadable(n))
    if missing := [n for n in STATE_MODELS if n not in names]:  # a side figure: say so once, not as errors
        st.info(f"Not drawn for {', '.join(missing)}: the weights are missing from assets/models.", icon="ℹ️")
    if not names:
        return
    first = shared_model(names[0])
    ids = tuple(context_ids(first, STATE_TEXT) + [first.vocab.eos_id])
    states = cached_states(names, ids)
    chart_with_table(carried_state_figure(states), "sampling_state_chart")
    cols = st.columns(len(states))
    for col, s in zip(cols, states, strict=True):
        col.metric(s.model, f"{s.nbytes[-1] / 1024:.2f} KiB", f"{'grows' if s.grows else 'fixed'}",
                   delta_color="off", help=f"after {len(ids)} tokens; median step {sorted(s.step_ms)[len(s.step_ms) // 2]:.2f} ms")  # fmt: skip
    st.caption(
        f"Measured on “{STATE_TEXT}” read one token at a time (float32 numbers). Hover a point for that step's "
        "time (median of 5). The transformer pays for its growing memory with reading the whole prefix at "
        "every step; the others forget by construction."
    )
