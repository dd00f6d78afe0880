"""The chain rule made concrete: a worked example, and an exact joint factored in every order.

The lesson's central identity is exact for any joint distribution over a sequence:

    p(x1, ..., xn) = p(x1) * p(x2 | x1) * ... * p(xn | x1..x(n-1))

so its negative log-likelihood is a sum of per-position terms, -log p = sum_i -log p(x_i | x_<i).
This module makes that concrete:

* ``worked_example``: three hand-set factors -> the joint, each -log p and the running sum;
* ``random_joint`` / ``conditional_tables``: a small exact joint (3 positions x 3 symbols) whose
  conditionals for ANY ordering of the positions are derived by marginalisation, and whose product
  gives back the joint for all 27 sequences (the order does not change the joint);
* the same sum read off a trained model for real text is ``core.lessons.ledger``.

Natural logs (nats) throughout; ``to_unit`` converts to bits for display.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from core.errors import InputError

UNITS = ("nats", "bits")


def to_unit(nats: float, unit: str) -> float:
    """A quantity of information given in nats, expressed in ``unit`` ("nats" or "bits")."""
    if unit == "nats":
        return nats
    if unit == "bits":
        return nats / math.log(2)
    raise InputError(f"Unknown unit {unit!r}. Allowed units: {', '.join(UNITS)}.")


def neg_log(p: float) -> float:
    """-log p in nats; -log 0 = +inf (an event the model calls impossible costs infinitely many nats)."""
    return math.inf if p == 0 else -math.log(p)


# ---------------------------------------------------------------------------------------------
# 1. The worked example: B-A-C with p(B) = 0.4, p(A|B) = 0.5, p(C|B,A) = 0.6

WORKED_SEQUENCE = ("B", "A", "C")
WORKED_LABELS = ("p(B)", "p(A | B)", "p(C | B, A)")
WORKED_FACTORS = (0.4, 0.5, 0.6)


@dataclass(frozen=True)
class WorkedExample:
    labels: tuple[str, ...]  # one conditional per position, e.g. "p(A | B)"
    factors: tuple[float, ...]  # p(x_i | x_<i)
    neglogs: tuple[float, ...]  # -log p(x_i | x_<i) in nats (inf for a factor of 0)
    running: tuple[float, ...]  # running sum of neglogs, nats
    joint: float  # product of the factors
    nll_of_joint: float  # -log(joint), nats: the first way
    nll_sum: float  # sum of the per-factor terms, nats: the second way (same number)

    @property
    def zero_factors(self) -> list[str]:
        """Labels of factors equal to 0 (each makes the joint 0 and the NLL infinite)."""
        return [label for label, p in zip(self.labels, self.factors, strict=True) if p == 0]


def worked_example(factors=WORKED_FACTORS, labels=WORKED_LABELS) -> WorkedExample:
    """The joint and its NLL computed both ways. Every factor must be a probability in [0, 1]."""
    factors = tuple(float(p) for p in factors)
    if len(factors) != len(labels):
        raise InputError(f"Expected {len(labels)} factors ({', '.join(labels)}), got {len(factors)}.")
    for label, p in zip(labels, factors, strict=True):
        if not (0.0 <= p <= 1.0):  # also rejects NaN
            raise InputError(f"{label} = {p} is not a probability: every factor must be between 0 and 1.")
    neglogs = tuple(neg_log(p) for p in factors)
    running = tuple(itertools.accumulate(neglogs))
    joint = math.prod(factors)
    return WorkedExample(
        labels=tuple(labels),
        factors=factors,
        neglogs=neglogs,
        running=running,
        joint=joint,
        nll_of_joint=neg_log(joint),
        nll_sum=math.fsum(neglogs) if all(math.isfinite(v) for v in neglogs) else math.inf,
    )


# ---------------------------------------------------------------------------------------------
# 2. An exact joint over 3 positions x 3 symbols, factored in any of the 6 orders

SYMBOLS = ("A", "B", "C")
N_POSITIONS = 3
ORDERINGS = list(itertools.permutations(range(N_POSITIONS)))  # the 6 orders of positions 0, 1, 2


def random_joint(seed: int, n_positions: int = N_POSITIONS, n_symbols: int = len(SYMBOLS)) -> np.ndarray:
    """A joint table p[x1, x2, x3] of shape (S,)*n_positions, drawn from a flat Dirichlet.

    Every entry is > 0 and they sum to 1. Seeded numpy Generator: same seed, same distribution.
    """
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_symbols**n_positions))  # (S**n,): uniform over all joints
    return weights.reshape((n_symbols,) * n_positions)


def marginal(joint: np.ndarray, positions: tuple[int, ...]) -> np.ndarray:
    """p(x_positions), summing the joint over every other position; axes follow ``positions``."""
    others = tuple(a for a in range(joint.ndim) if a not in positions)
    m = joint.sum(axis=others)  # remaining axes in increasing position order
    kept = sorted(positions)
    return np.transpose(m, [kept.index(p) for p in positions])


def conditional_tables(joint: np.ndarray, order: tuple[int, ...]) -> list[np.ndarray]:
    """The chain-rule factors for ``order``, derived from the joint by marginalisation.

    Table k has shape (S,)*(k+1), indexed by the values at order[0..k], and holds
    p(x_order[k] | x_order[0..k-1]) = p(x_order[0..k]) / p(x_order[0..k-1]).
    """
    if sorted(order) != list(range(joint.ndim)):
        raise InputError(f"{order} is not an ordering of the positions {tuple(range(joint.ndim))}.")
    tables = []
    previous = np.array(1.0)  # the marginal of nothing
    for k in range(len(order)):
        m = marginal(joint, tuple(order[: k + 1]))  # (S,)*(k+1)
        denominator = previous[..., None]  # (S,)*k + (1,): broadcast over x_order[k]
        # a conditioning event of probability 0 has no conditional; 0 keeps the product right
        tables.append(np.divide(m, denominator, out=np.zeros_like(m), where=denominator > 0))
        previous = m
    return tables


def position_name(position: int) -> str:
    return f"x{position + 1}"


@dataclass(frozen=True)
class Factor:
    position: int  # 0-based position this factor predicts
    symbol: str
    given: tuple[tuple[int, str], ...]  # (position, symbol) already known, in the ordering's order
    prob: float

    @property
    def label(self) -> str:
        """E.g. "p(x3=C | x1=B, x2=A)"."""
        head = f"{position_name(self.position)}={self.symbol}"
        if not self.given:
            return f"p({head})"
        cond = ", ".join(f"{position_name(p)}={s}" for p, s in self.given)
        return f"p({head} | {cond})"


def sequence_factors(joint: np.ndarray, order: tuple[int, ...], sequence: tuple[int, ...]) -> list[Factor]:
    """The factors of one sequence (symbol indices per position) under ``order``."""
    tables = conditional_tables(joint, order)
    factors = []
    for k, pos in enumerate(order):
        index = tuple(sequence[p] for p in order[: k + 1])
        factors.append(
            Factor(
                position=pos,
                symbol=SYMBOLS[sequence[pos]],
                given=tuple((p, SYMBOLS[sequence[p]]) for p in order[:k]),
                prob=float(tables[k][index]),
            )
        )
    return factors


def all_sequences(n_positions: int = N_POSITIONS, n_symbols: int = len(SYMBOLS)) -> list[tuple[int, ...]]:
    return list(itertools.product(range(n_symbols), repeat=n_positions))


def sequence_text(sequence: tuple[int, ...]) -> str:
    return "".join(SYMBOLS[s] for s in sequence)


def product_of_conditionals(joint: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """For every sequence, the product of its chain-rule factors under ``order``: same shape as joint."""
    tables = conditional_tables(joint, order)
    product = np.empty_like(joint)
    for sequence in all_sequences(joint.ndim, joint.shape[0]):
        p = 1.0
        for k in range(len(order)):
            p *= tables[k][tuple(sequence[q] for q in order[: k + 1])]
        product[sequence] = p
    return product


@dataclass(frozen=True)
class SequenceRow:
    sequence: str  # e.g. "BAC"
    joint: float  # read from the table
    product: float  # the product of its conditionals under the order
    difference: float  # |product - joint|: 0 up to float rounding


def sequence_table(joint: np.ndarray, order: tuple[int, ...]) -> list[SequenceRow]:
    """Every sequence with its joint, the product of its conditionals under ``order``, and their gap."""
    products = product_of_conditionals(joint, order)
    return [
        SequenceRow(sequence_text(s), float(joint[s]), float(products[s]), abs(float(products[s] - joint[s])))
        for s in all_sequences(joint.ndim, joint.shape[0])
    ]


def max_abs_difference(joint: np.ndarray, order: tuple[int, ...]) -> float:
    """max over all sequences of |product of conditionals - joint|: 0 up to float rounding."""
    return float(np.max(np.abs(product_of_conditionals(joint, order) - joint)))


def ordering_formula(order: tuple[int, ...]) -> str:
    """The factorisation for an ordering in LaTeX, e.g. p(x_3)\\,p(x_1 \\mid x_3)\\,p(x_2 \\mid x_3, x_1)."""
    parts = []
    for k, pos in enumerate(order):
        given = ", ".join(f"x_{p + 1}" for p in order[:k])
        parts.append(f"p(x_{pos + 1}" + (rf" \mid {given}" if given else "") + ")")
    return r"\,".join(parts)
