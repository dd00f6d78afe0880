"""Attention and causality: the causal mask, the learned attention, what peeking breaks, and a live check.

Thin page: its state is ``core.lessons.states.AttentionState`` (every control bound to the link); it
calls ``core.lessons.causality`` and ``core.lessons.attention_lesson`` and draws the figures of
``core.figures.attention``. Sections 2 (``pages/attention_panels.py``) and 3-4 (``pages/attention_peeking.py``)
are modules of their own. Presenter view (``attention_presenter``) draws the masks bigger and skips the
other networks, the live check with SmolLM2 and Check yourself.
"""

import numpy as np
import streamlit as st

from core import ChainRuleError, causal_mask
from core.figures import attention as figures
from core.figures.presenter import for_projector
from core.lessons import attention_lesson as lesson
from core.lessons import causality, questions
from core.lessons.states import AttentionState
from core.validation import MAX_SEED
from pages.attention_panels import learned_attention
from pages.attention_peeking import families_section, llm_check, no_attention, peeking_sections
from pages.charts import chart_with_table
from pages.common import model_or_error, opening, presenter_toggle, show_error
from pages.navigation import next_lesson, require_app
from pages.quiz_panel import check_yourself, quiz_rng
from pages.state import LinkedPage, bound, get, put, setter, text_box

require_app()  # a page script Streamlit ran without app.py reruns through it

TOY_TOKENS = 6  # the toy example uses the first few tokens so every number fits in its cell
MAX_TOKENS = causality.MAX_SHOWN_TOKENS


def on_model_change() -> None:
    """A new model has other examples and may have fewer heads: start from its defaults."""
    put("attention_text", lesson.ATTENTION_MODELS[get("attention_model")].examples[0])
    put("attention_layer", 1)
    put("attention_head", 1)


page = LinkedPage(AttentionState, "attention")
st.title("Attention and causality")
page.show_notes()
presenter = presenter_toggle("attention_presenter")
opening(lesson.INTRO, presenter)
names = list(lesson.ATTENTION_MODELS)
model_name = st.radio(
    "Model",
    names,
    captions=[lesson.ATTENTION_MODELS[n].label.removeprefix(n).strip(" ()") for n in names],
    horizontal=True,
    on_change=on_model_change,
    **bound("attention_model"),
)
examples = lesson.ATTENTION_MODELS[model_name].examples
example_cols = st.columns(len(examples) + 1)
example_cols[0].markdown("Examples:")
for k, example in enumerate(examples):
    example_cols[k + 1].button(
        lesson.example_label(example), key=f"attention_example_{k}", on_click=setter("attention_text", example)
    )
text = text_box(st.text_area, "Text the model reads", "attention_text", lesson.MAX_TEXT_CHARS, height=80,
                value=AttentionState().attention_text)  # fmt: skip

with st.spinner(lesson.LOADING.get(model_name, "Loading the model…")):
    lm = model_or_error(model_name)
window = None
if lm is not None:
    for name, n, what in zip(
        ("attention_layer", "attention_head"), lesson.layers_and_heads(lm), ("layers", "heads"), strict=True
    ):
        if page.value(name) > n:  # a link (or another model) asked for a layer this model does not have
            page.expect(name, 1, f"{lm.name} has {n} {what}: showing {what[:-1]} 1 instead of {page.value(name)}.")
            put(name, 1)
    try:
        window = causality.text_window(lm, text, MAX_TOKENS)
    except ChainRuleError as e:
        show_error("", e)
if window is not None and (note := lesson.crop_note(window, lm.block_size, len(text))):
    st.info(note, icon="✂️")

# ---------------------------------------------------------------------------------------------
st.header("1. The causal mask", divider="gray")
labels = window.labels if window is not None else causality.character_labels(text or ".", MAX_TOKENS)
T = len(labels)
allowed = causal_mask(T).numpy()  # (T, T) True where row i may read column j
st.markdown(
    f"For these {T} positions the mask lets row *i* read columns 0..*i* only — the lower triangle, "
    f"{int(allowed.sum())} of {T * T} cells. Row *i* may read position *i* itself because it predicts the "
    "**next** token, *i*+1: the input is the text shifted by one. Without the mask (right) every position reads "
    "the whole text, including the very token it is supposed to predict. (PixelCNN has no shift: the output at "
    "a pixel predicts that pixel, so its first mask hides the centre. Both rules forbid the same thing.)"
)
left, right = st.columns(2)
for col, cells, title, key in (
    (left, allowed, "Causal mask: row i may read j ≤ i", "attention_mask_fig"),
    (right, np.ones((T, T), dtype=bool), "No mask: every row reads every column", "attention_full_fig"),
):
    fig = figures.mask_figure(cells, labels, title)
    chart_with_table(for_projector(fig) if presenter else fig, key, col)

st.subheader("Why masked weights are exactly 0")
toy_seed = st.number_input(f"Toy scores seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1, **bound("attention_toy_seed"))
toy = causality.toy_attention(labels[:TOY_TOKENS], seed=int(toy_seed))
st.markdown(lesson.TOY_INTRO)
st.latex(lesson.TOY_LATEX)
for col, matrix, title, key in zip(
    st.columns(3),
    (toy.scores, toy.masked_scores, toy.weights),
    ("scores s = q·k/√2", "masked: −∞ = future", "softmax of each row"),
    ("attention_toy_scores", "attention_toy_masked", "attention_toy_weights"),
    strict=True,
):
    chart_with_table(figures.toy_matrix_figure(matrix, toy.labels, title), key, col)
st.caption(
    f"Largest weight above the diagonal: {lesson.format_max(causality.max_above_diagonal(toy.weights))}; "
    f"each row sums to 1 (largest deviation {causality.row_sum_error(toy.weights):.1e})."
)

# ---------------------------------------------------------------------------------------------
st.header("2. Learned attention", divider="gray")
if window is None:
    st.info("Learned attention needs a loaded model and a valid text (see the message above).")
elif lesson.has_attention(lm):
    learned_attention(lm, window)
else:
    no_attention(lm, window)
peeking_sections()
if presenter:
    next_lesson("attention")
    page.settle()
    st.stop()
families_section()
llm_check(lm, window)
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
next_lesson("attention")
page.settle()
