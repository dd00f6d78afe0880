"""The words under each score name the event it is the probability of, and the numbers bear them out:
a prefix's probability is the sum over every next token of the longer prefix's (a stream goes on), a
whole name's is not (it ends)."""

from __future__ import annotations

import math

import pytest

from core.lessons.ledger import scored_event
from core.text.language_model import load_text_model, score


def total(lm, text: str) -> float:
    return math.exp(sum(score(lm, text).logprobs))


def test_shakespeare_scores_the_start_of_a_text():
    lm = load_text_model("shakespeare")
    assert "starts with “To b”" in scored_event(lm, "To b")
    extensions = sum(total(lm, "To b" + lm.vocab.token_text(i)) for i in range(lm.vocab.size) if i != lm.vocab.bos_id)
    assert extensions == pytest.approx(total(lm, "To b"), rel=1e-4)


def test_names_scores_a_whole_name_with_its_end():
    lm = load_text_model("names")
    assert "exactly “emm”" in scored_event(lm, "emm") and "the end" in scored_event(lm, "emm")
    assert score(lm, "emm").token_ids[-1] == lm.vocab.eos_id
    letters = [c for c in "abcdefghijklmnopqrstuvwxyz"]
    longer = sum(total(lm, "emm" + c) for c in letters)
    assert longer < 1.0 and total(lm, "emm") + longer < 1.0  # disjoint events: "emm" ends, "emma" goes on


def test_the_event_escapes_what_a_student_typed():
    lm = load_text_model("shakespeare")
    assert "\\*\\*" in scored_event(lm, "**")
