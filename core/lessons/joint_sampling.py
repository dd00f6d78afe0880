"""Sampling an exact joint one factor at a time (ancestral sampling), and what sampling settings do to it.

The chain rule is why an autoregressive model's samples are samples of its whole joint: draw x1 from
p(x1), then x2 from p(x2 | x1), then x3 from p(x3 | x1, x2); the sequence comes out with probability
p(x1) p(x2 | x1) p(x3 | x1, x2) = p(x1, x2, x3). Here the joint is the Chain rule page's exact table
(3 positions x 3 symbols), so the draws can be counted against all 27 probabilities.

Sampling settings applied to each conditional (temperature, top-k: ``SamplingSettings``, as on Live
sampling) break that: the draws then follow the joint that is the product of the *changed*
conditionals (``implied_joint``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.lessons.chain_rule import conditional_tables
from core.text import sampling
from core.text.language_model import DEFAULT_SETTINGS
from core.text.sampling import SamplingSettings

MAX_DRAWS = 1_000_000


TOP_KS = (1, 2, 3)  # top-k on a conditional over the 3 symbols; 3 keeps every one


def changed(probs: np.ndarray, settings: SamplingSettings) -> np.ndarray:
    """probs: (..., S) conditionals over the last axis -> each as ``settings`` turns it into the distribution
    drawn from: the one mechanism a model's next-token distribution goes through (core.text.sampling)."""
    rows = torch.from_numpy(probs.reshape(-1, probs.shape[-1]))  # (R, S)
    out = [settings.stages(torch.log(row)).final.numpy() for row in rows]  # log 0 = -inf: impossible stays so
    return np.stack(out).reshape(probs.shape)


def implied_joint(joint: np.ndarray, settings: SamplingSettings) -> np.ndarray:
    """(S, S, S) the joint that ancestral sampling with ``settings`` on every conditional draws from:
    q(x1, x2, x3) = r(p(x1)) r(p(x2 | x1)) r(p(x3 | x1, x2)), r what the settings do to a distribution."""
    order = tuple(range(joint.ndim))
    q = np.ones_like(joint)
    for table in conditional_tables(joint, order):  # (S,), (S, S), (S, S, S): position i given 0..i-1
        drawn_from = changed(table, settings)
        q = q * drawn_from.reshape(drawn_from.shape + (1,) * (joint.ndim - drawn_from.ndim))
    return q


def ancestral_sample(joint: np.ndarray, n: int, seed: int, settings: SamplingSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """(n, positions) sequences drawn position by position: x1 from p(x1), then each next position from its
    conditional given the positions drawn so far, each changed by ``settings``. Same seed, same draws."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DRAWS:
        raise ValueError(f"the number of draws must be a whole number from 1 to {MAX_DRAWS:,}, got {n!r}")
    rng = np.random.default_rng(seed)
    tables = [changed(t, settings) for t in conditional_tables(joint, tuple(range(joint.ndim)))]
    draws = np.empty((n, joint.ndim), dtype=np.int64)
    for i, table in enumerate(tables):
        probs = table[tuple(draws[:, :i].T)] if i else np.broadcast_to(table, (n, table.shape[-1]))  # (n, S)
        u = rng.random(n)[:, None]
        draws[:, i] = np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), table.shape[-1] - 1)
    return draws


def frequencies(draws: np.ndarray, n_symbols: int) -> np.ndarray:
    """(S, S, S) the fraction of the draws equal to each sequence."""
    flat = np.ravel_multi_index(tuple(draws.T), (n_symbols,) * draws.shape[1])
    counts = np.bincount(flat, minlength=n_symbols ** draws.shape[1])
    return (counts / len(draws)).reshape((n_symbols,) * draws.shape[1])


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Between two joint tables, over all their sequences: ``core.text.sampling.total_variation``."""
    return sampling.total_variation(torch.from_numpy(p).ravel(), torch.from_numpy(q).ravel())


def expected_tv(joint: np.ndarray, n: int) -> float:
    """The total variation n exact draws are expected to show, for large n: each frequency is off by a
    normal error of standard deviation √(p(1−p)/n), whose mean absolute value is √(2p(1−p)/(πn))."""
    p = joint.ravel()
    return 0.5 * float(np.sqrt(2 * p * (1 - p) / (math.pi * n)).sum())


@dataclass(frozen=True)
class Convergence:
    """The total variation of the first n draws against a joint, for n on a geometric grid."""

    ns: list[int]
    tv: list[float]  # of the first n draws against the joint drawn from
    expected: list[float]  # expected_tv at each n (about c / √n)


def convergence(draws: np.ndarray, target: np.ndarray, points: int = 13) -> Convergence:
    """TV of the first n of ``draws`` against ``target`` for n from 10 (or fewer) up to all of them."""
    n_all = len(draws)
    grid = np.unique(np.geomspace(min(10, n_all), n_all, points).round().astype(int))
    ns = [int(n) for n in grid]
    s = target.shape[0]
    tv = [total_variation(frequencies(draws[:n], s), target) for n in ns]
    return Convergence(ns, tv, [expected_tv(target, n) for n in ns])
