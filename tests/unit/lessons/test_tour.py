"""The tour's steps: as many as the page state allows, every scene's link reads back as its state, every live
element and question it names exists."""

from __future__ import annotations

import random

import pytest

from core.lessons import questions
from core.lessons.page_state import from_query
from core.lessons.states import TOUR_STEPS, TourState
from core.lessons.tour import LIVE_ELEMENTS, QUESTIONS, STEPS, Step


def test_the_tour_has_twelve_to_twenty_steps_and_the_state_counts_them():
    assert 12 <= len(STEPS) <= 20 and len(STEPS) == TOUR_STEPS
    assert len({s.title for s in STEPS}) == len(STEPS)


@pytest.mark.parametrize("step", STEPS, ids=[s.title for s in STEPS])
def test_each_step_has_two_to_five_sentences_and_one_way_to_see_it(step):
    sentences = [s for s in step.words.replace("e.g.", "eg").split(". ") if s.strip()]
    assert 2 <= len(sentences) <= 5, step.words
    assert step.scene is not None or step.live is not None or step is STEPS[-1]
    if step.scene is not None:
        assert step.scene.round_trips()


def test_every_named_question_generator_makes_a_question():
    for name in QUESTIONS:
        assert callable(getattr(questions, name))
    for name in ("chain_rule_nll", "chain_rule_ordering", "attention_mask_zeros", "pixel_bits_per_dim"):
        q = getattr(questions, name)(random.Random(0))
        assert q.text and q.explanation


def test_a_step_refuses_unknown_live_elements_and_questions():
    with pytest.raises(ValueError, match="live element"):
        Step("x", "a. b.", live="fireworks")
    with pytest.raises(ValueError, match="question"):
        Step("x", "a. b.", question="riddle")
    assert set(LIVE_ELEMENTS) >= {s.live for s in STEPS if s.live}


@pytest.mark.parametrize("raw", ["0", "18", "-1", "1e999", "two", "3.5"])
def test_a_step_out_of_range_in_the_link_is_refused_in_words(raw):
    state, notes = from_query(TourState, {"tour_step": raw})
    assert state.tour_step == 1
    assert notes and f"from 1 to {TOUR_STEPS}" in notes[0]
