"""The ordering pitfall on trained models: the order does not change the joint, but it changes what is learned.

The chain rule holds in any order, so a name's probability can be factored left to right,

    p(e, m, m, a) = p(e) p(m | e) p(m | e m) p(a | e m m) p(end | e m m a),

or right to left, p(a) p(m | a) p(m | a m) p(e | a m m) p(end | a m m e). Both equal the same
joint; two *learned* models of the two factorisations only approximate it, each in its own way.
``names`` reads names left to right; ``names-reversed`` is the same transformer trained on the
same split with the same budget on names written right to left. ``order_pair`` lays out one
name's factors under both; ``heldout_comparison`` scores every held-out name under both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.text.evaluation import heldout_names, per_name_nll
from core.text.language_model import TextModel, score

FORWARD, REVERSED = "names", "names-reversed"


@dataclass(frozen=True)
class OrderedFactor:
    label: str  # "p(m | e)": the predicted letter given what this model has read (its own order)
    prob: float  # the factor
    neglog: float  # -log of it, nats


@dataclass(frozen=True)
class OrderedScore:
    model: str
    reads: str  # the name in the order the model reads it
    factors: tuple[OrderedFactor, ...]

    @property
    def nll(self) -> float:
        return math.fsum(f.neglog for f in self.factors)


def ordered_score(lm: TextModel, name: str, backwards: bool) -> OrderedScore:
    """One name's chain-rule factors under ``lm``, which reads names right to left when ``backwards``.
    InputError / VocabError as ``core.score`` raises them."""
    reads = lm.vocab.normalize(name)[::-1] if backwards else lm.vocab.normalize(name)
    s = score(lm, reads)
    factors = []
    for i, (token, p, lp) in enumerate(zip(s.tokens, s.probs, s.logprobs, strict=True)):
        given = reads[:i]
        shown = "end" if i == len(reads) else token
        label = f"p({shown} | {given})" if given else f"p({shown})"
        factors.append(OrderedFactor(label, p, -lp))
    return OrderedScore(lm.name, reads, tuple(factors))


@dataclass(frozen=True)
class OrderPair:
    forward: OrderedScore
    reversed: OrderedScore

    @property
    def difference(self) -> float:
        """reversed NLL - forward NLL (nats); the exact joints would agree: this is the models' disagreement."""
        return self.reversed.nll - self.forward.nll


def order_pair(forward: TextModel, backward: TextModel, name: str) -> OrderPair:
    return OrderPair(ordered_score(forward, name, False), ordered_score(backward, name, True))


@dataclass(frozen=True)
class HeldoutComparison:
    names: list[str]  # the held-out names, left to right
    forward: np.ndarray  # (N,) -log p(name) in nats under the left-to-right model
    reversed: np.ndarray  # (N,) the same names under the right-to-left model
    n_tokens: int  # tokens scored per model (letters + one end token per name)

    @property
    def forward_per_token(self) -> float:
        return float(self.forward.sum() / self.n_tokens)

    @property
    def reversed_per_token(self) -> float:
        return float(self.reversed.sum() / self.n_tokens)

    @property
    def gap_per_token(self) -> float:
        return self.reversed_per_token - self.forward_per_token

    @property
    def correlation(self) -> float:
        return float(np.corrcoef(self.forward, self.reversed)[0, 1])

    @property
    def mean_abs_difference(self) -> float:
        return float(np.abs(self.reversed - self.forward).mean())


def heldout_comparison(forward: TextModel, backward: TextModel) -> HeldoutComparison:
    """Every held-out name scored under both orders (one batched pass per model)."""
    names = heldout_names()
    fwd = np.array(per_name_nll(forward, names))
    rev = np.array(per_name_nll(backward, [n[::-1] for n in names]))
    return HeldoutComparison(names, fwd, rev, sum(len(n) + 1 for n in names))
