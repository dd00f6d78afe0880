"""Sections 3 and 4 of the Attention page (pages/attention.py): what peeking breaks (the leaky model's
losses, probe and samples) and the measured dependence of each prediction on every token, for our
models and, on request, for the real LLM. Not a page itself: a module, compiled once."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import ChainRuleError, score
from core.figures import attention as figures
from core.lessons import attention_lesson as lesson
from core.lessons import causality
from core.lessons.families import conditions_on
from core.text.language_model import LLM_MODELS
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.common import model_or_error, shared_model, show_error
from pages.state import bound, get, setter, text_box

N_SAMPLES = 8


# Cached per server by the shared model's name (pages.common.shared_model), the pages' one cache key.
@st.cache_data(show_spinner=False, max_entries=256)
def cached_samples(name: str, n: int, seed: int):
    """``sample_texts``: deterministic for given weights and seed, so shared by reruns and sessions."""
    return causality.sample_texts(shared_model(name), n, seed=seed)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_dependence(name: str, ids: tuple[int, ...]):
    """``dependence_matrix``: deterministic for given weights and tokens, so shared by reruns and sessions."""
    return causality.dependence_matrix(shared_model(name), list(ids))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_llm_dependence(name: str, ids: tuple[int, ...]):
    """``llm_dependence``: seconds of CPU per text, so computed once per server."""
    return lesson.llm_dependence(shared_model(name), list(ids))


def show_dependence(col, values: np.ndarray, labels: list[str], title: str, name: str, key: str | None = None) -> None:
    """One measured dependence map with its verdict: the largest value above the diagonal."""
    key = f"attention_dependence_{key or name}"
    chart_with_table(figures.dependence_heatmap(values, labels, title), key, col)
    col.metric(
        f"{name}: max above the diagonal",
        lesson.format_max(causality.max_above_diagonal(values)),
        help="The largest change of a prediction when a LATER token is replaced.",
    )
    col.caption(lesson.upper_summary(values))


def probe_section(pair) -> causality.Window | None:
    """The probe name under both names models: teacher-forced probabilities; returns its window or None."""
    probe = text_box(st.text_input, "A name to probe (this section and the next)", "attention_probe", 200, value="emma")
    try:
        window = causality.text_window(pair[0], probe)  # both names models share one vocabulary
        scores = [score(m, probe) for m in pair]
    except ChainRuleError as e:
        show_error("Probe name:", e)
        return None
    st.markdown("**Teacher-forced probabilities** of each token of the probe name (the end token '.' included):")
    table = {"token": scores[0].tokens}
    for m, sc in zip(pair, scores, strict=True):
        table[f"p under {m.name}"] = [round(p, 4) for p in sc.probs]
    st.dataframe(table, hide_index=True, key="attention_probe_table")
    nlls = " · ".join(f"{m.name}: {sc.nll:.2f} nats for the whole name" for m, sc in zip(pair, scores, strict=True))
    leaky = [(m, sc) for m, sc in zip(pair, scores, strict=True) if not m.is_causal]
    st.caption(nlls + "." + "".join(" " + lesson.leaky_probe_note(m.name, sc.probs) for m, sc in leaky))
    return window


def peeking_sections() -> None:
    st.header("3. What peeking breaks", divider="gray")
    st.markdown(lesson.PEEKING)
    pair = [m for m in (model_or_error("names"), model_or_error("names-leaky")) if m is not None]
    probe_window = None
    if pair:
        summaries = [causality.training_summary(m) for m in pair]
        metric_cols = st.columns(2 * len(summaries))
        for k, s in enumerate(summaries):
            held, train = lesson.format_loss(s.heldout_nll), lesson.format_loss(s.train_nll)
            metric_cols[2 * k].metric(f"{s.name}: held-out", held, help="NLL in nats per token on names not trained on")
            metric_cols[2 * k + 1].metric(
                f"{s.name}: training", train, help="NLL in nats per token on the training names"
            )
        if any(s.curve for s in summaries):
            chart_with_table(figures.training_curves_figure(summaries), "attention_curves_fig")
        st.caption(lesson.LOSSES_NOTE)
        probe_window = probe_section(pair)
        st.markdown(lesson.SAMPLES_NOTE)
        seed = int(st.number_input(f"Sampling seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1,
                                   **bound("attention_sample_seed")))  # fmt: skip
        for col, m in zip(st.columns(len(pair)), pair, strict=True):
            samples = cached_samples(m.name, N_SAMPLES, seed)
            col.markdown(f"**Samples from {m.name}** (seeds {seed}–{seed + N_SAMPLES - 1})")
            col.dataframe(lesson.samples_table(samples), hide_index=True, key=f"attention_samples_{m.name}")
            n_empty = sum(1 for s in samples if not s.text)
            col.caption(
                f"{n_empty} of {len(samples)} samples are empty; mean length "
                f"{np.mean([len(s.text) for s in samples]):.1f} letters."
            )
    st.header("4. Check causality, don't trust it", divider="gray")
    st.markdown(lesson.DEPENDENCE_INTRO)
    if probe_window is None:
        st.info("The dependence check needs the names models and a valid probe name (see above).")
        return
    if probe_window.n_dropped:
        st.info(
            f"The probe is longer than the {probe_window.limit}-token context: only its last "
            f"{probe_window.T} tokens are used.",
            icon="✂️",
        )
    for col, m in zip(st.columns(len(pair)), pair, strict=True):
        dep = cached_dependence(m.name, tuple(probe_window.ids))
        show_dependence(col, dep.values, probe_window.labels, lesson.ATTENTION_MODELS[m.name].label, m.name)
    st.caption(
        "Computed live from the models: one forward pass per column with every replacement token at once. "
        "Colours are on a log scale, so a dependence of 0.000004 shows as clearly as one of 0.5; grey cells "
        "are exactly 0. Hover a cell for its value."
    )


def no_attention(lm, window) -> None:
    """Section 2 for a network without attention: what it reads, measured on the text above."""
    st.markdown(lesson.NO_ATTENTION.format(name=lm.name, reads=conditions_on(lm)))
    dep = cached_dependence(lm.name, tuple(window.ids))
    left, _ = st.columns([3, 2])
    show_dependence(left, dep.values, window.labels, lesson.ATTENTION_MODELS[lm.name].label, lm.name, f"{lm.name}-text")


def families_section() -> None:
    st.subheader("The same check on networks without attention")
    st.markdown(lesson.FAMILIES_INTRO)
    models = [m for m in (model_or_error(n) for n in lesson.OTHER_FAMILIES) if m is not None]
    name = text_box(st.text_input, "A name for every network", "attention_family_name", 200, value="christopher")
    try:
        window = causality.text_window(models[0], name) if models else None
    except ChainRuleError as e:
        show_error("", e)
        return
    if window is None:
        return
    for row in (models[:2], models[2:]):
        for col, m in zip(st.columns(2), row, strict=False):
            dep = cached_dependence(m.name, tuple(window.ids))
            with col:
                st.caption(f"**{m.name}** reads {conditions_on(m)}.")
            show_dependence(col, dep.values, window.labels, m.name, m.name, f"family-{m.name}")
    st.caption(
        "Each map: one forward pass per column j with every replacement token at once; row i is the "
        "prediction after token i. Log colour scale; grey cells are exactly 0."
    )


def llm_check(lm, window) -> None:
    """The real LLM's dependence on the page's text, measured on request (seconds of CPU)."""
    if lm is None or lm.name not in LLM_MODELS or window is None:
        return
    st.subheader(f"{lm.name} on your text")
    ids = tuple(window.ids[: lesson.LLM_DEPENDENCE_TOKENS])
    n = len(ids)
    st.markdown(lesson.llm_check_intro(n, lm.vocab.size))
    st.button(f"Measure {lm.name}'s dependence on these {n} tokens", key="attention_llm_check_button",
              on_click=setter("attention_llm_check", ids))  # fmt: skip
    if get("attention_llm_check") != ids:
        return
    with st.spinner(f"Running {lm.name} on {n * (lesson.LLM_REPLACEMENTS + 1)} variants of your text…"):
        dep, candidates = cached_llm_dependence(lm.name, ids)
    left, right = st.columns([5, 4])  # room for the replacement tokens
    show_dependence(
        left, dep.values, window.labels[:n], f"{lm.name}: {lesson.LLM_REPLACEMENTS} replacements per token", lm.name
    )
    replaced = ["  ·  ".join(lm.vocab.token_text(t) for t in c) for c in candidates]
    table = {"position": list(range(n)), "token": window.labels[:n], "replaced by": replaced}
    right.dataframe(table, hide_index=True, key="attention_llm_replacements")
