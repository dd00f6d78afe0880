"""The Training page through AppTest: train a small model, see its numbers, use it on Live sampling;
bad input and a second Train are refused in words. The job runs in the runner's thread; the test
reruns the page (as the fragment's timer does) until it finishes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from tests.app.helpers import chart

torch.set_num_threads(1)
PAGES = Path(__file__).resolve().parents[2] / "pages"


def page() -> AppTest:
    at = AppTest.from_file(str(PAGES / "training.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def train_until_done(at: AppTest, timeout: float = 120) -> AppTest:
    at.button(key="training_start").click()
    run(at)
    job = at.session_state["training_job"]
    deadline = time.monotonic() + timeout
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.3)
        run(at)
    assert job.finished, f"the job did not finish: {job.state}"
    return run(at)


def test_train_names_then_use_the_model_on_live_sampling():
    at = page()
    at.select_slider(key="training_layers").set_value(1)
    at.select_slider(key="training_width").set_value(32)
    at.select_slider(key="training_steps").set_value(100)
    train_until_done(at)
    job = at.session_state["training_job"]
    assert job.state == "done", job.message
    final = job.events[-1]
    assert any(f"{final.heldout_loss:.3f}" in s.value for s in at.success)
    spec = chart(at, "training_curve_fig")
    held = [e for e in job.events if e.heldout_loss is not None]
    assert spec["data"][1]["y"] == pytest.approx([e.heldout_loss for e in held])
    assert at.code[0].value.splitlines() == final.samples
    at.button(key="training_use").click()
    run(at)
    model = at.session_state["my_model"]
    assert model is final.model
    # the session's model on the sampling page: the same text core.generate gives
    sampling = AppTest.from_file(str(PAGES / "sampling.py"), default_timeout=120)
    sampling.session_state["my_model"] = model
    sampling.run()
    sampling.selectbox(key="model").set_value("my-model")
    sampling.run()
    sampling.button(key="sampling_finish").click()
    sampling.run()
    assert not sampling.exception, sampling.exception
    expected = [s.token_id for s in core.generate(model, "", 20, seed=0)]
    assert sampling.session_state["sampling"].history.generated_ids == expected


def test_bad_text_fails_in_words_and_the_page_stays_usable():
    at = page()
    at.segmented_control(key="training_source").set_value("your text")
    run(at)
    at.text_area(key="training_text").input("too short")
    run(at)
    train_until_done(at)
    job = at.session_state["training_job"]
    assert job.state == "failed" and "at least 200" in job.message
    assert any("at least 200" in e.value for e in at.error)
    assert not at.button(key="training_start").disabled  # try again


def test_bigram_trains_in_one_pass_and_matches_the_shipped_card():
    at = page()
    at.radio(key="training_kind").set_value("bigram")
    run(at)
    train_until_done(at)
    final = at.session_state["training_job"].events[-1]
    assert final.heldout_loss == pytest.approx(core.load_text_model("names-bigram").card["metrics"]["heldout_nll"])
