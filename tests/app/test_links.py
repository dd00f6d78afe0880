"""Every page is a link: its main state set through the URL comes back in the same widgets and the same
figure as when a student sets it by hand; a hostile link opens the page with a note in words.

The address bar after a click is the browser's business (a bound widget writes it): tests/e2e/test_links.py
checks that, and F5."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.lessons.page_state import linked_fields, to_query
from core.lessons.states import AttentionState, ChainRuleState, PixelState, SamplingState, TrainingState
from tests.app.helpers import chart

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class LinkCase:
    script: str
    title: str
    state: object  # the page's main state, far from its defaults
    chart: str  # a figure that state changes
    set_by_hand: tuple[tuple[str, str, object], ...]  # (accessor, key, value): the same state through the widgets


CASES = {
    "chain_rule": LinkCase(
        "pages/chain_rule.py",
        "Chain rule",
        ChainRuleState(cr_unit="bits", cr_factor_0=0.25, cr_ledger_model="shakespeare", cr_ledger_text="ROMEO:"),
        "cr_ledger_chart",
        (
            ("segmented_control", "cr_unit", "bits"),
            ("number_input", "cr_factor_0", 0.25),
            ("segmented_control", "cr_ledger_model", "shakespeare"),
            ("text_input", "cr_ledger_text", "ROMEO:"),
        ),
    ),  # fmt: skip
    "attention": LinkCase(
        "pages/attention.py",
        "Attention and causality",
        AttentionState(attention_model="names-leaky", attention_text="isabella", attention_layer=3, attention_head=2),
        "attention_head_fig",
        (
            ("radio", "attention_model", "names-leaky"),
            ("text_area", "attention_text", "isabella"),
            ("selectbox", "attention_layer", 3),
            ("selectbox", "attention_head", 2),
        ),
    ),  # fmt: skip
    "sampling": LinkCase(
        "pages/sampling.py",
        "🎲 Live sampling",
        SamplingState(model="shakespeare", prompt="ROMEO:", temperature=0.7, top_k=5, seed=42),
        "sampling_distribution",
        (
            ("selectbox", "model", "shakespeare"),
            ("text_area", "prompt", "ROMEO:"),
            ("slider", "temperature", 0.7),
            ("select_slider", "top_k", 5),
            ("number_input", "seed", 42),
        ),
    ),  # fmt: skip
    "training": LinkCase(
        "pages/training.py",
        "🏋️ Training",
        TrainingState(training_source="shakespeare", training_layers=3, training_width=96, training_seed=7),
        "",
        (
            ("segmented_control", "training_source", "shakespeare"),
            ("select_slider", "training_layers", 3),
            ("select_slider", "training_width", 96),
            ("number_input", "training_seed", 7),
        ),
    ),  # fmt: skip
    "pixelcnn": LinkCase(
        "pages/pixelcnn.py",
        "PixelCNN: the chain rule over pixels",
        PixelState(pcnn_raster_i=30, pcnn_rf_row=20, pcnn_rf_col=5, pcnn_l_index=7, pcnn_l_dx=-2),
        "pcnn_raster_fig",
        (
            ("slider", "pcnn_raster_i", 30),
            ("number_input", "pcnn_rf_row", 20),
            ("number_input", "pcnn_rf_col", 5),
            ("number_input", "pcnn_l_index", 7),
            ("slider", "pcnn_l_dx", -2),
        ),
    ),  # fmt: skip
}


def open_with(script: str, params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / script), default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def widget_values(at: AppTest, state) -> dict:
    return {f.name: at.session_state[f.name] for f in linked_fields(type(state)) if f.name in at.session_state}


@pytest.mark.parametrize("page", list(CASES))
def test_a_link_reproduces_the_widgets_and_the_figure_set_by_hand(page):
    case = CASES[page]
    by_link = open_with(case.script, to_query(case.state))
    assert not [w for w in by_link.warning if "in the link" in str(w.value)]  # a good link is used silently
    for _, key, value in case.set_by_hand:
        assert by_link.session_state[key] == value == getattr(case.state, key), key
    by_hand = open_with(case.script, {})
    for accessor, key, value in case.set_by_hand:
        getattr(by_hand, accessor)(key=key).set_value(value)
        by_hand.run()
    assert not by_hand.exception
    assert widget_values(by_hand, case.state) == widget_values(by_link, case.state)
    if case.chart:
        assert chart(by_link, case.chart) == chart(by_hand, case.chart)


HOSTILE = {
    "negative": "-1",
    "huge": "1e999",
    "nan": "NaN",
    "words": "lots",
    "html": "<script>alert(1)</script>",
    "10 kB": "x" * 10_000,
    "repeated": ["3", "<b>"],
}


@pytest.mark.parametrize("value", list(HOSTILE), ids=list(HOSTILE))
@pytest.mark.parametrize("page", list(CASES))
def test_a_hostile_link_opens_the_page_with_a_note_in_words(page, value):
    case = CASES[page]
    raw = HOSTILE[value]
    params = {f.name: raw for f in linked_fields(type(case.state))}
    params["utm_source"] = raw  # an unknown key is ignored
    at = open_with(case.script, params)
    assert [t.value for t in at.title][:1] == [case.title]
    notes = " ".join(str(w.value) for w in at.warning)
    assert "in the link" in notes, notes[:300]
    assert len(notes) < 30_000  # a 10 kB value is repeated back cut short, never whole
    assert "<script>" not in notes and "Traceback" not in notes
    for kind in ("error", "info", "markdown", "caption"):
        for element in getattr(at, kind):
            assert "Traceback" not in str(element.value) and 'File "' not in str(element.value)
    # the page stays usable: every linked widget holds a value its rule allows
    for f in linked_fields(type(case.state)):
        if f.name in at.session_state:
            assert f.metadata["rule"].check(at.session_state[f.name]), (f.name, at.session_state[f.name])


def test_a_link_to_my_model_in_another_session_falls_back_with_a_note():
    at = open_with("pages/sampling.py", {"model": "my-model"})
    assert at.selectbox(key="model").value == "names"
    assert re.search(r"model='my-model'", " ".join(str(w.value) for w in at.warning).replace("\\", ""))
