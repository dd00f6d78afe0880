"""A neural probabilistic language model: an MLP over a fixed window of previous characters.

Follows Bengio, Ducharme, Vincent and Jauvin (2003), "A Neural Probabilistic Language Model", as
karpathy's makemore lectures rebuild it for names: every character gets a learned embedding; the
embeddings of the last ``context`` characters are concatenated and fed through one hidden layer;
the output layer gives the logits of the next character. Simplified for teaching:

* one hidden layer (LayerNorm then tanh, where makemore uses BatchNorm; no direct input-to-output
  connections), dropout for training only;
* positions before the first token read a learned "nothing here" embedding (an extra row of the
  table), so the window is explicit: the prediction at position t reads tokens t-context+1 .. t and
  NOTHING earlier. The chain rule still holds exactly; this model's conditionals simply ignore
  everything past the window, so it learns p(x_i | last ``context`` tokens);
* the decoding "cache" is the window itself (``WindowCache``): the last ``context`` - 1 tokens,
  whatever the length of the text.

Same contract as every text model here: ``forward(idx, targets=None) -> (logits, loss)`` and
``forward_detailed(idx, cache=None) -> ForwardOutput``. Nothing per request is stored on the module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig, count_parameters


@dataclass
class MLPConfig(ModelConfig):
    block_size: int = 16  # longest text read in one pass (the scoring windows); the MLP itself reads `context`
    context: int = 5  # previous tokens each prediction reads: the window (Bengio et al.'s n - 1)
    vocab_size: int = 27  # number of symbols, specials included
    n_embd: int = 24  # embedding width of one token
    n_hidden: int = 256  # width of the hidden layer
    dropout: float = 0.0  # training only; eval() turns it off
    input_only_ids: tuple[int, ...] = ()  # tokens read but never predicted (a start token)


class WindowCache:
    """What an MLP step carries to the next: the ids of the last ``context - 1`` tokens, nothing else.

    ``tokens`` is (B, context - 1), the "nothing here" id where the text has fewer tokens.
    """

    def __init__(self, context: int, none_id: int, batch: int = 1):
        self.context = context
        self.none_id = none_id
        self.tokens = torch.full((batch, context - 1), none_id, dtype=torch.long)  # (B, k-1)
        self.length = 0  # tokens seen so far

    def clear(self) -> None:
        self.tokens.fill_(self.none_id)
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Memory this state holds: k - 1 token ids, whatever the length of the text."""
        return self.tokens.numel() * self.tokens.element_size()


class MLPLM(nn.Module):
    """Character MLP with makemore's contract: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        assert config.context >= 1
        self.config = config
        self.none_id = config.vocab_size  # the extra embedding row: "no token here" (before the text)
        self.wte = nn.Embedding(config.vocab_size + 1, config.n_embd)
        self.hidden = nn.Linear(config.context * config.n_embd, config.n_hidden)
        self.ln = nn.LayerNorm(config.n_hidden)
        self.drop = nn.Dropout(config.dropout)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        logit_bias = torch.zeros(config.vocab_size)
        logit_bias[list(config.input_only_ids)] = float("-inf")  # read-only tokens get probability exactly 0
        self.register_buffer("logit_bias", logit_bias, persistent=False)
        with torch.no_grad():
            self.lm_head.weight.mul_(0.1)  # a near-uniform first guess (makemore's "make the logits small")

    @property
    def block_size(self) -> int:
        return self.config.block_size

    @property
    def receptive_field(self) -> int:
        """How many tokens (the current one included) a prediction can depend on."""
        return self.config.context

    @property
    def supports_cache(self) -> bool:
        return True

    def new_cache(self, batch: int = 1) -> WindowCache:
        return WindowCache(self.config.context, self.none_id, batch)

    def num_params(self) -> int:
        return count_parameters(self)

    def forward_detailed(self, idx, cache: WindowCache | None = None, need_weights: bool = False) -> ForwardOutput:
        """idx: (B, T) token ids, after what ``cache`` holds (if given). Returns every position's logits."""
        B, T = idx.size()
        k = self.config.context
        if cache is not None:
            past = cache.tokens  # (B, k-1)
        else:
            past = torch.full((B, k - 1), self.none_id, dtype=torch.long, device=idx.device)
        padded = torch.cat([past, idx], dim=1)  # (B, k-1+T)
        windows = padded.unfold(1, k, 1)  # (B, T, k): row t holds tokens t-k+1 .. t
        x = self.wte(windows).flatten(2)  # (B, T, k * n_embd): the concatenated embeddings
        h = self.drop(torch.tanh(self.ln(self.hidden(x))))  # (B, T, n_hidden)
        logits = self.lm_head(h) + self.logit_bias  # (B, T, V)
        if cache is not None:
            cache.tokens = padded[:, padded.size(1) - (k - 1) :].clone()  # the newest k-1 tokens
            cache.length += T
        return ForwardOutput(logits=logits, attention=None)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (targets -1 ignored)."""
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
