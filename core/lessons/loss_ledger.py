"""The training loss is the chain-rule ledger, averaged over a batch: the Training page's "loss = ledger".

A batch is B windows of T tokens: inputs x (B, T) and targets y (B, T), y[b, t] = the token after
x[b, 0..t] (-1 where a name is over: padding, not scored). The trainer's loss is one line of every
text network, ``net(x, y)[1]``, which is ``F.cross_entropy(logits, y, ignore_index=-1)``: the mean of
-log p(y[b, t] | x[b, 0..t]) over every scored (b, t). So the loss is the ledger of each window, one
cost per position, averaged over positions and examples. ``loss_ledger`` returns both: the (B, T)
matrix of costs (the held-out evaluation's ``target_nlls``) and the loss from the trainer's own call.

Batches come from the data a run trains on (``core.text.live_training.prepare``): "training" draws
them as the trainer does (random names; random windows, half starting with the start token, by
``text_batch``), "held-out" picks held-out rows. Both from a ``torch.Generator`` seeded by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.errors import InputError
from core.lessons.ledger import display_token
from core.text.data import text_batch
from core.text.language_model import TextModel, target_nlls
from core.text.live_training import LiveData
from core.validation import check_seed

SPLITS = ("training", "held-out")
MAX_EXAMPLES = 32  # rows of one shown batch
MAX_POSITIONS = 128  # columns: the longest block shipped (shakespeare)
TEXT_WINDOW = 32  # the window of a model without a block of its own (the bigram reads one token)


@dataclass(frozen=True)
class LossLedger:
    inputs: torch.Tensor  # (B, T) token ids each position reads last
    targets: torch.Tensor  # (B, T) the next token of each position; -1 = padding (not scored)
    costs: torch.Tensor  # (B, T) float64 -log p(target | the window up to it), nats; NaN at padding
    loss: float  # the trainer's loss on this batch: net(inputs, targets)[1], F.cross_entropy
    tokens: list[list[str]]  # (B, T) each target as display text ("" at padding)
    prefixes: list[list[str]]  # (B, T) the tokens read before each target (the last few, after …), as text
    causal: bool  # False: the network reads the future, so the costs are not honest conditionals

    @property
    def mean(self) -> float:
        """The mean of the matrix over its scored positions: equal to ``loss``."""
        return float(self.costs[~self.costs.isnan()].mean())

    @property
    def n_scored(self) -> int:
        return int((self.targets >= 0).sum())


def window_length(lm: TextModel, fallback: int = TEXT_WINDOW) -> int:
    """The window a batch of ``lm`` uses: its block (capped), or ``fallback`` for a one-token block."""
    return min(lm.block_size if lm.block_size > 1 else fallback, MAX_POSITIONS)


def draw_batch(
    data: LiveData, n_examples: int, seed: int, split: str = "training", length: int = TEXT_WINDOW
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_examples`` rows (x, y) of ``data`` from a generator seeded with ``seed``.

    "training": names drawn at random (as ``train_live`` draws them), or text windows of ``length`` by
    ``text_batch``; "held-out": held-out rows at random (``data`` was prepared with windows of ``length``)."""
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or not 1 <= n_examples <= MAX_EXAMPLES:
        raise InputError(f"The number of examples must be a whole number from 1 to {MAX_EXAMPLES}, got {n_examples!r}.")
    if split not in SPLITS:
        raise InputError(f"The batch must come from one of {', '.join(SPLITS)}, got {split!r}.")
    g = torch.Generator().manual_seed(check_seed(seed))
    if split == "held-out":
        rows = torch.randperm(len(data.heldout_x), generator=g)[:n_examples]
        return data.heldout_x[rows], data.heldout_y[rows]
    if data.is_names:
        rows = torch.randint(len(data.train_x), (n_examples,), generator=g)
        return data.train_x[rows], data.train_y[rows]
    return text_batch(data.train_x, length, n_examples, data.vocab.bos_id, g)


@torch.no_grad()
def loss_ledger(lm: TextModel, inputs: torch.Tensor, targets: torch.Tensor, prefix_tokens: int = 8) -> LossLedger:
    """The (B, T) ledger of a batch and the trainer's loss on it (dropout off: the net as it is, in eval mode)."""
    if inputs.shape != targets.shape or inputs.dim() != 2:
        raise InputError(f"Inputs and targets must be (examples, positions) of one shape, got {inputs.shape} and {targets.shape}.")  # fmt: skip
    _, loss = lm.net(inputs, targets)  # the trainer's step_loss: F.cross_entropy(..., ignore_index=-1)
    costs = target_nlls(lm.net, inputs, targets)  # (B, T) -log p of each target, 0 at padding
    costs = torch.where(targets >= 0, costs, math.nan)
    text = [[display_token(lm.vocab.token_text(int(i))) for i in row] for row in inputs]
    tokens = [[display_token(lm.vocab.token_text(int(i))) if i >= 0 else "" for i in row] for row in targets]
    prefixes = [[("…" if t >= prefix_tokens else "") + "".join(row[max(0, t + 1 - prefix_tokens) : t + 1])
                 for t in range(len(row))] for row in text]  # fmt: skip
    return LossLedger(inputs, targets, costs, float(loss), tokens, prefixes, lm.is_causal)
