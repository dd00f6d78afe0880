"""A tiny character-level GPT that can show its attention and decode with a key/value cache.

Follows the decoder-only transformer of Radford et al. (2019) as written in karpathy/nanoGPT's
``model.py`` (pre-norm blocks, learned absolute position embeddings, tied input/output
embeddings), simplified for teaching:

* no dropout and no fused kernels on the path that shows attention: ``forward_detailed``
  materialises the (T, T) attention matrix of every head so the app can draw it;
* ``causal=False`` trains the same network WITHOUT the causal mask - the lesson's pitfall,
  shipped as the "names-leaky" model;
* a ``KVCache`` object, owned by the caller, holds keys and values between decoding steps.
  Nothing per request is ever stored on the module: one cached model serves every session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig, count_parameters
from core.models.kv_cache import KVCache, causal_mask


@dataclass
class GPTConfig(ModelConfig):
    block_size: int = 16  # longest context the model reads, in tokens
    vocab_size: int = 27  # number of symbols, specials included
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 64  # width of the residual stream
    dropout: float = 0.0  # training only; eval() turns it off
    causal: bool = True  # False = no mask: every position may read the future (the pitfall)
    input_only_ids: tuple[int, ...] = ()  # tokens read but never predicted (a start token)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head = config.n_head
        self.causal = config.causal
        self.dropout = config.dropout
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None, layer=0, need_weights=False):
        """x: (B, T, C); cache: a KVCache (this is its ``layer``) or None. Returns y (B, T, C), weights or None."""
        B, T, C = x.size()
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, nh, T_past + T, hs)
        T_all = k.size(2)

        if need_weights or (self.causal and T_all > T and T > 1):
            # The explicit form: scores -> mask -> softmax, so the weights can be returned.
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, T_all)
            if self.causal:
                # the new queries sit at positions T_all-T .. T_all-1 of the full sequence
                allowed = causal_mask(T_all)[T_all - T :].to(x.device)  # (T, T_all)
                att = att.masked_fill(~allowed, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
        else:
            # Same maths, fused; a single new query with a cache may read every cached key.
            p = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal and T > 1)
            att = None
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): re-assemble the heads
        return self.resid_dropout(self.c_proj(y)), att


class MLP(nn.Module):
    """The position-wise feed-forward layer: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, cache=None, layer=0, need_weights=False):
        a, att = self.attn(self.ln_1(x), cache=cache, layer=layer, need_weights=need_weights)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, att


class GPT(nn.Module):
    """Character GPT with makemore's contract: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embeddings
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        # Tokens that are only ever read (a start token) get probability exactly 0.
        logit_bias = torch.zeros(config.vocab_size)
        logit_bias[list(config.input_only_ids)] = float("-inf")
        self.register_buffer("logit_bias", logit_bias, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # attn.c_proj and mlp.c_proj
                # scaled init of the residual projections (GPT-2)
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    @property
    def supports_cache(self) -> bool:
        # Without the mask an earlier key would change when later tokens arrive: nothing to cache.
        return self.config.causal

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def num_params(self) -> int:
        return count_parameters(self)

    def forward_detailed(self, idx, cache: KVCache | None = None, need_weights: bool = False):
        """idx: (B, T) token ids, appended after what ``cache`` already holds. Returns ForwardOutput."""
        B, T = idx.size()
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        attention = [] if need_weights else None
        for i, block in enumerate(self.blocks):
            x, att = block(x, cache=cache, layer=i, need_weights=need_weights)
            if need_weights:
                attention.append(att)
        # the output layer reuses the token embeddings (weight tying, as in GPT-2 and nanoGPT)
        logits = F.linear(self.ln_f(x), self.wte.weight) + self.logit_bias  # (B, T, V)
        return ForwardOutput(logits=logits, attention=attention)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (or None).

        Targets equal to -1 are ignored (padding after a name's end token).
        """
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
