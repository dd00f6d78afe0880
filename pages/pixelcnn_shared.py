"""What the PixelCNN page computes once per server (test digits, fields, scores, samples, figures),
and its label box. Not a page itself: a module of pages/pixelcnn.py and pages/pixelcnn_likelihood.py.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.errors import ChainRuleError
from core.figures.pixelcnn import (
    field_view_figures,
    kernel_mask_figures,
    raster_order_figure,
)
from core.image.mnist import DigitSet, load_test_set
from core.image.model import (
    IMAGE_MODELS,
    ImageModel,
    ImageNLL,
    SampleResult,
    draw_samples,
    image_nll,
    score_test_set,
)
from core.lessons.pixel_lesson import LABEL_CHOICES, NO_LABEL, label_value
from core.lessons.receptive_field import FieldView, field_view
from core.workers import jobs_worker
from pages.common import shared_model, show_error
from pages.state import bound

SIZE = 28


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


@st.cache_resource(show_spinner=False, max_entries=32)
def test_set_nlls(name: str, label: int | None) -> Future[np.ndarray]:
    """(N,) NLLs of the test digits (only those of ``label``, given it, when a label is set), computed
    once per server in the background-jobs worker process (core.workers), so no script run waits for
    them: 500 digits take the gated model about 13 s of one core."""
    return jobs_worker().submit("run", functools.partial(score_test_set, name, label))


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
    if not conditional:  # its own key, not in the link: the gated model's choice is kept for when it comes back
        return label_value(container.selectbox(label, [NO_LABEL], key=f"{key}_plain", help=help))
    return label_value(container.selectbox(label, LABEL_CHOICES, help=help, **bound(key)))
