"""The chain rule three ways: a worked example, an exact joint in every order, and a text's ledger.

The lesson's central identity is exact for any joint distribution over a sequence:

    p(x1, ..., xn) = p(x1) * p(x2 | x1) * ... * p(xn | x1..x(n-1))

so its negative log-likelihood is a sum of per-position terms, -log p = sum_i -log p(x_i | x_<i).
This module makes that concrete:

* ``worked_example``: three hand-set factors -> the joint, each -log p and the running sum;
* ``random_joint`` / ``conditional_tables``: a small exact joint (3 positions x 3 symbols) whose
  conditionals for ANY ordering of the positions are derived by marginalisation, and whose product
  gives back the joint for all 27 sequences (the order does not change the joint);
* ``build_ledger`` / ``classify``: the same sum read off a trained model for real text, on top of
  ``core.text.language_model.score``. There the chain rule is still exact; the approximation is only in the
  learned conditionals.

Natural logs (nats) throughout; ``to_unit`` converts to bits for display.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from core.display import visible
from core.errors import InputError, VocabError, _describe_char
from core.text.language_model import TextModel, score

UNITS = ("nats", "bits")
TOP_K_ALTERNATIVES = 5  # alternatives shown for each position of the ledger


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


# ---------------------------------------------------------------------------------------------
# 3. The ledger of real text under a trained model


# Texts the page offers to click: ordinary, unlikely, and longer than the names block of 16
# (the long Shakespeare line is longer than its block of 128, so it is scored with windows).
LEDGER_EXAMPLES = {
    "names": ["emma", "olivia", "xzqvk", "maximilianalexander"],
    "names-bigram": ["emma", "olivia", "xzqvk", "maximilianalexander"],
    "shakespeare": [
        "ROMEO:",
        "To be, or not to be",
        "O Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name; "
        "or, if thou wilt not, be but sworn my love, and I'll no longer be a Capulet.",
    ],
}
# Strings for the names-vs-Shakespeare classifier, from clearly one side to clearly the other.
CLASSIFIER_EXAMPLES = ["olivia", "jackson", "romeo", "thou art", "To be, or not to be"]


def display_token(token: str) -> str:
    """A token as a student can read it in a table or hover: space and newline made visible."""
    return visible(token)


@dataclass(frozen=True)
class LedgerRow:
    position: int  # 1-based index of the predicted token
    token: str  # the token as display text
    prob: float  # p(x_i | x_<i)
    neglog: float  # -log p(x_i | x_<i), nats
    running: float  # sum of neglog up to and including this row, nats
    context_length: int  # tokens the model read for this prediction (start token included)
    alternatives: tuple[tuple[str, float], ...]  # the TOP_K_ALTERNATIVES most likely tokens here


@dataclass(frozen=True)
class Ledger:
    model: str
    text: str
    rows: tuple[LedgerRow, ...]
    nll: float  # -log p(text) in nats: the sum of every row's -log p
    block_size: int  # the longest context the model reads
    is_bigram: bool  # a count table reading only the previous token

    @property
    def n_tokens(self) -> int:
        return len(self.rows)

    @property
    def bits(self) -> float:
        return to_unit(self.nll, "bits")

    @property
    def bits_per_token(self) -> float:
        return self.bits / self.n_tokens

    @property
    def nats_per_token(self) -> float:
        return self.nll / self.n_tokens

    @property
    def perplexity(self) -> float:
        """exp(mean NLL per token): the model was as unsure as a uniform choice among this many."""
        return math.exp(self.nats_per_token)

    @property
    def joint_log10(self) -> float:
        return -self.nll / math.log(10)

    @property
    def joint(self) -> float:
        """The joint probability as a float (0.0 once it underflows: use joint_log10 then)."""
        return math.exp(-self.nll)

    @property
    def context_lengths(self) -> list[int]:
        return [r.context_length for r in self.rows]

    @property
    def history_cut(self) -> bool:
        """True when some prediction read fewer tokens than the whole history before it."""
        return any(r.context_length < r.position for r in self.rows)


def top_alternatives(probs: torch.Tensor, lm: TextModel, k: int = TOP_K_ALTERNATIVES) -> tuple[tuple[str, float], ...]:
    """The k most likely next tokens of one (V,) distribution, most likely first."""
    values, ids = torch.topk(probs, min(k, probs.numel()))  # (k,), (k,)
    return tuple((lm.vocab.token_text(int(i)), float(v)) for v, i in zip(values, ids, strict=True))


def build_ledger(lm: TextModel, text: str) -> Ledger:
    """Score ``text`` with ``core.text.language_model.score`` and lay it out row by row with running totals.

    Raises InputError for empty text and VocabError for characters outside the vocabulary.
    """
    s = score(lm, text)
    neglogs = [-lp for lp in s.logprobs]
    rows = tuple(
        LedgerRow(
            position=i + 1,
            token=s.tokens[i],
            prob=s.probs[i],
            neglog=neglogs[i],
            running=math.fsum(neglogs[: i + 1]),
            context_length=s.context_lengths[i],
            alternatives=top_alternatives(s.conditional_probs[i], lm),
        )
        for i in range(len(s.tokens))
    )
    return Ledger(
        model=lm.name,
        text=text,
        rows=rows,
        nll=s.nll,
        block_size=lm.block_size,
        is_bigram=lm.card.get("kind") == "bigram",
    )


def context_note(ledger: Ledger) -> str | None:
    """How the text was scored when a prediction could not read the whole history, else None."""
    if not ledger.history_cut:
        return None
    lengths = ledger.context_lengths
    if ledger.is_bigram:
        return (
            "The bigram model reads only the previous token: it replaces p(xᵢ | x<ᵢ) with "
            "p(xᵢ | xᵢ₋₁). The chain rule is still exact; this is the model's approximation."
        )
    stride = max(1, ledger.block_size // 2)
    cut = [r for r in ledger.rows if r.context_length < r.position]
    return (
        f"This text needs {ledger.n_tokens} predictions, more than the model's context of "
        f"{ledger.block_size} tokens. It is scored with overlapping windows of {ledger.block_size} tokens "
        f"that advance by half a block ({stride} tokens): the first {ledger.block_size} predictions read "
        f"their whole history; the {len(cut)} later ones read between {min(r.context_length for r in cut)} "
        f"and {max(r.context_length for r in cut)} tokens of context (start token included), "
        f"not the whole history. Overall the context length ranged from {min(lengths)} to {max(lengths)}."
    )


# ---------------------------------------------------------------------------------------------
# 4. Likelihoods compared: two models on one text, and a tiny classifier


@dataclass(frozen=True)
class Candidate:
    """One model's verdict on a string: its ledger, or the characters it cannot produce."""

    model: str
    ledger: Ledger | None  # None when the text has characters outside the vocabulary
    missing_chars: tuple[str, ...]  # those characters: the model gives the text probability 0
    allowed: str  # the model's allowed characters, in words

    @property
    def bits(self) -> float:
        return self.ledger.bits if self.ledger is not None else math.inf

    @property
    def bits_per_char(self) -> float:
        """-log2 p(text) divided by the number of characters typed (inf when p(text) = 0).

        Dividing both models' totals by the same length compares their joint probabilities of the
        whole string; for the names models that joint includes the end-of-name factor.
        """
        return self.ledger.bits / len(self.ledger.text) if self.ledger is not None else math.inf


def describe_chars(chars) -> str:
    """Characters as a student can read them, as in VocabError: 'a', ' ' (space), U+000A."""
    return ", ".join(_describe_char(c) for c in chars)


def candidate(lm: TextModel, text: str) -> Candidate:
    """Score ``text`` under ``lm``; out-of-vocabulary text is probability 0, not an error."""
    try:
        ledger = build_ledger(lm, text)
    except VocabError as e:
        return Candidate(lm.name, None, tuple(e.bad_chars), e.allowed)
    return Candidate(lm.name, ledger, (), lm.vocab.allowed_description())


def bits_difference(a: Candidate, b: Candidate) -> float:
    """b.bits - a.bits: how many more bits b needs for the text (> 0: a explains it better)."""
    if math.isinf(a.bits) and math.isinf(b.bits):
        return math.nan  # both say impossible: no comparison
    return b.bits - a.bits


@dataclass(frozen=True)
class Classification:
    candidates: tuple[Candidate, ...]
    winner: str | None  # the model with the lower bits per character; None if no model can score it
    margin: float  # runner-up's bits per character minus the winner's (inf if it gives probability 0)


def classify(models: list[TextModel], text: str) -> Classification:
    """Which model finds ``text`` more likely per character, and by how many bits per character."""
    if len(models) < 2:
        raise InputError(f"Classifying needs at least two models, got {len(models)}.")
    if text == "":
        raise InputError("The text is empty: type at least one character to classify.")
    candidates = tuple(candidate(lm, text) for lm in models)
    ranked = sorted(candidates, key=lambda c: c.bits_per_char)
    if math.isinf(ranked[0].bits_per_char):
        return Classification(candidates, None, math.nan)
    return Classification(candidates, ranked[0].model, ranked[1].bits_per_char - ranked[0].bits_per_char)
