"""Held-out NLL of the shipped text models, recomputed from their weights, by one stated method.

The held-out splits ship in ``assets/data`` (the 1,000 held-out names; the last 10% of
tiny-shakespeare), so tests and benchmarks can re-measure every card's number without the
training data. Every text model's held-out figure - on its card, in BENCHMARKS.md and on the
pages - is computed the ledger's way (``HELDOUT_METHOD``): each held-out text scored exactly as
``core.score`` scores it on the Chain rule page, every token pooled.
"""

from __future__ import annotations

import math

import torch

from core.checkpoint import DATA_DIR
from core.text.data import name_examples
from core.text.language_model import TextModel, heldout_nll, score, target_nlls

HELDOUT_METHOD = {
    "names": (
        "the ledger's way: each of the 1,000 held-out names scored as core.score scores it (the start token, "
        "every letter, the end token; every name fits the 16-token context), all tokens pooled; nats per token"
    ),
    "text": (
        "the ledger's way: the whole held-out text scored as core.score scores it (one start token, then "
        "every character; past the context, windows that start every half block), all tokens pooled; nats per "
        "character"
    ),
}


REVERSED_NOTE = "; each name reversed first, as the model reads it"

# The leaky (unmasked) model's card keeps its training-style figure, which is what its lesson is about.
LEAKY_METHOD = (
    "teacher-forced on the training rows: each held-out name and its end token in one padded row of 16, so the "
    "unmasked model reads every target in its input (that is the pitfall); heldout_nll_ledger is the same names "
    "scored the ledger's way, where the end token has nothing after it to copy"
)


def heldout_names(reversed_order: bool = False) -> list[str]:
    """The 1,000 held-out names, spelled backwards for a model trained right to left."""
    names = (DATA_DIR / "names_heldout.txt").read_text().split()
    return [n[::-1] for n in names] if reversed_order else names


def reads_backwards(lm: TextModel) -> bool:
    """True for a names model trained on names written right to left (its card says so)."""
    return "right to left" in lm.card.get("data", {}).get("order", "")


def method_of(lm: TextModel) -> str:
    """How ``measure_heldout_nll`` scores this model, in words (a causal model's card states the same)."""
    return HELDOUT_METHOD["text"] if lm.vocab.eos_id is None else names_method(reads_backwards(lm))


def names_method(reversed_order: bool = False) -> str:
    """The names models' held-out method in words (a model trained right to left scores names reversed)."""
    return HELDOUT_METHOD["names"] + (REVERSED_NOTE if reversed_order else "")


def measure_heldout_nll(lm: TextModel) -> float:
    """Mean NLL in nats per token on the held-out split, the ledger's way (``method_of(lm)``)."""
    if lm.vocab.eos_id is not None:
        names = heldout_names(reads_backwards(lm))
        if not lm.is_causal:  # it would read the padded rows' later tokens: score each name alone
            return pooled_score_nll(lm, names)
        x, y = name_examples(names, lm.vocab, 16)  # one padded row per name, all in one batch
        return heldout_nll(lm.net, x, y)  # equals pooled_score_nll for a causal model (a unit test checks)
    text = (DATA_DIR / f"{lm.name}_heldout.txt").read_text(encoding="utf-8")
    return heldout_text_nll(lm, text)


def pooled_score_nll(lm: TextModel, texts: list[str]) -> float:
    """Nats per token over many texts, each scored by core.score, all tokens pooled."""
    logprobs = [lp for t in texts for lp in score(lm, t).logprobs]
    return -math.fsum(logprobs) / len(logprobs)


def heldout_text_nll(lm: TextModel, text: str) -> float:
    """Nats per token of one long text scored as the ledger scores it."""
    logprobs = score(lm, text).logprobs
    return -math.fsum(logprobs) / len(logprobs)


@torch.no_grad()
def per_name_nll(lm: TextModel, names: list[str]) -> list[float]:
    """-log p(name) in nats of each name (start, letters, end), as the ledger gives it."""
    x, y = name_examples(names, lm.vocab, 16)
    return target_nlls(lm.net, x, y).sum(dim=1).tolist()
