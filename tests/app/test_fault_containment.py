"""Faults contained in the app: with one model's weights broken, only the pages that use it say so.

The app is pointed at a copy of assets/models (core.checkpoint.MODELS_DIR_ENV) in which one
checkpoint is missing, truncated or altered. Every page is run: the pages that use the broken model
must show a clear error naming it and what is wrong, and keep the rest of the page working; every
other page must run without any error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from core.checkpoint import MODELS_DIR_ENV
from core.lessons.settings import SAMPLING_MODELS
from tests.fault_models import FAULTS, broken_models_dir

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "home": "app.py",  # the home page through the app, which registers the pages it links to
    "chain_rule": "pages/chain_rule.py",
    "attention": "pages/attention.py",
    "sampling": "pages/sampling.py",
    "pixelcnn": "pages/pixelcnn.py",
}
# (broken model, fault, the pages that must report it when first opened)
SCENARIOS = [
    ("names-leaky", "altered weights", {"attention"}),
    ("pixelcnn", "truncated weights", {"pixelcnn"}),
    ("shakespeare", "missing weights", {"chain_rule"}),  # its classifier needs shakespeare from the start
    ("names", "missing card", {"chain_rule", "attention", "sampling"}),
]
# Something each page draws only when its main computation worked (the page is usable, not just alive).
WORKING = {
    "home": lambda at: len(at.title) == 1,
    "chain_rule": lambda at: any(m.label == "NLL (nats)" for m in at.metric),
    "attention": lambda at: any(m.label == "Max weight above the diagonal" for m in at.metric),
    "sampling": lambda at: at.button(key="sampling_next") is not None,
    "pixelcnn": lambda at: any(m.label == "Bits per dimension" for m in at.metric),
}

# What a page with a broken model still offers: the parts that do not need it, and a way to pick another.
STILL_USABLE = {
    "chain_rule": lambda at: any(m.label == "joint p(B, A, C)" for m in at.metric),
    "attention": lambda at: any("Largest weight above the diagonal" in c.value for c in at.caption),
    "sampling": lambda at: at.selectbox(key="model").options == list(SAMPLING_MODELS),
    "pixelcnn": lambda at: any(m.label == "Bits per dimension" for m in at.metric),
}


@pytest.fixture(autouse=True)
def fresh_caches():
    """Models are cached per process: each scenario must load from its own folder."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
    torch.set_num_threads(before)


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("**", "")


def run_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGES[page]), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("broken,fault,affected", SCENARIOS, ids=[f"{s[0]}-{s[1]}" for s in SCENARIOS])
def test_only_the_pages_using_a_broken_model_report_it(tmp_path, monkeypatch, broken, fault, affected):
    monkeypatch.setenv(MODELS_DIR_ENV, str(broken_models_dir(tmp_path, broken, fault)))
    for page in PAGES:
        at = run_page(page)
        errors = [plain(e.value) for e in at.error]
        if page in affected:
            said = [e for e in errors if f"The model {broken} is unavailable" in e]
            assert said, f"{page} does not report {broken}: {errors}"
            assert FAULTS[fault] in said[0] and f"{broken}." in said[0], said[0]
            assert "Traceback" not in said[0]
            assert STILL_USABLE[page](at), f"{page} stopped working beyond the message about {broken}"
        else:
            assert not errors, f"{page} shows errors although it does not use {broken}: {errors}"
            assert WORKING[page](at), f"{page} does not draw its main result with {broken} broken"
        assert len(at.title) == 1


def test_a_page_recovers_when_the_user_picks_a_working_model(tmp_path, monkeypatch):
    """Sampling with shakespeare missing: choosing it says why it cannot; switching back works."""
    monkeypatch.setenv(MODELS_DIR_ENV, str(broken_models_dir(tmp_path, "shakespeare", "missing weights")))
    at = run_page("sampling")
    at.selectbox(key="model").set_value("shakespeare")
    at.run()
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert any("The model shakespeare is unavailable" in e and "weights file is missing" in e for e in errors), errors
    at.selectbox(key="model").set_value("names")
    at.run()
    assert not at.exception and not at.error
    at.button(key="sampling_next").click()
    at.run()
    assert not at.exception and not at.error
