"""Section 4 of the PixelCNN page (pages/pixelcnn.py): one sample drawn pixel by pixel (an animation), and
16 samples at once by the fast path. Not a page itself: a module, compiled once."""

from __future__ import annotations

import streamlit as st

from core.errors import ChainRuleError
from core.figures.pixelcnn import sample_grid_figure, sampling_canvas_figure
from core.image.model import IMAGE_MODELS, ImageNLL, SampleResult
from core.lessons.pixel_animation import FRAME_S, SPEEDS, PixelAnimation
from core.lessons.pixel_lesson import frame_text
from core.lessons.states import PixelState
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.common import show_error
from pages.pixelcnn_shared import SIZE, label_input, samples, score_image
from pages.state import bound, get, put

DEFAULTS = PixelState()
GRID_SAMPLES = 16
LABEL_HELP = (
    "Only the gated model is conditioned on the digit; 'no label' uses its learned unconditional embedding. "
    "The plain PixelCNN is unconditional."
)
TEMPERATURE_HELP = "p = sigmoid(logit / T); T = 0 takes the likelier value."


def save_animation(anim: PixelAnimation) -> None:
    put("pcnn_anim_step", anim.step)
    put("pcnn_anim_playing", anim.playing)


def animation_controls(anim: PixelAnimation) -> PixelAnimation:
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
    b5.select_slider("Pixels per frame", SPEEDS, value=DEFAULTS.pcnn_s_speed, **bound("pcnn_s_speed"))
    return anim


def animation(sample: SampleResult, score: ImageNLL, temperature: float) -> None:
    @st.fragment(run_every=FRAME_S if get("pcnn_anim_playing") else None)
    def frames() -> None:
        anim = PixelAnimation(get("pcnn_anim_step", 0), get("pcnn_anim_playing", False), SIZE, SIZE**2)
        if anim.playing:
            anim = anim.tick(get("pcnn_s_speed", DEFAULTS.pcnn_s_speed))
            save_animation(anim)
            if not anim.playing:
                st.rerun()  # the last pixel: a full rerun stops the timer
        anim = animation_controls(anim)
        fig_col, text_col = st.columns([3, 2])
        canvas = sampling_canvas_figure(
            sample.images[0], anim.step, sample.raw_probs[0], f"{anim.step} of {anim.n_pixels} pixels drawn"
        )
        chart_with_table(canvas, "pcnn_anim_fig", fig_col, width="stretch")  # the table follows each frame
        text = frame_text(anim, sample, score, temperature)
        text_col.metric(text.metric_label, text.metric_value)
        for note in text.notes:
            text_col.markdown(note)

    frames()


def next_grid() -> None:
    put("pcnn_grid_seed", (get("pcnn_grid_seed", DEFAULTS.pcnn_grid_seed) + 1) % (MAX_SEED + 1))


@st.fragment
def sample_grid_section(name: str, temperature: float, label: int | None) -> None:
    st.subheader("16 samples at once (fast path)")
    st.markdown(
        "The animation would recompute the whole network for every pixel; the fast path keeps each layer's "
        "activations and computes every activation exactly once (rows above a pixel never change again), so "
        "16 digits cost about one forward pass of each. A unit test checks that it draws exactly the same "
        "pixels as the naive path for the same seed."
    )
    g1, g2, g3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    g1.button("Draw 16 new samples", key="pcnn_grid_draw", on_click=next_grid)
    grid_seed = int(g2.number_input("Grid seed", 0, MAX_SEED, DEFAULTS.pcnn_grid_seed, 1, **bound("pcnn_grid_seed")))
    try:
        grid = samples(name, GRID_SAMPLES, grid_seed, temperature, label)
    except ChainRuleError as e:
        show_error("These samples cannot be drawn.", e)
        return
    g3.markdown(
        f"**16 × 784 pixels drawn in {grid.elapsed_s:.2f} s** with {name}, seed {grid_seed}, temperature "
        f"{temperature:g}, {'digit label ' + str(label) if label is not None else 'no digit label'} (drawn once on "
        "this server, then kept for every visitor)."
    )
    chart_with_table(sample_grid_figure(grid.images, 8), "pcnn_grid_fig", width="stretch")


def sampling_section(models: dict):
    """Section 4; returns a function that draws the 16-sample grid (the page calls it last: the slowest draw)."""
    st.header("4 · Sampling, one pixel at a time")
    s1, s2, s3, s4 = st.columns(4)
    name = s1.selectbox("Model", list(IMAGE_MODELS), index=1, **bound("pcnn_s_model"))
    model = models[name]
    label = label_input(s2, "Digit label", "pcnn_s_label", model, LABEL_HELP)
    temperature = float(s3.slider("Temperature", 0.0, 2.0, 1.0, 0.05, help=TEMPERATURE_HELP, **bound("pcnn_s_temp")))
    seed = int(s4.number_input(f"Seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1, **bound("pcnn_s_seed")))
    if get("_pcnn_anim_settings") != (name, seed, temperature, label):  # new settings: a new sample, from pixel 1
        put("_pcnn_anim_settings", (name, seed, temperature, label))
        save_animation(PixelAnimation(0, False, SIZE, SIZE**2))
    if model is None:
        st.info(f"Choose the other model: **{name}** cannot be loaded (see the message above).")
        return lambda: None
    try:
        sample = samples(name, 1, seed, temperature, label)
        animation(sample, score_image(name, sample.images[0], label), temperature)
    except ChainRuleError as e:
        show_error("This sample cannot be drawn.", e)
    slot = st.container()

    def grid() -> None:
        with slot:
            sample_grid_section(name, temperature, label)

    return grid
