"""The tour through AppTest: Next and Back walk every step, each live element prints core's numbers, each
step links its page in the stated state, and a bad step in the link opens step 1 with a note in words."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.lessons.chain_rule import random_joint, worked_example
from core.lessons.joint_sampling import ancestral_sample, frequencies, total_variation
from core.lessons.states import TOUR_STEPS
from core.lessons.tour import STEPS
from core.text.language_model import context_ids, load_text_model, logits_for_context

ROOT = Path(__file__).resolve().parents[2]


def tour() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/tour.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def test_next_and_back_walk_every_step_with_its_link():
    at = tour()
    for k, step in enumerate(STEPS, start=1):
        assert at.session_state["tour_step"] == k
        assert [h.value for h in at.title] == [f"Tour {k}. {step.title}"]
        links = [(link.proto.page, link.proto.query_string) for link in at.get("page_link")]
        if step.scene is not None:
            assert links[-1][0] == step.scene.page
            assert dict(p.split("=", 1) for p in links[-1][1].split("&") if p).keys() == step.scene.query().keys()
        assert at.button(key="tour_next").disabled == (k == TOUR_STEPS)
        if k < TOUR_STEPS:
            at.button(key="tour_next").click().run()
            assert not at.exception, (k, [e.message for e in at.exception])
    at.button(key="tour_back").click().run()
    assert at.session_state["tour_step"] == TOUR_STEPS - 1


def go_to(at: AppTest, k: int) -> AppTest:
    at.segmented_control(key="tour_step").set_value(k).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_worked_example_multiplies_the_factors_you_set():
    at = tour()
    at.slider(key="tour_factor_1").set_value(0.25).run()
    e = worked_example((0.4, 0.25, 0.6))
    assert f"**{e.joint:.4f}**" in texts(at.markdown) and f"**{e.nll_sum:.3f}** nats" in texts(at.markdown)


def test_the_draws_land_where_core_says():
    at = go_to(tour(), 2)
    at.select_slider(key="tour_draws").set_value(10_000).run()
    joint = random_joint(0)
    tv = total_variation(frequencies(ancestral_sample(joint, 10_000, 0), 3), joint)
    assert f"**{tv:.4f}**" in texts(at.markdown)


def test_the_mask_counts_the_hidden_weights():
    at = go_to(tour(), 7)
    T = len("emma") + 1
    assert f"{T * (T - 1) // 2} of {T * T} weights" in texts(at.caption)


def test_temperature_sharpens_the_conditional_as_softmax_of_logits_over_t():
    at = go_to(tour(), 14)
    at.slider(key="tour_temperature").set_value(0.5).run()
    lm = load_text_model("names")
    logits = logits_for_context(lm, context_ids(lm, "em")).double()
    top = torch.softmax(logits / 0.5, -1).max().item()
    assert f"probability {top:.3f}" in texts(at.caption)
    assert not math.isclose(top, torch.softmax(logits, -1).max().item(), abs_tol=1e-3)


def test_a_question_on_its_step_is_checked():
    at = go_to(tour(), 4)  # the B-A-C example: predict the NLL
    box = at.text_input(key=[k for k in at.session_state if str(k).startswith("quiz_answer_tour_")][0])
    box.set_value("0").run()
    at.button(key="quiz_check_tour_4").click().run()
    assert len(at.error) == 1  # 0 is wrong: the verdict says so, with the worked answer


@pytest.mark.parametrize("raw", ["99", "zero"])
def test_a_bad_step_in_the_link_opens_step_one_with_a_note(raw):
    at = AppTest.from_file(str(ROOT / "pages" / "tour.py"), default_timeout=120)
    at.query_params["tour_step"] = raw
    at.run()
    assert not at.exception
    assert at.session_state["tour_step"] == 1
    assert f"from 1 to {TOUR_STEPS}" in texts(at.warning)
