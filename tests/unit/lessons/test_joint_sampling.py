"""core.lessons.joint_sampling: ancestral draws follow the joint (chi-square at a fixed seed), a rule on
each conditional makes them follow the product of the changed conditionals (brute force over all 27
sequences), and the total variation of n draws shrinks like 1/√n."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.lessons.chain_rule import random_joint
from core.lessons.joint_sampling import (
    MAX_DRAWS,
    ancestral_sample,
    convergence,
    frequencies,
    implied_joint,
    total_variation,
)
from core.text.language_model import DEFAULT_SETTINGS
from core.text.sampling import SamplingSettings as Settings

CHI2_26_999 = 54.05  # the 99.9 % point of chi-square with 26 degrees of freedom (27 cells)


def chi_square(draws: np.ndarray, joint: np.ndarray) -> float:
    expected = joint.ravel() * len(draws)
    observed = frequencies(draws, joint.shape[0]).ravel() * len(draws)
    return float(((observed - expected) ** 2 / expected).sum())


def rule_by_hand(probs: np.ndarray, rule: Settings) -> np.ndarray:
    """Temperature then top-k on one distribution, in numpy: p^(1/T) renormalised, the k largest kept."""
    p = probs ** (1 / rule.temperature)
    if rule.top_k is not None:
        p = np.where(p >= np.sort(p)[-rule.top_k], p, 0.0)  # a random joint has no ties
    return p / p.sum()


def by_hand(joint: np.ndarray, rule: Settings) -> np.ndarray:
    """Each sequence's probability under ancestral sampling with ``rule``, from sums over the joint."""
    q = np.zeros_like(joint)
    for x in itertools.product(range(3), repeat=3):
        prob = 1.0
        for i in range(3):
            # p(x_i = . | x_<i) for every value of x_i: the joint summed over the later positions
            rows = np.array([joint[(*x[:i], v)].sum() for v in range(3)])
            prob *= rule_by_hand(rows / rows.sum(), rule)[x[i]]
        q[x] = prob
    return q


@pytest.mark.parametrize(
    "rule", [Settings(), Settings(0.5), Settings(2.0), Settings(1.0, 1), Settings(1.0, 2), Settings(0.7, 2)]
)
def test_the_implied_joint_is_the_product_of_the_changed_conditionals(rule):
    joint = random_joint(4)
    q = implied_joint(joint, rule)
    assert np.allclose(q, by_hand(joint, rule), atol=1e-12)
    assert q.sum() == pytest.approx(1.0)


def test_no_rule_leaves_the_joint_and_a_rule_on_each_conditional_is_not_the_rule_on_the_joint():
    joint = random_joint(0)
    assert np.allclose(implied_joint(joint, DEFAULT_SETTINGS), joint, atol=1e-12)
    assert np.allclose(implied_joint(joint, Settings(1.0, 3)), joint, atol=1e-12)  # top-3 of 3 keeps everything
    cooled = implied_joint(joint, Settings(0.5))
    whole = joint**2 / (joint**2).sum()  # temperature 0.5 applied to the joint as one distribution
    assert total_variation(cooled, whole) > 0.01


def test_ancestral_draws_follow_the_joint():
    joint = random_joint(7)
    draws = ancestral_sample(joint, 200_000, seed=1)
    assert chi_square(draws, joint) < CHI2_26_999
    assert np.array_equal(draws, ancestral_sample(joint, 200_000, seed=1))  # same seed, same draws


@pytest.mark.parametrize("rule", [Settings(0.5), Settings(1.0, 2)])
def test_draws_with_a_rule_follow_the_implied_joint_not_the_original(rule):
    joint = random_joint(7)
    draws = ancestral_sample(joint, 200_000, seed=2, settings=rule)
    q = implied_joint(joint, rule)
    cells = q > 0  # top-k makes some sequences impossible: no draw may land there
    assert frequencies(draws, 3)[~cells].sum() == 0
    expected, observed = q[cells] * len(draws), frequencies(draws, 3)[cells] * len(draws)
    assert float(((observed - expected) ** 2 / expected).sum()) < CHI2_26_999
    assert total_variation(frequencies(draws, 3), joint) > 5 * total_variation(frequencies(draws, 3), q)


def test_the_distance_shrinks_like_one_over_the_square_root_of_n():
    joint = random_joint(3)
    c = convergence(ancestral_sample(joint, 100_000, seed=5), joint)
    assert c.ns[0] == 10 and c.ns[-1] == 100_000
    assert c.tv[-1] < c.tv[0] / 20  # 10,000 times the draws: about 100 times closer
    for n, tv, expected in zip(c.ns, c.tv, c.expected, strict=True):
        if n >= 1000:  # where the normal approximation holds
            assert 0.5 * expected < tv < 2 * expected
    assert c.expected[0] / c.expected[-1] == pytest.approx((100_000 / 10) ** 0.5)


@pytest.mark.parametrize("n", [0, -1, MAX_DRAWS + 1, 2.5, True])
def test_the_number_of_draws_is_checked(n):
    with pytest.raises(ValueError, match="number of draws"):
        ancestral_sample(random_joint(0), n, seed=0)
