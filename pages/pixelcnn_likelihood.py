"""Section 5 of the PixelCNN page: the exact likelihood of an image (a test digit, an upload or typed
pixels: ``pages/pixelcnn_image_input.py``), its per-pixel map, and the comparison with noise and with the
digit shifted.

Not a page itself: a module of pages/pixelcnn.py (a fragment: its widgets rerun only this section).
"""

from __future__ import annotations

import math
from concurrent.futures import Future

import numpy as np
import streamlit as st

from core.errors import ChainRuleError
from core.exports import matrix_csv
from core.figures.pixelcnn import (
    binary_image_figure,
    nll_comparison_figure,
    nll_heatmap_figure,
)
from core.image.model import IMAGE_MODELS, ImageModel, ImageNLL
from core.lessons.pixel_lesson import (
    EXTREME_IMAGES,
    comparison_images,
    likelihood_is_not_typicality,
    typicality_note,
)
from core.lessons.states import PixelState
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.common import show_error
from pages.pixelcnn_image_input import chosen_image, extremes_buttons
from pages.pixelcnn_shared import label_input, score_image, test_digits_or_error, test_set_nlls
from pages.state import bound

DEFAULTS = PixelState()


def typicality(name: str, score: ImageNLL, label: int | None) -> None:
    """Where the image falls among the real test digits, and why high likelihood is not typicality."""
    scoring = test_set_nlls(name, label)
    if not scoring.done():
        wait_for_the_test_set(scoring, "all 500" if label is None else f"the {label}s among the 500")
        return
    if scoring.exception() is not None:  # its worker stopped: said once, scored again on the next visit
        test_set_nlls.clear()
        show_error("The test digits could not be scored.", scoring.exception())
        return
    test = scoring.result()
    test.setflags(write=False)  # shared by every session
    given = "" if label is None else f" given the label {label} (the test {label}s only)"
    st.markdown(typicality_note(score.nll, test) + given)
    extremes = {what: score_image(name, image, label).nll for what, image in EXTREME_IMAGES.items()}
    st.info(likelihood_is_not_typicality(extremes, test), icon="⚠️")


@st.fragment(run_every=0.3)
def wait_for_the_test_set(scoring: Future, which: str) -> None:
    """Polls the background scoring; once it is done, one rerun draws the comparison in its place. The
    keyed container tells the browser tests (and anyone reading the page's DOM) that work is pending."""
    if scoring.done():
        st.rerun()
    with st.container(key="background_work_pending"):
        st.info(
            f"Scoring {which} test digits to compare this image with — once per server, about 15 s. "
            "The rest of the page is ready meanwhile.",
            icon="⏳",
        )


def comparison(name: str, score: ImageNLL, label: int | None) -> None:
    """The digit against noise with the same ink and against itself shifted: NLLs and per-pixel maps."""
    st.subheader("A real digit, noise, and the same digit shifted")
    k1, k2, k3 = st.columns(3)
    dx = k1.slider("Shift right (pixels)", -8, 8, DEFAULTS.pcnn_l_dx, **bound("pcnn_l_dx"))
    dy = k2.slider("Shift down (pixels)", -8, 8, DEFAULTS.pcnn_l_dy, **bound("pcnn_l_dy"))
    noise_seed = k3.number_input(f"Noise seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1, **bound("pcnn_l_noise_seed"))
    variants, lost = comparison_images(score.image, dx, dy, noise_seed)
    if lost:
        st.warning(
            f"The shift pushes {lost} ink pixels out of the frame: fewer ink pixels to predict lowers the "
            "NLL, which says nothing about the digit. Shift less to compare fairly."
        )
    scores = {k: score_image(name, v, label) for k, v in variants.items()}
    chart_with_table(
        nll_comparison_figure(list(scores), [s.nll for s in scores.values()]), "pcnn_l_compare", width="stretch"
    )
    zmax = max(float(s.nll_map.max()) for s in scores.values())
    for (title, s), column in zip(scores.items(), st.columns(3), strict=True):
        chart_with_table(binary_image_figure(s.image, title, 260), f"pcnn_cmp_img_{title}", column, width="stretch")
        chart_with_table(
            nll_heatmap_figure(s.nll_map, f"{s.nll:.1f} nats", zmax), f"pcnn_cmp_heat_{title}", column, width="stretch"
        )
    st.caption(
        "Noise with the same number of ink pixels is hundreds of nats less likely: the model has learned "
        "strokes, not just ink density. A shifted digit is still a digit - the convolutions slide over the "
        "image, so the strokes are as predictable as before - and costs only a few nats more, for sitting "
        "off-centre where the training digits never were."
    )


@st.fragment
def likelihood_section(models: dict[str, ImageModel | None]) -> None:
    st.header("5 · Exact likelihood of an image")
    st.markdown(
        "Unlike many image models, a PixelCNN gives the **exact** probability of any image: one forward pass "
        "yields all 784 conditionals at once (the masks make each depend only on earlier pixels), and "
        "−log p(x) is their sum. Bits per dimension divides it by 784 · ln 2."
    )
    l1, l2, l3 = st.columns(3)
    name = l1.selectbox("Model", list(IMAGE_MODELS), index=1, **bound("pcnn_l_model"))
    source = l2.radio("Image", ["Test digit", "Upload a PNG", "Edit pixels"], horizontal=True, **bound("pcnn_l_source"))
    label = label_input(l3, "Digit label (gated only)", "pcnn_l_label", models[name])
    extremes_buttons()
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
    chart_with_table(binary_image_figure(score.image, "The image scored", 330), "pcnn_l_img", f1, width="stretch")
    chart_with_table(
        nll_heatmap_figure(score.nll_map, "−log p(pixel | pixels before), nats"), "pcnn_l_heat", f2, width="stretch"
    )
    st.caption(
        "Each cell is −log p(pixel | pixels before it in raster order), in nats. Their sum is −log p(image); their "
        "mean is the per-pixel binary cross-entropy training minimised. Bright cells: surprises (a stroke's first ink)."
    )
    typicality(name, score, label)
    size = score.nll_map.shape[0]
    st.download_button(
        "Download the per-pixel −log p (CSV)",
        matrix_csv(
            np.asarray(score.nll_map), [f"row{r}" for r in range(size)], [f"col{c}" for c in range(size)], "nats"
        ),
        file_name=f"pixelcnn-{name}-nll-map.csv",
        mime="text/csv",
        icon="⬇️",
        key="pcnn_l_csv",
    )
    comparison(name, score, label)
