"""Attention and causality: the causal mask, the learned attention, what peeking breaks, and a live check.

Thin page: read the widgets, call ``core.lessons.causality``, draw the figures of ``core.figures.attention``.
"""

import numpy as np
import streamlit as st

from core import ChainRuleError, causal_mask, score
from core.display import escape_markdown
from core.figures.attention import (
    attention_grid,
    dependence_heatmap,
    mask_figure,
    toy_matrix_figure,
    training_curves_figure,
    value_heatmap,
)
from core.lessons.causality import (
    MAX_SHOWN_TOKENS,
    attention_weights,
    character_labels,
    dependence_matrix,
    max_above_diagonal,
    sample_texts,
    text_window,
    toy_attention,
    training_summary,
    where_it_looks,
)
from pages.common import model_or_error

# Models whose attention can be drawn, with example texts for each (the first is the default).
ATTENTION_MODELS = {
    "names": ["emma", "isabella", "christopher", "zqxj"],
    "shakespeare": ["ROMEO:\nBut soft, what light", "First Citizen:\nBefore we proceed", "To be, or not to be"],
    "names-leaky": ["emma", "isabella", "christopher", "zqxj"],
}
MODEL_LABELS = {
    "names": "names (causal)",
    "shakespeare": "shakespeare (causal)",
    "names-leaky": "names-leaky (no mask)",
}
TOY_TOKENS = 6  # the toy example uses the first few tokens so every number fits in its cell
N_SAMPLES = 8


def _model_key(lm) -> str:
    """What identifies a model's weights for the caches below (its card's checksum when it has one)."""
    return f"{lm.name}:{lm.card.get('weights_sha256') or id(lm.net)}"


@st.cache_data(show_spinner=False, max_entries=256)
def cached_samples(_lm, model_key: str, n: int, seed: int):
    """``sample_texts``: deterministic for given weights and seed, so shared by reruns and sessions."""
    return sample_texts(_lm, n, seed=seed)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_dependence(_lm, model_key: str, ids: tuple[int, ...]):
    """``dependence_matrix``: deterministic for given weights and tokens, so shared by reruns and sessions."""
    return dependence_matrix(_lm, list(ids))


def _init_state() -> None:
    defaults = {
        "attention_model": "names",
        "attention_text": ATTENTION_MODELS["names"][0],
        "attention_layer": 1,
        "attention_head": 1,
        "attention_toy_seed": 0,
        "attention_probe": "emma",
        "attention_sample_seed": 0,
    }
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def _on_model_change() -> None:
    """A new model has other examples and may have fewer heads: start from its defaults."""
    st.session_state["attention_text"] = ATTENTION_MODELS[st.session_state["attention_model"]][0]
    st.session_state["attention_layer"] = 1
    st.session_state["attention_head"] = 1


def _use_example(text: str) -> None:
    st.session_state["attention_text"] = text


def _fmt_nll(x: float | None) -> str:
    """A loss from a card; tiny ones (the leaky model's) keep their size instead of showing 0.000."""
    if x is None:
        return "—"
    return f"{x:.3f}" if x >= 0.01 else f"{x:.1e}"


def _fmt_max(x: float) -> str:
    return "0 (exactly)" if x == 0.0 else f"{x:.3g}"


_init_state()
st.title("Attention and causality")
st.markdown(
    "A transformer computes **every** conditional $p(x_{i+1} \\mid x_0 \\dots x_i)$ of the chain rule in "
    "one pass over the whole text. It is only a valid autoregressive model if the prediction at position "
    "*i* never reads a later position. That guarantee lives in the **connectivity**: the causal mask. "
    "In every heatmap below, **row *i*** is the prediction made after reading tokens 0..*i* "
    "(token 0 is the start token) and **column *j*** is the token it may read; row 0 is at the top."
)

model_name = st.radio(
    "Model",
    list(ATTENTION_MODELS),
    format_func=MODEL_LABELS.get,
    key="attention_model",
    horizontal=True,
    on_change=_on_model_change,
)
example_cols = st.columns(len(ATTENTION_MODELS[model_name]) + 1)
example_cols[0].markdown("Examples:")
for k, example in enumerate(ATTENTION_MODELS[model_name]):
    example_cols[k + 1].button(
        repr(example) if "\n" in example else example,
        key=f"attention_example_{k}",
        on_click=_use_example,
        args=(example,),
    )
text = st.text_area("Text the model reads", key="attention_text", height=80, max_chars=2000)

lm = model_or_error(model_name)
window = None
if lm is not None:
    try:
        window = text_window(lm, text, MAX_SHOWN_TOKENS)
    except ChainRuleError as e:
        st.error(escape_markdown(str(e)), icon="⚠️")
if window is not None and window.n_dropped:
    total = window.T + window.n_dropped
    if window.limit == lm.block_size:
        why = (
            f"the model reads at most {lm.block_size} tokens, so it reads — and the page shows — only the last "
            f"{window.T}, exactly as when it samples past its context"
        )
    else:
        why = (
            f"heatmaps stay legible up to {window.limit} tokens, so the model is run on the last {window.T} "
            f"alone (it could read up to {lm.block_size}) and everything below is for that window"
        )
    st.info(
        f"The start token plus your text make {total} tokens, but {why}. "
        f"The first {window.n_dropped} tokens, start token included, are dropped.",
        icon="✂️",
    )

# ---------------------------------------------------------------------------------------------
st.header("1. The causal mask", divider="gray")
labels = window.labels if window is not None else character_labels(text or ".", MAX_SHOWN_TOKENS)
T = len(labels)
allowed = causal_mask(T).numpy()  # (T, T) True where row i may read column j
st.markdown(
    f"For these {T} positions the mask lets row *i* read columns 0..*i* only — the lower triangle, "
    f"{int(allowed.sum())} of {T * T} cells. Without it (right) every position reads the whole text, "
    "including the very token it is supposed to predict."
)
left, right = st.columns(2)
left.plotly_chart(mask_figure(allowed, labels, "Causal mask: row i may read j ≤ i"), key="attention_mask_fig")
right.plotly_chart(
    mask_figure(np.ones((T, T), dtype=bool), labels, "No mask: every row reads every column"),
    key="attention_full_fig",
)

st.subheader("Why masked weights are exactly 0")
toy_seed = st.number_input("Toy scores seed", min_value=0, max_value=9999, step=1, key="attention_toy_seed")
toy = toy_attention(labels[:TOY_TOKENS], seed=int(toy_seed))
st.markdown(
    "Each position has a query $q_i$ and a key $k_j$ (random 2-d vectors here); the score is "
    "$s_{ij} = q_i \\cdot k_j / \\sqrt{2}$. The mask replaces every score above the diagonal by "
    "$-\\infty$, and the softmax of each row turns $e^{-\\infty}$ into **exactly 0**:"
)
st.latex(
    r"w_{ij} = \frac{e^{s_{ij}}}{\sum_{k \le i} e^{s_{ik}}} \quad (j \le i), \qquad w_{ij} = \frac{e^{-\infty}}{\cdots} = 0 \quad (j > i)"
)
c1, c2, c3 = st.columns(3)
c1.plotly_chart(toy_matrix_figure(toy.scores, toy.labels, "scores s = q·k/√2"), key="attention_toy_scores")
c2.plotly_chart(toy_matrix_figure(toy.masked_scores, toy.labels, "masked: −∞ = future"), key="attention_toy_masked")
c3.plotly_chart(toy_matrix_figure(toy.weights, toy.labels, "softmax of each row"), key="attention_toy_weights")
st.caption(
    f"Largest weight above the diagonal: {_fmt_max(max_above_diagonal(toy.weights))}; "
    f"each row sums to 1 (largest deviation {np.abs(toy.weights.sum(-1) - 1).max():.1e})."
)

# ---------------------------------------------------------------------------------------------
st.header("2. Learned attention", divider="gray")
if window is None:
    st.info("Learned attention needs a loaded model and a valid text (see the message above).")
else:
    weights = attention_weights(lm, window)  # (n_layer, n_head, T, T)
    n_layer, n_head = weights.shape[:2]
    model_allowed = causal_mask(window.T).numpy() if lm.is_causal else None
    c_layer, c_head, c_query = st.columns([1, 1, 2])
    layer = c_layer.selectbox("Layer", list(range(1, n_layer + 1)), key="attention_layer")
    head = c_head.selectbox("Head", list(range(1, n_head + 1)), key="attention_head")
    query = c_query.slider(
        "Query position: the row to inspect (it predicts the token after it)",
        min_value=0,
        max_value=window.T - 1,
        value=window.T - 1,  # a text of another length resets the slider to its last row
        key="attention_query",
    )
    head_weights = weights[layer - 1, head - 1]  # (T, T)
    left, right = st.columns([3, 2])
    left.plotly_chart(
        value_heatmap(
            head_weights,
            window.labels,
            f"{lm.name}: layer {layer}, head {head}",
            allowed=model_allowed,
            highlight_row=query,
            height=480 if window.T <= 16 else 600,
        ),
        key="attention_head_fig",
    )
    with right:
        st.markdown(f"**Where row {query} ('{window.labels[query]}') looks** in layer {layer}, head {head}:")
        looks = where_it_looks(head_weights[query], window.labels, top=5)
        st.dataframe(
            {
                "position": [look.position for look in looks],
                "token": [look.token for look in looks],
                "weight": [round(look.weight, 4) for look in looks],
            },
            hide_index=True,
            key="attention_looks_table",
        )
        worst = max_above_diagonal(weights)
        st.metric(
            "Max weight above the diagonal",
            _fmt_max(worst),
            help="The largest attention weight on a later token, over every layer, head and row of this text.",
        )
        row_error = float(np.abs(weights.sum(-1) - 1).max())
        st.metric("Max |row sum − 1|", f"{row_error:.1e}", help="Each row is a softmax: its weights sum to 1.")
        n_upper = n_layer * n_head * window.T * (window.T - 1) // 2
        if worst == 0.0:
            st.success(
                f"All {n_upper} weights above the diagonal ({n_layer} layers × {n_head} heads) are exactly 0.0: "
                "no prediction reads a later token.",
                icon="✅",
            )
        else:
            st.warning(
                f"This model puts weight up to {worst:.3g} on later tokens: it reads the future, so its "
                "'predictions' are not conditionals of the chain rule.",
                icon="👀",
            )
    st.subheader(f"All heads of {lm.name}")
    show_ticks = window.T <= 16
    st.plotly_chart(
        attention_grid(
            weights, window.labels, allowed=model_allowed, selected=(layer - 1, head - 1), show_ticks=show_ticks
        ),
        key="attention_grid_fig",
    )
    st.caption(
        "One panel per layer and head; the selected one is outlined in orange. Hover a cell for its weight."
        + ("" if show_ticks else " Token labels are hidden in the small panels for texts over 16 tokens.")
    )

# ---------------------------------------------------------------------------------------------
st.header("3. What peeking breaks", divider="gray")
st.markdown(
    "**names-leaky** is the same transformer trained on the same names **without the mask**. During "
    "training the whole name is in the input, so the 'prediction' at row *i* can simply read token *i+1* "
    "and copy it: **training becomes trivial**. At sampling time the next token does not exist yet — "
    "there is nothing to copy — so **inference is impossible** and the samples fall apart."
)
causal_lm = model_or_error("names")
leaky_lm = model_or_error("names-leaky")
pair = [m for m in (causal_lm, leaky_lm) if m is not None]
probe_window = None  # the probe name as the names models read it, once it is valid
if pair:
    summaries = [training_summary(m) for m in pair]
    metric_cols = st.columns(2 * len(summaries))
    for k, s in enumerate(summaries):
        held, train = _fmt_nll(s.heldout_nll), _fmt_nll(s.train_nll)
        metric_cols[2 * k].metric(f"{s.name}: held-out", held, help="NLL in nats per token on names not trained on")
        metric_cols[2 * k + 1].metric(f"{s.name}: training", train, help="NLL in nats per token on the training names")
    if any(s.curve for s in summaries):
        st.plotly_chart(training_curves_figure(summaries), key="attention_curves_fig")
    st.caption(
        "Final negative log-likelihoods in nats per token, from each model's card. Both are teacher-forced: "
        "the true name is fed in and each next token is scored. For the leaky model that lets it read the "
        "answer, so its loss says nothing about sampling."
    )

    probe = st.text_input("A name to probe (this section and the next)", key="attention_probe", max_chars=200)
    try:
        probe_window = text_window(pair[0], probe)  # both names models share one vocabulary
        probe_scores = [score(m, probe) for m in pair]
    except ChainRuleError as e:
        st.error(f"Probe name: {escape_markdown(str(e))}", icon="⚠️")
    else:
        st.markdown("**Teacher-forced probabilities** of each token of the probe name (the end token '.' included):")
        table = {"token": probe_scores[0].tokens}
        for m, sc in zip(pair, probe_scores, strict=True):
            table[f"p under {m.name}"] = [round(p, 4) for p in sc.probs]
        st.dataframe(table, hide_index=True, key="attention_probe_table")
        st.caption(
            " · ".join(
                f"{m.name}: {sc.nll:.2f} nats for the whole name" for m, sc in zip(pair, probe_scores, strict=True)
            )
            + ". A leaky model that learned to copy is near-certain of every letter — even of gibberish like "
            "'zqxj' (try it) — because it reads it."
        )

    st.markdown(
        "**Samples** from the empty prompt, one token at a time. Here the next token never exists "
        "in the input, so the leaky model has nothing to copy. In training, the only row with nothing after "
        "it was the last one, and its target was always the end token '.': at sampling time every new row "
        "is such a row."
    )
    sample_seed = st.number_input("Sampling seed", min_value=0, max_value=10**6, step=1, key="attention_sample_seed")
    sample_cols = st.columns(len(pair))
    for col, m in zip(sample_cols, pair, strict=True):
        samples = cached_samples(m, _model_key(m), N_SAMPLES, int(sample_seed))
        col.markdown(f"**Samples from {m.name}** (seeds {int(sample_seed)}–{int(sample_seed) + N_SAMPLES - 1})")
        col.dataframe(
            {
                "sample": [s.text or "(empty)" for s in samples],
                "ended": ["yes" if s.ended else "no (ran out)" for s in samples],
                "log p (nats)": [round(s.logprob, 2) for s in samples],
            },
            hide_index=True,
            key=f"attention_samples_{m.name}",
        )
        n_empty = sum(1 for s in samples if not s.text)
        col.caption(
            f"{n_empty} of {len(samples)} samples are empty; mean length "
            f"{np.mean([len(s.text) for s in samples]):.1f} letters."
        )

# ---------------------------------------------------------------------------------------------
st.header("4. Check causality, don't trust it", divider="gray")
st.markdown(
    "The mask is a promise; this measures it. For each input position *j*, replace its token by **every** "
    "token of the vocabulary and see how far the next-token distribution at each row *i* moves "
    "(total variation distance, 0 = unchanged, 1 = completely different), keeping the largest change. "
    "A causal model must give **exactly 0** above the diagonal."
)
if probe_window is None:
    st.info("The dependence check needs the names models and a valid probe name (see above).")
else:
    if probe_window.n_dropped:
        st.info(
            f"The probe is longer than the {probe_window.limit}-token context: only its last "
            f"{probe_window.T} tokens are used.",
            icon="✂️",
        )
    dep_cols = st.columns(len(pair))
    for col, m in zip(dep_cols, pair, strict=True):
        dep = cached_dependence(m, _model_key(m), tuple(probe_window.ids))
        worst = max_above_diagonal(dep.values)
        col.plotly_chart(
            dependence_heatmap(dep.values, probe_window.labels, MODEL_LABELS[m.name]),
            key=f"attention_dependence_{m.name}",
        )
        col.metric(
            f"{m.name}: max above the diagonal",
            _fmt_max(worst),
            help="The largest change of a prediction when a LATER token is replaced.",
        )
        upper = dep.values[np.triu(np.ones((probe_window.T, probe_window.T), dtype=bool), k=1)]
        col.caption(
            f"Cells above the diagonal that are not exactly 0: {int((upper != 0).sum())} of {upper.size}"
            + (f" (smallest {upper[upper != 0].min():.1e})." if (upper != 0).any() else ".")
        )
    st.caption(
        "Computed live from the models: one forward pass per column with every replacement token at once. "
        "Hover a cell for its value."
    )
