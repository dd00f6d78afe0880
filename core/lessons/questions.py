"""The Check-yourself questions of every lesson page, generated from the page's state at that moment.

Each generator is a plain function: a seed (``random.Random``) and what the page shows in, a
``core.lessons.quiz.Question`` out, its answer computed with the same core functions the page uses
(the worked example, the exact joint, the mask, the model's own distribution), so the question stays
right when the student changes the text or the settings. A generator returns None when the state
gives it nothing to ask (an empty text, nothing generated yet). Tests check every answer against an
independent computation and that every question has exactly one right answer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch

from core.display import escape_markdown as esc
from core.image.model import ImageModel
from core.lessons import chain_rule as cr
from core.lessons.ledger import Ledger
from core.lessons.quiz import Question
from core.lessons.receptive_field import model_analytic_receptive_field
from core.text.sampling import next_token_distribution

FACTOR_CHOICES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)
PIXELS = 28 * 28


def _fmt_list(items) -> str:
    return ", ".join(items)


# ---------------------------------------------------------------------------------------------
# Chain rule


def chain_rule_nll(rng: random.Random) -> Question:
    """−log p(BAC) in nats from three conditionals (the page's worked example with other numbers)."""
    factors = tuple(rng.choice(FACTOR_CHOICES) for _ in cr.WORKED_LABELS)
    example = cr.worked_example(factors)
    given = ", ".join(f"{label} = {p:g}" for label, p in zip(cr.WORKED_LABELS, factors, strict=True))
    terms = " + ".join(f"{t:.3f}" for t in example.neglogs)
    return Question(
        key="chain_rule.nll",
        text=f"{given}. What is −log p(BAC) in **nats**?",
        kind="number",
        answer=round(example.nll_sum, 4),
        tolerance=0.01,
        unit="nats",
        explanation=f"The chain rule turns the product into a sum: −ln p(BAC) = {terms} = **{example.nll_sum:.3f}** nats "
        f"(the same as −ln({example.joint:.4g})).",
    )


def chain_rule_ordering(rng: random.Random) -> Question:
    """Which order of revealing the positions gives the largest joint? All give the same (the pitfall)."""
    joint = cr.random_joint(rng.randrange(1000))
    sequence = tuple(rng.randrange(len(cr.SYMBOLS)) for _ in range(cr.N_POSITIONS))
    text = cr.sequence_text(sequence)
    orders = cr.ORDERINGS[:3]
    values = [cr.product_of_conditionals(joint, order)[sequence] for order in cr.ORDERINGS]  # all equal the joint
    choices = tuple(f"${cr.ordering_formula(o)}$" for o in orders) + ("They all give the same value",)  # LaTeX
    return Question(
        key="chain_rule.ordering",
        text=f"For a joint over three positions, revealing the positions in which order gives the largest p({text})?",
        kind="choice",
        choices=choices,
        answer=len(choices) - 1,
        explanation=f"Every order factors the same joint exactly: all six products equal p({text}) = "
        f"{joint[sequence]:.4f} (here from {min(values):.4f} to {max(values):.4f}). The order changes what a "
        "model must learn, never the joint.",
    )


def chain_rule_surprise(rng: random.Random, ledger: Ledger | None) -> Question | None:
    """Which token of the page's text costs the most under the page's model?"""
    if ledger is None or len(ledger.rows) < 2:
        return None
    rows = list(ledger.rows[:8])  # a few tokens are enough to choose from
    costs = [r.neglog for r in rows]
    best = int(np.argmax(costs))
    if sum(1 for c in costs if abs(c - costs[best]) < 1e-6) > 1:
        return None  # a tie: no single right answer
    choices = tuple(esc(f"{r.position}: {r.token!r}") for r in rows)
    return Question(
        key="chain_rule.surprise",
        text=f"In the ledger of this text under **{ledger.model}**, which token costs the most (largest −log p)?",
        kind="choice",
        choices=choices,
        answer=best,
        explanation="The costs are "
        + _fmt_list(esc(f"{r.token!r} {r.neglog:.2f}") for r in rows)
        + f" nats: the most surprising token is {choices[best]}, with p = {rows[best].prob:.3g}.",
    )


# ---------------------------------------------------------------------------------------------
# Attention and causality


def attention_mask_zeros(rng: random.Random) -> Question:
    n = rng.randrange(4, 9)
    zeros = n * (n - 1) // 2
    return Question(
        key="attention.mask_zeros",
        text=f"How many cells of a {n}×{n} causal attention mask are zero (forbidden)?",
        kind="number",
        answer=zeros,
        explanation=f"Row i may read columns j ≤ i, so every cell above the diagonal is zero: "
        f"(n² − n) / 2 = ({n * n} − {n}) / 2 = **{zeros}**.",
    )


def attention_what_changes(
    rng: random.Random, labels: list[str], starts_with_start: bool, causal: bool = True
) -> Question | None:
    """Changing one input token: which predictions can change? (causal: those at its position and after)."""
    first = 1 if starts_with_start else 0  # the start token is not a character the student can change
    if len(labels) - first < 2:
        return None
    j = rng.randrange(first, len(labels))
    choices = tuple(esc(f"after {i}: {labels[i]!r}") for i in range(len(labels)))
    answer = frozenset(range(j, len(labels)) if causal else range(len(labels)))
    why = (
        f"The prediction after position i reads positions 0…i only, so changing position {j} can change the "
        f"predictions after positions {j}…{len(labels) - 1} and none before — the heatmap above is exactly zero "
        "above the diagonal."
        if causal
        else "This model has no causal mask: every prediction reads every position, so all of them can change — "
        "which is why it cannot be used to generate."
    )
    return Question(
        key="attention.what_changes",
        text=f"You change the token at position {j} ({esc(repr(labels[j]))}). The prediction made after which "
        "positions can change? (pick all)",
        kind="multi",
        choices=choices,
        answer=answer,
        explanation=why,
    )


# ---------------------------------------------------------------------------------------------
# Live sampling


def sampling_survivors(rng: random.Random, logits: torch.Tensor, name: Callable[[int], str]) -> Question:
    """With top-k and top-p on this step, how many tokens survive?"""
    k = rng.choice((3, 5, 8, 10))
    p = rng.choice((0.5, 0.7, 0.8, 0.9))
    stages = next_token_distribution(logits, 1.0, k, p)
    survivors = int(torch.count_nonzero(stages.final))
    order = torch.sort(stages.raw, descending=True, stable=True).indices[:k].tolist()
    shown = _fmt_list(f"{esc(name(i))} {float(stages.raw[i]):.3f}" for i in order)
    return Question(
        key="sampling.survivors",
        text=f"On this step, at T = 1 with **top-k = {k}** and **top-p = {p:g}**, how many tokens survive?",
        kind="number",
        answer=survivors,
        explanation=f"Top-k keeps the {k} most probable ({shown}); top-p then keeps the fewest of them whose mass, "
        f"renormalised over those {k}, reaches {p:g}: **{survivors}**.",
    )


def sampling_greedy(rng: random.Random, logits: torch.Tensor, name: Callable[[int], str]) -> Question | None:
    """At temperature 0, which token is drawn? (the argmax; lower id on ties)."""
    probs = torch.softmax(logits.double(), dim=0)
    top = torch.sort(probs, descending=True, stable=True).indices[:4].tolist()
    if len(set(name(i) for i in top)) < len(top):
        return None  # two tokens that read the same: the choice would be ambiguous
    shuffled = top[:]
    rng.shuffle(shuffled)
    return Question(
        key="sampling.greedy",
        text="At temperature → 0, which token is drawn on this step?",
        kind="choice",
        choices=tuple(esc(name(i)) for i in shuffled),
        answer=shuffled.index(top[0]),
        explanation=f"As T → 0, softmax(logits / T) puts all its mass on the largest logit: "
        f"{esc(name(top[0]))} (p = {float(probs[top[0]]):.3f} at T = 1), whatever the seed.",
    )


def tempered_logprob(conditional_logprobs: torch.Tensor, tokens: list[int], temperature: float) -> float:
    """log p(tokens) when every step's distribution is softmax(log p / T): (n, V) log-probs in, a sum out."""
    tempered = torch.log_softmax(conditional_logprobs.double() / temperature, dim=-1)  # (n, V)
    return float(tempered[torch.arange(len(tokens)), torch.tensor(tokens)].sum())


def sampling_temperature(
    rng: random.Random, conditional_logprobs: torch.Tensor | None, tokens: list[int]
) -> Question | None:
    """Is the generated text more likely under T = 0.5 or T = 1.5?"""
    if conditional_logprobs is None or not tokens:
        return None
    low, high = 0.5, 1.5
    a, b = tempered_logprob(conditional_logprobs, tokens, low), tempered_logprob(conditional_logprobs, tokens, high)
    if abs(a - b) < 1e-9:
        return None
    choices = (f"T = {low:g}", f"T = {high:g}")
    order = [0, 1]
    rng.shuffle(order)
    answer = 0 if a > b else 1
    return Question(
        key="sampling.temperature",
        text=f"Is the text generated so far ({len(tokens)} tokens) more likely under temperature 0.5 or 1.5?",
        kind="choice",
        choices=tuple(choices[i] for i in order),
        answer=order.index(answer),
        explanation=f"log p(text) = {a:.2f} at T = 0.5 and {b:.2f} at T = 1.5. A low temperature favours texts "
        "made of each step's most probable tokens; a text with surprising tokens is more likely at a high one.",
    )


# ---------------------------------------------------------------------------------------------
# PixelCNN


def pixel_receptive_field(rng: random.Random, model: ImageModel) -> Question:
    row, col, layers = rng.randrange(8, 20), rng.randrange(8, 20), rng.choice((1, 2, 3))
    rf = model_analytic_receptive_field(model, layers, row, col)
    kind, first_kernel, kernel_size = model.kind, model.net.config.first_kernel, model.net.config.kernel_size
    n = int(rf.sum())
    return Question(
        key="pixelcnn.receptive_field",
        text=f"After **{layers}** masked layer{'s' if layers > 1 else ''} of the **{kind}** "
        f"({first_kernel}×{first_kernel} first kernel, then {kernel_size}×{kernel_size}), how many pixels can the "
        f"prediction of pixel (row {row}, column {col}) read?",
        kind="number",
        answer=n,
        explanation=f"Walking back from the output through each layer's mask: **{n}** pixels, all before (row {row}, "
        f"column {col}) in raster order — the receptive-field figure above shows them for any pixel.",
    )


def pixel_bits_per_dim(rng: random.Random) -> Question:
    nll = rng.randrange(60, 160)
    bpd = nll / (PIXELS * math.log(2))
    return Question(
        key="pixelcnn.bits_per_dim",
        text=f"A 28×28 binary image scores −log p = {nll} nats. How many **bits per dimension** is that?",
        kind="number",
        answer=round(bpd, 4),
        tolerance=0.001,
        unit="bits/dim",
        explanation=f"Bits per dimension = nats / (pixels × ln 2) = {nll} / (784 × 0.6931) = **{bpd:.4f}**.",
    )


# ---------------------------------------------------------------------------------------------
# Training


def training_loss(rng: random.Random, costs: torch.Tensor) -> Question | None:
    """Which number is the batch's loss? (the mean of the ledger's scored cells, the next-token cross-entropy).

    ``costs`` (B, T) are the batch's -log p per position in nats, NaN where nothing is scored (padding)."""
    scored = costs[~costs.isnan()]
    if scored.numel() < 2:
        return None
    first_column = costs[:, 0][~costs[:, 0].isnan()]
    candidates = {
        "mean": float(scored.mean()),
        "sum": float(scored.sum()),
        "largest cell": float(scored.max()),
        "mean of the first position": float(first_column.mean()) if first_column.numel() else math.nan,
    }
    shown = {k: f"{v:.3f}" for k, v in candidates.items() if math.isfinite(v)}
    if len(set(shown.values())) < len(shown):
        return None  # two of the numbers read the same: the choice would be ambiguous
    order = list(shown)
    rng.shuffle(order)
    return Question(
        key="training.loss",
        text=f"The heatmap above holds {scored.numel()} scored cells, each −log p(next token | prefix) in nats. "
        "Which of these numbers is the loss the optimizer sees for this batch?",
        kind="choice",
        choices=tuple(shown[k] for k in order),
        answer=order.index("mean"),
        explanation=f"The loss is the mean of the scored cells (the next-token cross-entropy): **{shown['mean']}** "
        f"nats. {shown['sum']} is their sum, {shown['largest cell']} the costliest single prediction.",
    )
