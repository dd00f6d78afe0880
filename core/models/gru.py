"""A recurrent language model: a GRU reads the text one character at a time into a fixed-size state.

Follows the gated recurrent unit of Cho et al. (2014), "Learning Phrase Representations using RNN
Encoder-Decoder for Statistical Machine Translation", as karpathy's makemore writes its cell by
hand. At each position the cell mixes the new character's embedding x_t into the hidden state:

    r = sigmoid(W_r [x_t, h])          reset gate: how much of the old state the candidate reads
    z = sigmoid(W_z [x_t, h])          update gate: how much of the state is replaced
    c = tanh(W_c [x_t, r * h])         candidate state
    h' = (1 - z) * h + z * c

and the logits of the next character are read off h'. The state after position t has read every
token up to t and nothing after it: causal by construction, with no mask. Its "cache" is that one
state (``RecurrentState``): the same size after 3 tokens or 300, unlike a transformer's key/value
cache, which grows with the text. Simplified for teaching: the cell is written out (no fused
``nn.GRU``), a stack of ``n_layer`` cells, dropout between layers for training only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig, count_parameters


@dataclass
class GRUConfig(ModelConfig):
    block_size: int = 16  # longest text read in one pass (the scoring windows); the state reads all of it
    vocab_size: int = 27  # number of symbols, specials included
    n_embd: int = 64  # embedding width of one token
    n_hidden: int = 256  # size of each layer's state
    n_layer: int = 1  # stacked cells
    dropout: float = 0.0  # training only; eval() turns it off
    input_only_ids: tuple[int, ...] = ()  # tokens read but never predicted (a start token)


class RecurrentState:
    """What a GRU step carries to the next: one (n_layer, B, n_hidden) state, whatever the length."""

    def __init__(self, n_layer: int, n_hidden: int, batch: int = 1):
        self.h = torch.zeros(n_layer, batch, n_hidden)  # (L, B, H)
        self.length = 0  # tokens read so far

    def clear(self) -> None:
        self.h.zero_()
        self.length = 0

    @property
    def nbytes(self) -> int:
        return self.h.numel() * self.h.element_size()


class GRUCell(nn.Module):
    """One GRU layer: h' = (1 - z) * h + z * tanh(W_c [x, r * h])."""

    def __init__(self, n_in: int, n_hidden: int):
        super().__init__()
        self.x_to_gates = nn.Linear(n_in, 3 * n_hidden)  # x's share of r, z and c at once
        self.h_to_rz = nn.Linear(n_hidden, 2 * n_hidden, bias=False)
        self.h_to_c = nn.Linear(n_hidden, n_hidden, bias=False)

    def forward(self, xs: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """xs: (B, T, n_in), h: (B, H). Returns every position's state (B, T, H) and the last (B, H)."""
        H = h.size(-1)
        gx = self.x_to_gates(xs)  # (B, T, 3H): the input's part, for every position in one matmul
        out = []
        for t in range(xs.size(1)):  # the recurrence: position t needs the state after t - 1
            rx, zx, cx = gx[:, t].split(H, dim=-1)  # (B, H) each
            rh, zh = self.h_to_rz(h).split(H, dim=-1)  # (B, H) each
            r = torch.sigmoid(rx + rh)
            z = torch.sigmoid(zx + zh)
            c = torch.tanh(cx + self.h_to_c(r * h))
            h = (1 - z) * h + z * c  # (B, H)
            out.append(h)
        return torch.stack(out, dim=1), h  # (B, T, H), (B, H)


class GRULM(nn.Module):
    """Character GRU with makemore's contract: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, config: GRUConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        sizes = [config.n_embd] + [config.n_hidden] * config.n_layer
        self.cells = nn.ModuleList(GRUCell(a, config.n_hidden) for a in sizes[:-1])
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        logit_bias = torch.zeros(config.vocab_size)
        logit_bias[list(config.input_only_ids)] = float("-inf")  # read-only tokens get probability exactly 0
        self.register_buffer("logit_bias", logit_bias, persistent=False)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    @property
    def receptive_field(self) -> None:
        """None: the state has read every earlier token (the whole prefix)."""
        return None

    @property
    def supports_cache(self) -> bool:
        return True

    def new_cache(self, batch: int = 1) -> RecurrentState:
        return RecurrentState(self.config.n_layer, self.config.n_hidden, batch)

    def num_params(self) -> int:
        return count_parameters(self)

    def forward_detailed(self, idx, cache: RecurrentState | None = None, need_weights: bool = False) -> ForwardOutput:
        """idx: (B, T) token ids, read after the state ``cache`` holds (if given). Returns every position's logits."""
        B, T = idx.size()
        if cache is not None:
            h0 = cache.h  # (L, B, H)
        else:
            h0 = torch.zeros(self.config.n_layer, B, self.config.n_hidden, device=idx.device)
        x = self.drop(self.wte(idx))  # (B, T, n_embd)
        last = []
        for i, cell in enumerate(self.cells):
            x, h = cell(x, h0[i])  # (B, T, H), (B, H)
            x = self.drop(x)
            last.append(h)
        logits = self.lm_head(x) + self.logit_bias  # (B, T, V)
        if cache is not None:
            cache.h = torch.stack(last)  # (L, B, H)
            cache.length += T
        return ForwardOutput(logits=logits, attention=None)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (targets -1 ignored)."""
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
