"""Sections 1-3 of the PixelCNN page (pages/pixelcnn.py): raster order, the masks, and the receptive field
with its blind spot. Not a page itself: a module, compiled once. Sections 1 and 3 are fragments: moving
one of their controls reruns that section only."""

from __future__ import annotations

import streamlit as st

from core.figures.presenter import for_projector
from core.image.model import IMAGE_MODELS
from core.lessons.pixel_lesson import clicked_pixel
from core.lessons.states import PixelState
from pages.charts import chart_with_table
from pages.common import show_error
from pages.pixelcnn_shared import SIZE, field_figures, mask_figures, raster_figure
from pages.state import bound, get, put

DEFAULTS = PixelState()


@st.fragment
def raster_section(presenter: bool = False) -> None:
    st.header("1 · Raster order: an image is a sequence")
    left, right = st.columns([3, 2])
    with right:
        i = st.slider("Pixel being predicted (i)", 1, 64, DEFAULTS.pcnn_raster_i, help="On an 8×8 grid, for legibility.",
                      **bound("pcnn_raster_i"))  # fmt: skip
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
        fig = for_projector(raster_figure(i)) if presenter else raster_figure(i)
        chart_with_table(fig, "pcnn_raster_fig", width="stretch")


def masks_section() -> None:
    st.header("2 · Masks: convolutions that never look ahead")
    st.markdown(
        "A convolution reads a square of neighbours around each pixel. To respect raster order, its kernel "
        "is multiplied by a fixed 0/1 **mask**: the weights on pixels below, and right of the centre on its own "
        "row, are zeroed. **Mask A** (first layer) also blocks the centre: the input pixel at the centre *is* "
        "the pixel being predicted, and a network allowed to read it would just copy it — a perfect training "
        "loss, no model, and nothing to read when sampling, since that pixel does not exist yet. **Mask B** "
        "(every later layer) may read the centre, because after the first layer the centre holds features "
        "computed only from earlier pixels. (A transformer over text shifts instead: row *i* reads token *i* and "
        "predicts *i*+1, so its mask may include the diagonal. Both rules forbid reading what is predicted.)"
    )
    mask_cols = [c for _ in range(2) for c in st.columns(2, gap="large")]  # two rows of two: legible on a projector
    for col, (key, title, fig) in zip(mask_cols, mask_figures(), strict=True):
        with col:
            st.markdown(f"**{title}**")
            chart_with_table(fig, f"pcnn_mask_{key}", width="stretch")
    st.caption(
        "Green 1 = the weight is kept, grey 0 = multiplied by zero, orange outline = the centre (the pixel "
        "being computed). The gated model's vertical-stack kernel keeps its whole centre row as well as the row "
        "above: what it reads there are vertical-stack features, and after the first layer those depend only on "
        "rows above, so a pixel's vertical-stack output never depends on any pixel of its own row. Its "
        "horizontal stack reads its own row up to the centre, plus the vertical stack. Their first layer "
        "(mask A) blocks the centre row (vertical, 7×7) and the centre pixel (horizontal, 1×7), so no pixel "
        "ever reads itself."
    )


def apply_clicks() -> None:
    """A click on an analytic receptive-field grid picks the pixel: applied before the inputs are drawn."""
    for name in IMAGE_MODELS:
        event = get(f"pcnn_rf_click_{name}")
        picked = clicked_pixel(event.selection.points if event is not None and event.selection else [])
        if picked is not None and get(f"_pcnn_rf_last_click_{name}") != picked:
            put(f"_pcnn_rf_last_click_{name}", picked)
            put("pcnn_rf_row", picked[0])
            put("pcnn_rf_col", picked[1])


@st.fragment
def receptive_field_section(models: dict) -> None:
    st.header("3 · Receptive field and the blind spot")
    max_layers = max((m.n_layers for m in models.values() if m is not None), default=8)
    if get("pcnn_rf_layers", DEFAULTS.pcnn_rf_layers) > max_layers:
        put("pcnn_rf_layers", max_layers)
    apply_clicks()
    c1, c2, c3 = st.columns(3)
    row = c1.number_input("Row of the pixel", 0, SIZE - 1, DEFAULTS.pcnn_rf_row, 1, **bound("pcnn_rf_row"))
    col = c2.number_input("Column of the pixel", 0, SIZE - 1, DEFAULTS.pcnn_rf_col, 1, **bound("pcnn_rf_col"))
    n_layers = c3.slider("Masked layers", 1, max_layers, DEFAULTS.pcnn_rf_layers, **bound("pcnn_rf_layers"))
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
            chart_with_table(analytic, f"pcnn_rf_click_{name}", width="stretch", on_select="rerun",
                             selection_mode="points")  # fmt: skip
            st.markdown(
                f"**{view.n_reached}** pixels reach it; blind spot: **{view.n_blind}** earlier pixels "
                + ("that no path reaches (red)." if view.n_blind else "— none.")
            )
        with bottom:
            key = f"pcnn_rf_measured_{name}"
            chart_with_table(measured, key, width="stretch")
            if view.n_differ == 0:
                st.success(f"Measured on the trained {model.title} = derived from its masks: all 784 pixels agree.")
            else:
                show_error(f"Measured and derived receptive fields differ on {view.n_differ} pixels.")
    st.caption(
        "The plain PixelCNN stacks 3×3 mask-B kernels: each layer reaches one more pixel up, left and right — "
        "but on the rows just above the pixel, the reach to the right stops growing. That wedge of earlier pixels "
        "is the blind spot. The plain PixelCNN is still a valid chain-rule model: its conditionals simply ignore "
        "those pixels, so its likelihood stays exact, only its predictions are poorer. The gated model's vertical "
        "stack covers the rows above evenly, so nothing is missed."
    )
