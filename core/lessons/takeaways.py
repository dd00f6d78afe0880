"""What you should remember: the lesson's three takeaways, each with the scenes that show it live.

The words are ours; every number the closing page prints beside them is computed here from the
models and the maths when the page runs (``identity_evidence``, ``ledger_evidence``), never written in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.lessons.chain_rule import ORDERINGS, max_abs_difference, random_joint
from core.lessons.joint_sampling import ancestral_sample, frequencies, total_variation
from core.lessons.scenes import Scene
from core.lessons.states import AttentionState, ChainRuleState, PixelState, SamplingState, TrainingState
from core.text.language_model import TextModel, score


@dataclass(frozen=True)
class Takeaway:
    title: str
    words: str  # two to four sentences, markdown
    scenes: tuple[Scene, ...]  # where to see it live, in lesson order


TAKEAWAYS: tuple[Takeaway, ...] = (
    Takeaway(
        "The factorisation is exact; only the conditionals are learned.",
        "Any joint distribution over a sequence equals the product of its conditionals, in any order of "
        "the positions. Drawing one position at a time from those conditionals draws whole sequences from "
        "the joint itself. So an autoregressive model approximates nothing in the chain rule: whatever it "
        "gets wrong, it gets wrong in the conditionals it learned.",
        (
            Scene("Chain rule · the B-A-C worked example", "chain_rule", ChainRuleState(), "the product and the sum"),
            Scene(
                "Chain rule · 100,000 draws, one factor at a time",
                "chain_rule",
                ChainRuleState(cr_draws=100_000),
                "the frequencies meet the joint; the gap shrinks like 1/√N",
            ),
        ),
    ),
    Takeaway(
        "The likelihood is a sum you can read, and training makes it small.",
        "−log p(x) is the sum of one −log p(next token | what came before) per position: exact, in one pass "
        "over the text. The training loss is that same ledger averaged over positions and examples (the "
        "next-token cross-entropy), so learning the conditionals and maximising the likelihood are one job. "
        "The number is usable: score a text, compare two models on it, rank candidate answers.",
        (
            Scene("Chain rule · the ledger of a name", "chain_rule", ChainRuleState(), "one −log p per character"),
            Scene(
                "Training · the loss is the ledger, averaged",
                "training",
                TrainingState(training_ledger_seed=1),
                "the batch's −log p heatmap; its mean is the loss the optimizer sees",
            ),
            Scene(
                "Chain rule · ranking answers by likelihood",
                "chain_rule",
                ChainRuleState(cr_rank_on=True),
                "SmolLM2 ranks candidate continuations of one prompt",
            ),
            Scene("PixelCNN · the likelihood of an image", "pixelcnn", PixelState(), "the same ledger over pixels"),
        ),
    ),
    Takeaway(
        "Generation is one step per token, and every step builds on the ones before.",
        "A causal network sees only the past, which is what lets one network learn every conditional at "
        "once, and what makes sampling sequential: a pass over the prompt for the first token, then one "
        "pass per token. Each drawn token becomes context, so one early choice moves every later "
        "conditional. Temperature, top-k and top-p change the conditionals, and with them which joint "
        "the samples come from.",
        (
            Scene("Attention · what peeking at the future breaks", "attention", AttentionState(), "the causal mask"),
            Scene(
                "Live sampling · Shakespeare, token by token",
                "sampling",
                SamplingState(model="shakespeare", prompt="ROMEO:", tokens=60),
                "each step's distribution, the knobs, the cost of a step",
            ),
            Scene(
                "Live sampling · what if one token were different",
                "sampling",
                SamplingState(model="shakespeare", prompt="ROMEO:", drift_on=True),
                "two continuations from one fork, and how far every later conditional moves",
            ),
            Scene(
                "Live sampling · the same model, cooled to temperature 0.5",
                "sampling",
                SamplingState(model="shakespeare", prompt="ROMEO:", tokens=60, temperature=0.5),
                "a different joint: likelier tokens, less variety",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class IdentityEvidence:
    orders: int  # how many orders of the positions were multiplied out
    largest_difference: float  # max over orders and sequences of |product of conditionals - joint|
    draws: int
    total_variation: float  # of the draws' frequencies against the joint


def identity_evidence(seed: int = 0, draws: int = 100_000) -> IdentityEvidence:
    """The Chain rule page's exact joint (distribution ``seed``): rebuilt from its conditionals in every
    order, and sampled one factor at a time."""
    joint = random_joint(seed)
    largest = max(max_abs_difference(joint, order) for order in ORDERINGS)
    sample = ancestral_sample(joint, draws, seed)
    tv = total_variation(frequencies(sample, joint.shape[-1]), joint)
    return IdentityEvidence(len(ORDERINGS), largest, draws, tv)


@dataclass(frozen=True)
class LedgerEvidence:
    text: str
    terms: tuple[float, ...]  # -log p per position, nats
    total: float  # their sum: -log p(text), nats
    probability: float  # exp(-total)

    @property
    def per_token(self) -> float:
        return self.total / len(self.terms)


def ledger_evidence(lm: TextModel, text: str = "emma") -> LedgerEvidence:
    """The ledger of ``text`` under ``lm`` (its end token included for names): terms, sum, probability."""
    s = score(lm, text)
    terms = tuple(-lp for lp in s.logprobs)
    total = math.fsum(terms)
    return LedgerEvidence(text, terms, total, float(np.exp(-total)))
