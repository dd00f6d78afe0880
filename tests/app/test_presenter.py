"""Presenter view on every lesson page, opened by its flag in the link: the page runs, its toggle sits in the
main area (the sidebar folds away), its main chart comes through ``for_projector`` and its secondary sections
are gone, its opening words too (the teacher says them). Each page is also opened without the flag, so a section that never shows cannot pass as hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.figures.presenter import PROJECTOR_FONT, PROJECTOR_HEIGHT, SMALLEST
from core.lessons.attention_lesson import INTRO
from pages.tour_live import PROJECTOR_HEIGHT as TOUR_HEIGHT
from tests.app.helpers import chart
from tests.app.test_links import open_with  # the same page opened from a link, one definition

ROOT = Path(__file__).resolve().parents[2]

# page: (script, flag, other link values, main chart (None: it needs a training run), its height, a secondary marker)
CASES = {
    "chain_rule": ("pages/chain_rule.py", "cr_presenter", {}, "cr_waterfall", PROJECTOR_HEIGHT, "Check yourself"),
    "attention": ("pages/attention.py", "attention_presenter", {}, "attention_mask_fig", PROJECTOR_HEIGHT,
                  "Check yourself"),
    "training": ("pages/training.py", "training_presenter", {}, None, None, "Check yourself"),
    "pixelcnn": ("pages/pixelcnn.py", "pcnn_presenter", {}, "pcnn_raster_fig", PROJECTOR_HEIGHT,
                 ("Check yourself", "5 · Exact likelihood of an image", "The two models on this page and how they were trained")),
    "tour": ("pages/tour.py", "tour_presenter", {"tour_step": "7"}, "tour_mask", TOUR_HEIGHT,
             "**Predict, then check**"),
}  # fmt: skip


# page: the start of its opening words, which presenter view leaves to the teacher
OPENINGS = {
    "chain_rule": "Any joint distribution over a sequence factors",
    "attention": INTRO[:40],
    "training": "Every autoregressive model is trained on one objective",
    "pixelcnn": "Autoregression is not only for text",
    "sampling": "A model writes **one token at a time**",
}


def opens_with_words(at: AppTest, page: str) -> bool:
    return any(str(e.value).startswith(OPENINGS[page]) for e in at.main.markdown)


def shown(at: AppTest) -> set[str]:
    """Headers and markdown texts of the main area."""
    return {str(e.value) for e in [*at.main.header, *at.main.markdown]} | {e.label for e in at.main.expander}


@pytest.mark.parametrize("page", list(CASES))
def test_the_flag_in_the_link_opens_presenter_view(page):
    script, flag, params, key, height, secondary = CASES[page]
    normal = open_with(script, params)
    secondary = (secondary,) if isinstance(secondary, str) else secondary
    assert set(secondary) <= shown(normal)
    assert not normal.toggle(key=flag).value
    at = open_with(script, {**params, flag: "true"})
    assert at.toggle(key=flag).value
    assert flag in [t.key for t in at.main.toggle] and flag not in [t.key for t in at.sidebar.toggle]
    assert not set(secondary) & shown(at)
    if page in OPENINGS:
        assert opens_with_words(normal, page) and not opens_with_words(at, page)
    if key is not None:
        big, small = chart(at, key)["layout"], chart(normal, key)["layout"]
        assert big["font"]["size"] == PROJECTOR_FONT > small.get("font", {}).get("size", 12)
        assert big["height"] == height


def test_live_sampling_keeps_its_toggle_in_the_main_area():
    at = open_with("pages/sampling.py", {"presenter": "true"})
    assert at.toggle(key="presenter").value
    assert opens_with_words(open_with("pages/sampling.py", {}), "sampling") and not opens_with_words(at, "sampling")
    assert "presenter" in [t.key for t in at.main.toggle] and "presenter" not in [t.key for t in at.sidebar.toggle]


def test_presenter_view_gives_every_chart_projector_size_text_and_only_once():
    """Not only the main chart: a secondary chart's text grows too (here the convergence of the draws, section 2), and the
    main chart, made projector-size by the page, is not enlarged a second time."""
    normal = open_with("pages/chain_rule.py", {})
    at = open_with("pages/chain_rule.py", {"cr_presenter": "true"})
    big, small = chart(at, "cr_draws_convergence")["layout"], chart(normal, "cr_draws_convergence")["layout"]
    assert big["font"]["size"] == PROJECTOR_FONT > small.get("font", {}).get("size", 12)
    assert big.get("height") == small.get("height")  # its own height
    main = chart(at, "cr_waterfall")["layout"]
    assert main["font"]["size"] == PROJECTOR_FONT and main["height"] == PROJECTOR_HEIGHT
    own = chart(normal, "cr_waterfall")["layout"]["xaxis"].get("tickfont", {}).get("size", 12)
    assert main["xaxis"]["tickfont"]["size"] == max(SMALLEST, round(own * PROJECTOR_FONT / 12))  # grown once
