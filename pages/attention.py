"""Attention and causality: the causal mask, the learned attention, what peeking breaks, and a live check.

Thin page: read the widgets, call ``core.lessons.causality`` and ``core.lessons.attention_lesson``,
draw the figures of ``core.figures.attention``. The real LLM (smollm2) gets one layer's heads at a
time plus a one-number-per-head overview, and a causality check on a few replacements per token.
"""

import numpy as np
import streamlit as st

from core import ChainRuleError, causal_mask, score
from core.display import escape_markdown
from core.figures import attention as figures
from core.lessons import attention_lesson as lesson
from core.lessons import causality, questions
from core.text.language_model import LLM_MODELS
from pages.attention_panels import learned_attention, weights_key
from pages.common import chart_config, model_or_error
from pages.quiz_panel import check_yourself, quiz_rng

TOY_TOKENS = 6  # the toy example uses the first few tokens so every number fits in its cell
N_SAMPLES = 8
MAX_TOKENS = causality.MAX_SHOWN_TOKENS


@st.cache_data(show_spinner=False, max_entries=256)
def cached_samples(_lm, model_key: str, n: int, seed: int):
    """``sample_texts``: deterministic for given weights and seed, so shared by reruns and sessions."""
    return causality.sample_texts(_lm, n, seed=seed)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_dependence(_lm, model_key: str, ids: tuple[int, ...]):
    """``dependence_matrix``: deterministic for given weights and tokens, so shared by reruns and sessions."""
    return causality.dependence_matrix(_lm, list(ids))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_llm_dependence(_lm, model_key: str, ids: tuple[int, ...]):
    """``llm_dependence``: seconds of CPU per text, so computed once per server."""
    return lesson.llm_dependence(_lm, list(ids))


def _init_state() -> None:
    defaults = {
        "attention_model": "names",
        "attention_text": lesson.ATTENTION_MODELS["names"].examples[0],
        "attention_layer": 1,
        "attention_head": 1,
        "attention_toy_seed": 0,
        "attention_probe": "emma",
        "attention_sample_seed": 0,
        "attention_statistic": next(iter(lesson.HEAD_STATISTICS)),
    }
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def _on_model_change() -> None:
    """A new model has other examples and may have fewer heads: start from its defaults."""
    st.session_state["attention_text"] = lesson.ATTENTION_MODELS[st.session_state["attention_model"]].examples[0]
    st.session_state["attention_layer"] = 1
    st.session_state["attention_head"] = 1


def _use_example(text: str) -> None:
    st.session_state["attention_text"] = text


def _request_llm_check(ids: tuple[int, ...]) -> None:
    st.session_state["attention_llm_check"] = ids


def _show_dependence(col, values: np.ndarray, labels: list[str], title: str, name: str) -> None:
    """One measured dependence map with its verdict: the largest value above the diagonal."""
    col.plotly_chart(
        figures.dependence_heatmap(values, labels, title),
        key=f"attention_dependence_{name}",
        config=chart_config(f"attention_dependence_{name}"),
    )
    col.metric(
        f"{name}: max above the diagonal",
        lesson.format_max(causality.max_above_diagonal(values)),
        help="The largest change of a prediction when a LATER token is replaced.",
    )
    col.caption(lesson.upper_summary(values))


_init_state()
st.title("Attention and causality")
st.markdown(lesson.INTRO)
model_name = st.radio(
    "Model",
    list(lesson.ATTENTION_MODELS),
    format_func=lambda name: lesson.ATTENTION_MODELS[name].label,
    key="attention_model",
    horizontal=True,
    on_change=_on_model_change,
)
examples = lesson.ATTENTION_MODELS[model_name].examples
example_cols = st.columns(len(examples) + 1)
example_cols[0].markdown("Examples:")
for k, example in enumerate(examples):
    label = repr(example) if "\n" in example else example
    example_cols[k + 1].button(label, key=f"attention_example_{k}", on_click=_use_example, args=(example,))
text = st.text_area("Text the model reads", key="attention_text", height=80, max_chars=lesson.MAX_TEXT_CHARS)

with st.spinner(lesson.LOADING.get(model_name, "Loading the model…")):
    lm = model_or_error(model_name)
window = None
if lm is not None:
    try:
        window = causality.text_window(lm, text, MAX_TOKENS)
    except ChainRuleError as e:
        st.error(escape_markdown(str(e)), icon="⚠️")
if window is not None and (note := lesson.crop_note(window, lm.block_size, len(text))):
    st.info(note, icon="✂️")

# ---------------------------------------------------------------------------------------------
st.header("1. The causal mask", divider="gray")
labels = window.labels if window is not None else causality.character_labels(text or ".", MAX_TOKENS)
T = len(labels)
allowed = causal_mask(T).numpy()  # (T, T) True where row i may read column j
st.markdown(
    f"For these {T} positions the mask lets row *i* read columns 0..*i* only — the lower triangle, "
    f"{int(allowed.sum())} of {T * T} cells. Without it (right) every position reads the whole text, "
    "including the very token it is supposed to predict."
)
left, right = st.columns(2)
left.plotly_chart(
    figures.mask_figure(allowed, labels, "Causal mask: row i may read j ≤ i"),
    key="attention_mask_fig",
    config=chart_config("attention_mask_fig"),
)
everything = np.ones((T, T), dtype=bool)
right.plotly_chart(
    figures.mask_figure(everything, labels, "No mask: every row reads every column"),
    key="attention_full_fig",
    config=chart_config("attention_full_fig"),
)

st.subheader("Why masked weights are exactly 0")
toy_seed = st.number_input("Toy scores seed", min_value=0, max_value=9999, step=1, key="attention_toy_seed")
toy = causality.toy_attention(labels[:TOY_TOKENS], seed=int(toy_seed))
st.markdown(lesson.TOY_INTRO)
st.latex(lesson.TOY_LATEX)
c1, c2, c3 = st.columns(3)
c1.plotly_chart(
    figures.toy_matrix_figure(toy.scores, toy.labels, "scores s = q·k/√2"),
    key="attention_toy_scores",
    config=chart_config("attention_toy_scores"),
)
c2.plotly_chart(
    figures.toy_matrix_figure(toy.masked_scores, toy.labels, "masked: −∞ = future"),
    key="attention_toy_masked",
    config=chart_config("attention_toy_masked"),
)
c3.plotly_chart(
    figures.toy_matrix_figure(toy.weights, toy.labels, "softmax of each row"),
    key="attention_toy_weights",
    config=chart_config("attention_toy_weights"),
)
st.caption(
    f"Largest weight above the diagonal: {lesson.format_max(causality.max_above_diagonal(toy.weights))}; "
    f"each row sums to 1 (largest deviation {np.abs(toy.weights.sum(-1) - 1).max():.1e})."
)

# ---------------------------------------------------------------------------------------------
st.header("2. Learned attention", divider="gray")
if window is None:
    st.info("Learned attention needs a loaded model and a valid text (see the message above).")
else:
    learned_attention(lm, window)

# ---------------------------------------------------------------------------------------------
st.header("3. What peeking breaks", divider="gray")
st.markdown(lesson.PEEKING)
pair = [m for m in (model_or_error("names"), model_or_error("names-leaky")) if m is not None]
probe_window = None  # the probe name as the names models read it, once it is valid
if pair:
    summaries = [causality.training_summary(m) for m in pair]
    metric_cols = st.columns(2 * len(summaries))
    for k, s in enumerate(summaries):
        held, train = lesson.format_loss(s.heldout_nll), lesson.format_loss(s.train_nll)
        metric_cols[2 * k].metric(f"{s.name}: held-out", held, help="NLL in nats per token on names not trained on")
        metric_cols[2 * k + 1].metric(f"{s.name}: training", train, help="NLL in nats per token on the training names")
    if any(s.curve for s in summaries):
        st.plotly_chart(
            figures.training_curves_figure(summaries),
            key="attention_curves_fig",
            config=chart_config("attention_curves_fig"),
        )
    st.caption(lesson.LOSSES_NOTE)

    probe = st.text_input("A name to probe (this section and the next)", key="attention_probe", max_chars=200)
    try:
        probe_window = causality.text_window(pair[0], probe)  # both names models share one vocabulary
        probe_scores = [score(m, probe) for m in pair]
    except ChainRuleError as e:
        st.error(f"Probe name: {escape_markdown(str(e))}", icon="⚠️")
    else:
        st.markdown("**Teacher-forced probabilities** of each token of the probe name (the end token '.' included):")
        table = {"token": probe_scores[0].tokens}
        for m, sc in zip(pair, probe_scores, strict=True):
            table[f"p under {m.name}"] = [round(p, 4) for p in sc.probs]
        st.dataframe(table, hide_index=True, key="attention_probe_table")
        nlls = " · ".join(
            f"{m.name}: {sc.nll:.2f} nats for the whole name" for m, sc in zip(pair, probe_scores, strict=True)
        )
        leaky = [(m, sc) for m, sc in zip(pair, probe_scores, strict=True) if not m.is_causal]
        st.caption(nlls + "." + "".join(" " + lesson.leaky_probe_note(m.name, sc.probs) for m, sc in leaky))

    st.markdown(lesson.SAMPLES_NOTE)
    sample_seed = st.number_input("Sampling seed", min_value=0, max_value=10**6, step=1, key="attention_sample_seed")
    for col, m in zip(st.columns(len(pair)), pair, strict=True):
        samples = cached_samples(m, weights_key(m), N_SAMPLES, int(sample_seed))
        col.markdown(f"**Samples from {m.name}** (seeds {int(sample_seed)}–{int(sample_seed) + N_SAMPLES - 1})")
        col.dataframe(lesson.samples_table(samples), hide_index=True, key=f"attention_samples_{m.name}")
        n_empty = sum(1 for s in samples if not s.text)
        mean_length = np.mean([len(s.text) for s in samples])
        col.caption(f"{n_empty} of {len(samples)} samples are empty; mean length {mean_length:.1f} letters.")

# ---------------------------------------------------------------------------------------------
st.header("4. Check causality, don't trust it", divider="gray")
st.markdown(lesson.DEPENDENCE_INTRO)
if probe_window is None:
    st.info("The dependence check needs the names models and a valid probe name (see above).")
else:
    if probe_window.n_dropped:
        st.info(
            f"The probe is longer than the {probe_window.limit}-token context: only its last "
            f"{probe_window.T} tokens are used.",
            icon="✂️",
        )
    for col, m in zip(st.columns(len(pair)), pair, strict=True):
        dep = cached_dependence(m, weights_key(m), tuple(probe_window.ids))
        _show_dependence(col, dep.values, probe_window.labels, lesson.ATTENTION_MODELS[m.name].label, m.name)
    st.caption(
        "Computed live from the models: one forward pass per column with every replacement token at once. "
        "Colours are on a log scale, so a dependence of 0.000004 shows as clearly as one of 0.5; grey cells "
        "are exactly 0. Hover a cell for its value."
    )

if model_name in LLM_MODELS and window is not None:
    st.subheader(f"{lm.name} on your text")
    ids = tuple(window.ids[: lesson.LLM_DEPENDENCE_TOKENS])
    n = len(ids)
    st.markdown(lesson.llm_check_intro(n, lm.vocab.size))
    st.button(
        f"Measure {lm.name}'s dependence on these {n} tokens",
        key="attention_llm_check_button",
        on_click=_request_llm_check,
        args=(ids,),
    )
    if st.session_state.get("attention_llm_check") == ids:
        with st.spinner(f"Running {lm.name} on {n * (lesson.LLM_REPLACEMENTS + 1)} variants of your text…"):
            dep, candidates = cached_llm_dependence(lm, weights_key(lm), ids)
        left, right = st.columns([5, 4])  # room for the replacement tokens
        title = f"{lm.name}: {lesson.LLM_REPLACEMENTS} replacements per token"
        _show_dependence(left, dep.values, window.labels[:n], title, lm.name)
        replaced = ["  ·  ".join(lm.vocab.token_text(t) for t in c) for c in candidates]
        table = {"position": list(range(n)), "token": window.labels[:n], "replaced by": replaced}
        right.dataframe(table, hide_index=True, key="attention_llm_replacements")

check_yourself(
    "attention",
    [
        questions.attention_mask_zeros(quiz_rng("attention", 1)),
        None
        if window is None
        else questions.attention_what_changes(
            quiz_rng("attention", 2), window.labels, window.starts_with_start_token, lm.is_causal
        ),
    ],
)
