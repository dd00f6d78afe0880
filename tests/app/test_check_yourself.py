"""Check yourself on every lesson page, through AppTest: a right answer, a wrong one, bad input, a new
question set, the teacher key. The right answers are recomputed here from the question's own numbers
or from core (not read from the page).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.figures.sampling import token_name
from pages.common import shared_model

torch.set_num_threads(1)
PAGES = Path(__file__).resolve().parents[2] / "pages"


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


def open_page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception, at.exception
    return at


def question_text(at: AppTest, page: str, n: int) -> str:
    texts = [m.value for m in at.markdown if m.value.startswith(f"**{n}.** ")]
    assert texts, f"no question {n} on {page}"
    return texts[0]


def answer_box(at: AppTest, page: str, kind: str, n: int):
    widgets = [w for w in getattr(at, kind) if (w.key or "").startswith(f"quiz_answer_{page}_")]
    return widgets[n - 1]


def press_check(at: AppTest, page: str, n: int) -> AppTest:
    at.button(key=f"quiz_check_{page}_{n}").click()
    at.run()
    assert not at.exception, at.exception
    return at


def verdicts(at: AppTest) -> dict[str, list[str]]:
    return {
        "right": [s.value for s in at.success if "Right." in s.value],
        "wrong": [e.value for e in at.error if "Not quite." in e.value],
        "bad": [w.value for w in at.warning],
    }


def test_chain_rule_right_wrong_and_bad_input():
    at = open_page("chain_rule")
    text = question_text(at, "chain_rule", 1)
    factors = [float(x) for x in re.findall(r"= (\d\.\d+|\d)", text)]
    nll = -math.fsum(math.log(p) for p in factors)  # worked out here from the question's numbers
    box = answer_box(at, "chain_rule", "text_input", 1)
    box.input("two point five")
    press_check(at, "chain_rule", 1)
    assert any("not a number" in w for w in verdicts(at)["bad"])
    answer_box(at, "chain_rule", "text_input", 1).input("")
    press_check(at, "chain_rule", 1)
    assert any("Type a number first" in w for w in verdicts(at)["bad"])
    answer_box(at, "chain_rule", "text_input", 1).input("1e999")
    press_check(at, "chain_rule", 1)
    assert any("too large" in w for w in verdicts(at)["bad"])
    answer_box(at, "chain_rule", "text_input", 1).input(f"{nll + 0.5:.3f}")
    press_check(at, "chain_rule", 1)
    assert len(verdicts(at)["wrong"]) == 1 and f"{nll:.3f}" in verdicts(at)["wrong"][0]
    answer_box(at, "chain_rule", "text_input", 1).input(f"{nll:.3f}")
    press_check(at, "chain_rule", 1)
    assert len(verdicts(at)["right"]) == 1
    # the ordering question: "they all give the same value" is right
    radio = answer_box(at, "chain_rule", "radio", 1)
    radio.set_value(len(radio.options) - 1)
    press_check(at, "chain_rule", 2)
    assert len(verdicts(at)["right"]) == 2
    assert any("**2 of 2**" in c.value for c in at.caption)


def test_a_new_question_set_changes_the_questions_and_goes_in_the_url():
    at = open_page("chain_rule")
    before = question_text(at, "chain_rule", 1)
    at.button(key="quiz_new_chain_rule").click()
    at.run()
    assert at.query_params["quiz"] == "1"
    again = open_page("chain_rule", quiz=1)  # a teacher's link gives the same set
    assert question_text(at, "chain_rule", 1) == question_text(again, "chain_rule", 1) != before
    again.toggle(key="quiz_key_chain_rule").set_value(True)
    again.run()
    key = [m.value for m in again.markdown if "**Answer:**" in m.value]
    assert len(key) == 3 and key[1].endswith("**Answer:** They all give the same value")


@pytest.mark.parametrize("bad", ["abc", "-3", "99999999999999"])
def test_a_bad_quiz_seed_in_the_url_means_set_zero(bad):
    at = open_page("chain_rule", quiz=bad)
    assert question_text(at, "chain_rule", 1) == question_text(open_page("chain_rule"), "chain_rule", 1)


def test_attention_what_changes_is_answered_by_the_models_mask(names_lm):
    at = open_page("attention")
    text = question_text(at, "attention", 2)
    j = int(re.search(r"position (\d+)", text).group(1))
    box = answer_box(at, "attention", "multiselect", 1)
    box.set_value(list(range(j, len(box.options))))  # causal: the predictions after positions j and later
    press_check(at, "attention", 2)
    assert len(verdicts(at)["right"]) == 1, verdicts(at)
    answer_box(at, "attention", "multiselect", 1).set_value([0])
    press_check(at, "attention", 2)
    assert len(verdicts(at)["wrong"]) == 1


def test_sampling_survivors_and_greedy_against_core(names_lm):
    at = open_page("sampling", seed=3)
    text = question_text(at, "sampling", 1)
    k = int(re.search(r"top-k = (\d+)", text).group(1))
    p = float(re.search(r"top-p = ([\d.]+)", text).group(1))
    logits = core.text.language_model.logits_for_context(names_lm, [0])
    survivors = int(torch.count_nonzero(core.next_token_distribution(logits, 1.0, k, p).final))
    answer_box(at, "sampling", "text_input", 1).input(str(survivors))
    press_check(at, "sampling", 1)
    assert len(verdicts(at)["right"]) == 1
    radio = answer_box(at, "sampling", "radio", 1)
    best = token_name(names_lm.vocab, int(torch.argmax(logits)))  # the greedy token, from the logits above
    radio.set_value(next(i for i, label in enumerate(radio.options) if label.replace("\\", "") == best))
    press_check(at, "sampling", 2)
    assert len(verdicts(at)["right"]) == 2, verdicts(at)


def test_pixelcnn_bits_per_dim():
    at = open_page("pixelcnn")
    text = question_text(at, "pixelcnn", 2)
    nll = int(re.search(r"= (\d+) nats", text).group(1))
    answer_box(at, "pixelcnn", "text_input", 2).input(f"{nll / 784 / math.log(2):.4f}")
    press_check(at, "pixelcnn", 2)
    assert len(verdicts(at)["right"]) == 1
    answer_box(at, "pixelcnn", "text_input", 1).input("0")
    press_check(at, "pixelcnn", 1)
    assert len(verdicts(at)["wrong"]) == 1


def test_training_asks_which_number_is_the_loss_and_the_trainers_loss_is_right():
    from core.lessons.loss_ledger import draw_batch, loss_ledger, window_length
    from core.text.live_training import prepare

    at = open_page("training")
    assert "loss the optimizer sees" in question_text(at, "training", 1)
    lm = core.load_text_model("names")
    length = window_length(lm)
    loss = loss_ledger(lm, *draw_batch(prepare("names", length), 8, 0, "training", length)).loss
    radio = answer_box(at, "training", "radio", 1)
    radio.set_value([i for i, c in enumerate(radio.options) if c == f"{loss:.3f}"][0])
    press_check(at, "training", 1)
    assert len(verdicts(at)["right"]) == 1
