"""Check-yourself questions: every generator's answer against an independent computation, over many
seeds, and every question has exactly one right answer; typed answers are parsed or refused in words.
"""

from __future__ import annotations

import math
import random
import re

import pytest
import torch

import core
from core.errors import InputError
from core.figures.sampling import token_name
from core.image.model import load_image_model
from core.lessons import chain_rule as cr
from core.lessons import questions as qs
from core.lessons.causality import dependence_matrix, text_window
from core.lessons.ledger import build_ledger
from core.lessons.quiz import Question, check, parse_number
from core.lessons.receptive_field import receptive_field
from core.models.kv_cache import causal_mask
from core.text.language_model import logits_for_context

SEEDS = range(40)


def assert_one_right_answer(q: Question) -> None:
    if q.kind == "choice":
        assert sum(check(q, i).correct for i in range(len(q.choices))) == 1
    elif q.kind == "multi":
        assert check(q, q.answer).correct
        for i in range(len(q.choices)):  # any one change makes it wrong
            assert not check(q, set(q.answer) ^ {i}).correct
    else:
        assert check(q, f"{float(q.answer):.6f}").correct
        assert not check(q, f"{float(q.answer) + 2 * q.tolerance + 1:.6f}").correct
    if q.kind == "choice":
        wrong = (int(q.answer) + 1) % len(q.choices)
    else:
        wrong = set() if q.kind == "multi" else "123456789"
    verdict = check(q, wrong)
    if not verdict.correct:
        assert q.answer_text in verdict.message  # a wrong answer is shown the right one


# ---------------------------------------------------------------------------------------------
# parsing and checking


@pytest.mark.parametrize(
    "typed, says",
    [
        ("", "Type a number"),
        ("  ", "Type a number"),
        ("two", "not a number"),
        ("1e400", "too large"),
        ("nan", "too large"),
    ],
)
def test_bad_typed_numbers_say_what_is_wrong(typed, says):
    with pytest.raises(InputError, match=says):
        parse_number(typed)


@pytest.mark.parametrize("typed, value", [("2.53", 2.53), (" −1.5 ", -1.5), ("1e3", 1000.0), ("7", 7.0)])
def test_typed_numbers(typed, value):
    assert parse_number(typed) == value


def test_a_choice_question_without_a_choice_is_an_input_error():
    q = Question("k", "?", "choice", 1, "because", choices=("a", "b"))
    with pytest.raises(InputError, match="Pick one"):
        check(q, None)
    assert check(q, 1).correct and check(q, 1).message.startswith("**Right.**")
    assert "The answer is **b**" in check(q, 0).message


# ---------------------------------------------------------------------------------------------
# chain rule


@pytest.mark.parametrize("seed", SEEDS)
def test_chain_rule_nll_is_minus_the_sum_of_the_logs(seed):
    q = qs.chain_rule_nll(random.Random(seed))
    factors = [float(x) for x in re.findall(r"= (\d\.\d+|\d)", q.text)]
    assert len(factors) == 3
    assert float(q.answer) == pytest.approx(-math.fsum(math.log(p) for p in factors), abs=1e-4)
    assert_one_right_answer(q)


@pytest.mark.parametrize("seed", SEEDS)
def test_chain_rule_ordering_every_order_gives_the_joint(seed):
    q = qs.chain_rule_ordering(random.Random(seed))
    assert q.choices[int(q.answer)] == "They all give the same value"
    joint = cr.random_joint(seed)
    assert max(cr.max_abs_difference(joint, order) for order in cr.ORDERINGS) < 1e-12
    assert_one_right_answer(q)


@pytest.mark.parametrize("text", ["emma", "zqxj", "olivia", "bob"])
def test_chain_rule_surprise_is_the_costliest_token_under_score(names_lm, text):
    q = qs.chain_rule_surprise(random.Random(0), build_ledger(names_lm, text))
    s = core.score(names_lm, text)
    costs = [-lp for lp in s.logprobs][:8]
    assert int(q.answer) == max(range(len(costs)), key=costs.__getitem__)
    assert_one_right_answer(q)


def test_chain_rule_surprise_needs_a_ledger():
    assert qs.chain_rule_surprise(random.Random(0), None) is None


# ---------------------------------------------------------------------------------------------
# attention


@pytest.mark.parametrize("seed", SEEDS)
def test_mask_zeros_count_the_mask(seed):
    q = qs.attention_mask_zeros(random.Random(seed))
    n = int(re.search(r"a (\d+)×", q.text).group(1))
    assert q.answer == int((~causal_mask(n)).sum())
    assert_one_right_answer(q)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("model", ["names", "names-leaky"])
def test_what_changes_matches_the_models_measured_dependence(seed, model):
    lm = core.load_text_model(model)
    window = text_window(lm, "emily")
    q = qs.attention_what_changes(random.Random(seed), window.labels, window.starts_with_start_token, lm.is_causal)
    j = int(re.search(r"position (\d+)", q.text).group(1))
    dep = dependence_matrix(lm, window.ids).values  # D[i, j]: prediction after i vs token j
    measured = {i for i in range(window.T) if dep[i, j] > 1e-9}
    assert set(q.answer) == measured
    assert_one_right_answer(q)


# ---------------------------------------------------------------------------------------------
# sampling


def survivors_by_hand(logits: torch.Tensor, k: int, p: float) -> int:
    probs = sorted(torch.softmax(logits.double(), 0).tolist(), reverse=True)[:k]
    total, mass, n = sum(probs), 0.0, 0
    for x in probs:
        if mass >= p:
            break
        mass += x / total
        n += 1
    return n


@pytest.mark.parametrize("seed", SEEDS)
def test_survivors_by_hand(names_lm, seed):
    g = torch.Generator().manual_seed(seed)
    logits = logits_for_context(names_lm, [0, int(torch.randint(1, 27, (1,), generator=g))])
    q = qs.sampling_survivors(random.Random(seed), logits, lambda i: token_name(names_lm.vocab, i))
    k = int(re.search(r"top-k = (\d+)", q.text).group(1))
    p = float(re.search(r"top-p = ([\d.]+)", q.text).group(1))
    assert q.answer == survivors_by_hand(logits, k, p)
    assert_one_right_answer(q)


@pytest.mark.parametrize("seed", range(10))
def test_greedy_is_the_argmax(names_lm, seed):
    logits = logits_for_context(names_lm, [0] + names_lm.vocab.encode("ma"[: seed % 3]))
    q = qs.sampling_greedy(random.Random(seed), logits, lambda i: token_name(names_lm.vocab, i))
    assert q.choices[int(q.answer)] == token_name(names_lm.vocab, int(torch.argmax(logits)))
    assert_one_right_answer(q)


@pytest.mark.parametrize("seed", range(10))
def test_temperature_question_by_step_by_step_products(names_lm, seed):
    steps = list(core.generate(names_lm, "", 8, seed=seed))
    tokens = [s.token_id for s in steps]
    logprobs = torch.stack([s.stages.raw.log() for s in steps])
    q = qs.sampling_temperature(random.Random(seed), logprobs, tokens)
    ids, by_t = [0], {0.5: 0.0, 1.5: 0.0}
    for t in tokens:  # independently: the model's logits at each step, tempered
        logits = logits_for_context(names_lm, ids).double()
        for temp in by_t:
            by_t[temp] += float(torch.log_softmax(logits / temp, 0)[t])
        ids.append(t)
    best = max(by_t, key=by_t.get)
    assert q.choices[int(q.answer)] == f"T = {best:g}"
    assert_one_right_answer(q)
    assert qs.sampling_temperature(random.Random(0), None, []) is None


# ---------------------------------------------------------------------------------------------
# PixelCNN


@pytest.fixture(scope="module")
def pixelcnn():
    return load_image_model("pixelcnn")


@pytest.mark.parametrize("seed", range(6))
def test_receptive_field_count_is_what_the_gradient_measures(pixelcnn, seed):
    q = qs.pixel_receptive_field(random.Random(seed), pixelcnn)
    layers = int(re.search(r"After \*\*(\d)\*\*", q.text).group(1))
    row, col = (int(x) for x in re.search(r"row (\d+), column (\d+)", q.text).groups())
    assert q.answer == int(receptive_field(pixelcnn, row, col, layers).sum())
    assert_one_right_answer(q)


@pytest.mark.parametrize("seed", SEEDS)
def test_bits_per_dim(seed):
    q = qs.pixel_bits_per_dim(random.Random(seed))
    nll = int(re.search(r"= (\d+) nats", q.text).group(1))
    assert float(q.answer) == pytest.approx(nll / 784 / math.log(2), abs=1e-4)
    assert_one_right_answer(q)


def test_training_loss_question_answers_with_the_trainers_loss():
    from core.lessons.loss_ledger import draw_batch, loss_ledger, window_length
    from core.lessons.questions import training_loss
    from core.text.language_model import load_text_model
    from core.text.live_training import prepare

    lm = load_text_model("names")
    length = window_length(lm)
    ledger = loss_ledger(lm, *draw_batch(prepare("names", length), 8, 0, "training", length))
    q = training_loss(random.Random(0), ledger.costs)
    assert q is not None and len(q.choices) == 4
    assert float(q.choices[q.answer]) == pytest.approx(ledger.loss, abs=5e-4)  # the trainer's own number
    assert training_loss(random.Random(0), torch.tensor([[1.0, float("nan")]])) is None  # one cell: nothing to ask
