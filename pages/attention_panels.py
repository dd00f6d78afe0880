"""Section 2 of the Attention page (pages/attention.py): the learned attention of the chosen model,
every head of a small model at once or one layer's heads of the LLM, with a per-head summary.

Not a page itself: a module, so Streamlit compiles it once. A fragment: a layer, head or query
change reruns only this section.
"""

import numpy as np
import streamlit as st

from core import causal_mask
from core.display import escape_markdown
from core.exports import matrix_csv
from core.figures import attention as figures
from core.figures import attention_grid as grids
from core.lessons import attention_lesson as lesson
from core.lessons import causality
from core.lessons.states import AttentionState
from pages.charts import chart_with_table
from pages.common import shared_model
from pages.state import bound, get, put

MAX_TOKENS = causality.MAX_SHOWN_TOKENS
GRID_HEADS = 32  # models with more heads than this (SmolLM2: 270) show one layer's heads at a time


@st.cache_data(show_spinner=False, max_entries=64)
def cached_attention(name: str, ids: tuple[int, ...], _window):
    """``attention_weights`` of the shared model ``name`` reading ``_window`` (whose tokens are ``ids``):
    computed once per server, so a layer change only redraws."""
    return causality.attention_weights(shared_model(name), _window)


@st.fragment
def learned_attention(lm, window) -> None:
    """Section 2. A fragment: a layer, head or query change reruns only this section (the rest stays drawn)."""
    weights = cached_attention(lm.name, tuple(window.ids), window)  # (n_layer, n_head, T, T)
    n_layer, n_head = weights.shape[:2]
    n_kv = lesson.n_kv_heads(lm)
    model_allowed = causal_mask(window.T).numpy() if lm.is_causal else None
    c_layer, c_head, c_query = st.columns([1, 1, 2])
    layer = c_layer.selectbox(f"Layer (of {n_layer})", list(range(1, n_layer + 1)), **bound("attention_layer"))
    head = c_head.selectbox(f"Head (of {n_head})", list(range(1, n_head + 1)), **bound("attention_head"))
    if get("_attention_T", window.T) != window.T or get("attention_query", 0) > window.T - 1:
        put("attention_query", window.T - 1)  # a text of another length: its last row
    put("_attention_T", window.T)
    query = c_query.slider(
        "Query position: the row to inspect (it predicts the token after it)",
        min_value=0,
        max_value=max(window.T - 1, 1),
        value=min(AttentionState().attention_query, window.T - 1),
        disabled=window.T < 2,
        **bound("attention_query"),
    )
    head_weights = weights[layer - 1, head - 1]  # (T, T)
    kv_note = f" (kv head {lesson.kv_head_of(head - 1, n_head, n_kv) + 1})" if n_kv < n_head else ""
    left, right = st.columns([3, 2])
    title = f"{lm.name}: layer {layer}, head {head}{kv_note}"
    height = 480 if window.T <= 16 else 600
    chart_with_table(
        figures.value_heatmap(
            head_weights, window.labels, title, allowed=model_allowed, highlight_row=query, height=height
        ),
        "attention_head_fig",
        left,
    )
    with right:
        token = escape_markdown(window.labels[query])
        st.markdown(f"**Where row {query} ('{token}') looks** in layer {layer}, head {head}:")
        looks = causality.where_it_looks(head_weights[query], window.labels, top=5)
        st.dataframe(lesson.looks_table(looks), hide_index=True, key="attention_looks_table")
        labels = [f"{i}:{t}" for i, t in enumerate(window.labels)]
        st.download_button(
            "Download these weights (CSV)",
            matrix_csv(np.asarray(head_weights), labels, labels, "query\\key"),
            file_name=f"attention-{lm.name}-layer{layer}-head{head}.csv",
            mime="text/csv",
            icon="⬇️",
            key="attention_weights_csv",
        )
        st.metric(
            "Max weight above the diagonal",
            lesson.format_max(causality.max_above_diagonal(weights)),
            help="The largest attention weight on a later token, over every layer, head and row of this text.",
        )
        row_error = causality.row_sum_error(weights)
        st.metric("Max |row sum − 1|", f"{row_error:.1e}", help="Each row is a softmax: its weights sum to 1.")
        verdict = lesson.attention_verdict(weights)
        (st.success if verdict.causal else st.warning)(verdict.text, icon="✅" if verdict.causal else "👀")
    show_ticks = window.T <= 16
    ticks_note = "" if show_ticks else " Token labels are hidden in the small panels for texts over 16 tokens."
    if n_layer * n_head <= GRID_HEADS:
        st.subheader(f"All heads of {lm.name}")
        grid = grids.attention_grid(
            weights, window.labels, allowed=model_allowed, selected=(layer - 1, head - 1), show_ticks=show_ticks
        )
        chart_with_table(grid, "attention_grid_fig")
        st.caption(
            "One panel per layer and head; the selected one is outlined in orange. Hover a cell for its weight."
            + ticks_note
        )
    else:
        st.subheader(f"All {n_head} heads of layer {layer}")
        if n_kv < n_head:
            st.markdown(lesson.gqa_sentence(n_head, n_kv))
        groups = lesson.kv_groups(n_head, n_kv)
        grid = grids.layer_heads_grid(
            weights[layer - 1], window.labels, layer - 1, groups, model_allowed, head - 1, show_ticks=show_ticks
        )
        chart_with_table(grid, "attention_grid_fig")
        st.caption(
            f"One row of panels per key/value head; head {head} is outlined in orange. "
            "Choose another layer above. Hover a cell for its weight." + ticks_note
        )
        st.subheader(f"All {n_layer * n_head} heads at a glance")
        stat_name = st.radio(
            "One number per head", list(lesson.HEAD_STATISTICS), horizontal=True, **bound("attention_statistic")
        )
        stat = lesson.HEAD_STATISTICS[stat_name]
        summary = grids.head_summary_heatmap(
            stat.compute(weights),  # (n_layer, n_head)
            f"{stat_name} of every head, for this text",
            stat.unit,
            stat.fmt,
            selected=(layer - 1, head - 1),
            group_size=n_head // n_kv if n_kv < n_head else None,
        )
        chart_with_table(summary, "attention_summary_fig")
        st.caption(
            f"{stat_name}: {stat.explanation} White lines separate the key/value groups; the selected head is "
            f"outlined. Computed live from the {window.T} tokens above (the page draws at most {MAX_TOKENS})."
        )
