"""What used to be computed inside page scripts, now in core and checked against an oracle: the verdict
of two likelihoods (a tie is a tie), the table of every sequence, the attention row sums, a chart click,
the test digits of one label, and the total variation of draws."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from core.image.mnist import load_test_set
from core.lessons.causality import row_sum_error
from core.lessons.chain_rule import ORDERINGS, random_joint, sequence_table
from core.lessons.ledger import likelihood_verdict
from core.lessons.pixel_lesson import clicked_pixel
from core.text.sampling import SamplingSettings, total_variation


def test_a_gap_of_exactly_zero_is_a_tie_not_a_win():
    v = likelihood_verdict(("A", "B"), (12.5, 12.5), "the text", who="Prompt ", kind="prompt")
    assert v.kind == "tie" and v.winner is None and v.gap_bits == 0 and "tie" in v.sentence


@pytest.mark.parametrize("a, b, winner", [(3.0, 5.5, "A"), (5.5, 3.0, "B"), (1e-9, 2e-9, "A")])
def test_the_lower_bits_win_by_the_gap(a, b, winner):
    v = likelihood_verdict(("A", "B"), (a, b), "it")
    assert v.kind == "better" and v.winner == winner and v.gap_bits == pytest.approx(abs(a - b))
    assert f"**{winner}** explains it better, by **{abs(a - b):.2f} bits**" in v.sentence


def test_probability_zero_on_one_side_or_both():
    assert likelihood_verdict(("A", "B"), (math.inf, 2.0), "it").winner == "B"
    assert likelihood_verdict(("A", "B"), (math.inf, 2.0), "it").kind == "only"
    neither = likelihood_verdict(("A", "B"), (math.inf, math.inf), "it")
    assert neither.kind == "neither" and neither.winner is None and "Neither model can produce it" in neither.sentence


def test_times_more_likely_is_two_to_the_gap_far_past_a_float():
    v = likelihood_verdict(("A", "B"), (0.0, 10.0), "it")
    assert "2^10.00 ≈ 1.02 × 10³" in v.sentence
    assert "10³⁰¹" in likelihood_verdict(("A", "B"), (0.0, 1000.0), "it").sentence  # 2^1000 overflows no float


@pytest.mark.parametrize("order", ORDERINGS)
def test_the_sequence_table_is_every_sequence_brute_forced(order):
    joint = random_joint(5)
    rows = sequence_table(joint, order)
    assert [r.sequence for r in rows] == ["".join(s) for s in itertools.product("ABC", repeat=3)]
    for r in rows:
        index = tuple("ABC".index(c) for c in r.sequence)
        # the oracle: the product of the conditionals, each a ratio of marginals summed by hand
        p, seen = 1.0, ()
        for pos in order:
            num = sum(joint[s] for s in np.ndindex(joint.shape) if all(s[q] == index[q] for q in (*seen, pos)))
            den = sum(joint[s] for s in np.ndindex(joint.shape) if all(s[q] == index[q] for q in seen))
            p *= num / den
            seen = (*seen, pos)
        assert r.joint == joint[index] and r.product == pytest.approx(p, rel=1e-12)
        assert r.difference == abs(r.product - r.joint) < 1e-15


def test_row_sums_of_a_softmax_and_of_a_broken_matrix():
    w = torch.softmax(torch.randn(2, 3, 5, 5, dtype=torch.float64), -1).numpy()
    assert row_sum_error(w) < 1e-12
    w[1, 2, 4, 0] += 0.25
    assert row_sum_error(w) == pytest.approx(0.25)


def test_a_chart_click_is_a_pixel():
    assert clicked_pixel([{"x": 5, "y": 20, "z": 1}]) == (20, 5)
    assert clicked_pixel([{"x": 3.0, "y": 7.0}, {"x": 1, "y": 1}]) == (7, 3)  # the first point
    assert clicked_pixel([]) is None and clicked_pixel([{"text": "legend"}]) is None


def test_the_test_digits_of_one_label():
    digits = load_test_set()
    threes = digits.of_label(3)
    assert len(threes) == int((digits.labels == 3).sum()) > 0 and set(threes.labels) == {3}
    assert np.array_equal(threes.images, digits.images[digits.labels == 3])
    assert len(digits.of_label(None)) == len(digits)


def test_total_variation_of_draws():
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    assert total_variation(p, p) == 0.0
    assert total_variation(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), p) == pytest.approx(0.5)
    assert isinstance(total_variation(p, p), float)


def test_knobs_beyond_the_three():
    assert not SamplingSettings(0.7, 5, 0.9).has_extras
    assert SamplingSettings(min_p=0.1).has_extras and SamplingSettings(order="llama.cpp").has_extras
    assert SamplingSettings(repetition=1.2).has_extras and SamplingSettings(typical_p=0.9).has_extras
