"""The count-based bigram model: p(x_i | x_<i) = p(x_i | x_{i-1}), read off a table of counts.

This is the makemore lecture's first model, exact rather than learned by gradient descent:
count every (previous, next) pair in the training names, add one to every cell (Laplace
smoothing, so nothing unseen gets probability 0) and normalise each row. It obeys the same
chain rule as the transformer with a context of one token, and shares its contract
``forward(idx, targets=None) -> (logits, loss)`` so one scorer and one sampler serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ModelConfig


@dataclass
class BigramConfig(ModelConfig):
    vocab_size: int = 27  # number of symbols, specials included
    smoothing: float = 1.0  # pseudo-count added to every cell (add-one smoothing)
    block_size: int = 1  # the context is the previous token only
    input_only_ids: tuple[int, ...] = ()  # tokens read but never predicted


def count_bigrams(sequences: list[list[int]], vocab_size: int) -> torch.Tensor:
    """(V, V) counts: row = previous token, column = next token, over consecutive pairs."""
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for seq in sequences:
        s = torch.tensor(seq)
        counts.index_put_((s[:-1], s[1:]), torch.ones(len(seq) - 1, dtype=torch.float64), accumulate=True)
    return counts


class BigramLM(nn.Module):
    def __init__(self, config: BigramConfig):
        super().__init__()
        self.config = config
        self.register_buffer("counts", torch.zeros(config.vocab_size, config.vocab_size, dtype=torch.float64))

    @property
    def block_size(self) -> int:
        return 1

    @property
    def supports_cache(self) -> bool:
        return False

    def num_params(self) -> int:
        return self.counts.numel()  # one number per (previous, next) cell

    def log_probs(self) -> torch.Tensor:
        """(V, V) log p(next | previous) with the smoothing pseudo-count added."""
        table = self.counts + self.config.smoothing
        table[:, list(self.config.input_only_ids)] = 0.0  # never predict a start-only token
        return torch.log(table / table.sum(dim=1, keepdim=True))

    def forward(self, idx, targets=None):
        """idx: (B, T). Logits (B, T, V) are the log-probability rows of each previous token."""
        logits = self.log_probs().float()[idx]  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
