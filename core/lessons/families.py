"""Not only transformers: the same chain rule over the same names, learned by five networks.

A transformer is one architecture for autoregressive modelling. The count table (bigram), an MLP over a
window (Bengio et al. 2003), a WaveNet of dilated causal convolutions (van den Oord et al. 2016) and a
recurrent GRU (Cho et al. 2014) all factor p(name) = prod_i p(x_i | x_<i); they differ in what each
conditional may read. Each defines its own joint - the factorisation is the same, the conditionals
are not. ``family_rows`` lays out what each reads, its size and its held-out NLL (the ledger's method);
``side_by_side`` one name's ledger under each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.text.evaluation import measure_heldout_nll
from core.text.language_model import TextModel, score

# makemore's order: the count table, a window, a tree of windows, a state, attention over everything
FAMILIES = ("names-bigram", "names-mlp", "names-wavenet", "names-gru", "names")
FAMILY_NAMES = {
    "names-bigram": "bigram counts",
    "names-mlp": "MLP",
    "names-wavenet": "WaveNet",
    "names-gru": "GRU",
    "names": "transformer",
}


def reach(lm: TextModel) -> int | None:
    """How many tokens a prediction may read, the current one included; None: the whole prefix."""
    if lm.card.get("kind") == "bigram":
        return 1
    return getattr(lm.net, "receptive_field", None)


def conditions_on(lm: TextModel) -> str:
    """What each of ``lm``'s conditionals reads, in words."""
    kind, r = lm.card.get("kind"), reach(lm)
    if kind == "bigram":
        return "the previous token only"
    if kind == "mlp":
        return f"the last {r} tokens (a fixed window; anything earlier is cut)"
    if kind == "wavenet":
        return f"the last {r} tokens (its receptive field: 1 + sum of the dilations)"
    if kind == "gru":
        return "the whole prefix, squeezed into one fixed-size state"
    return f"the whole prefix, up to {lm.block_size} tokens, by attention"


def parameter_count(lm: TextModel) -> int:
    return lm.net.num_params()


@dataclass(frozen=True)
class FamilyRow:
    model: str
    family: str
    reads: str  # conditions_on
    parameters: int
    heldout_nll: float  # nats per token on the 1,000 held-out names, the ledger's way


def family_rows(models: list[TextModel]) -> list[FamilyRow]:
    """One row per model: what it reads, its size, its held-out NLL recomputed from its weights."""
    return [
        FamilyRow(
            m.name, FAMILY_NAMES.get(m.name, m.name), conditions_on(m), parameter_count(m), measure_heldout_nll(m)
        )
        for m in models
    ]


@dataclass(frozen=True)
class SideBySide:
    tokens: list[str]  # the scored tokens, the end token included
    costs: dict[str, list[float]]  # model -> -log p of each token, nats
    totals: dict[str, float]  # model -> -log p(name), nats


def side_by_side(models: list[TextModel], name: str) -> SideBySide:
    """One name's ledger under every model (InputError / VocabError as core.score raises them)."""
    scores = {m.name: score(m, name) for m in models}
    first = next(iter(scores.values()))
    costs = {k: [-lp for lp in s.logprobs] for k, s in scores.items()}
    return SideBySide(first.tokens, costs, {k: math.fsum(v) for k, v in costs.items()})
