"""Llama, the decoder of SmolLM2-135M, written like karpathy/nanoGPT's ``model.py``.

SmolLM2 (Hugging Face, 2024) is a Llama-architecture model (Touvron et al., 2023). It is the same
decoder-only, pre-norm transformer as the character GPT in ``core.models.transformer``, with the
changes that Llama made to GPT-2:

* **RoPE instead of learned positions**: no position embedding is added to the input; the query
  and key of every head are rotated by an angle proportional to their position (Su et al., 2021),
  so an attention score depends on how far apart two tokens are;
* **RMSNorm instead of LayerNorm**: rescale by the root mean square, no mean subtracted, no bias;
* **SwiGLU MLP**: ``down(silu(gate(x)) * up(x))`` instead of ``c_proj(gelu(c_fc(x)))``;
* **grouped-query attention**: 9 query heads share 3 key/value heads (each key/value head serves
  3 consecutive query heads), so the key/value cache is a third of the size;
* **no biases** in any linear layer, and **tied embeddings** (the output layer reuses the token
  embedding matrix), as in GPT-2.

RoPE convention: the weights given to this module must be in Hugging Face's layout, where a head's
vector is rotated as two halves (``rotate_half``: dimension i pairs with i + head_size/2).
llama.cpp's GGUF converter permutes the rows of the q and k weights so that llama.cpp can rotate
interleaved pairs (2i, 2i+1) instead; ``core.text.gguf_llm`` undoes that permutation on loading.
The oracle test (tests/unit/models/test_llama.py) checks our logits against transformers' own
Llama on the same file.

As in the GPT: ``forward_detailed`` can materialise every head's attention weights for the app to
draw, and a ``KVCache`` owned by the caller holds keys and values between decoding steps. Nothing
per request is stored on the module: one loaded model serves every session, from any thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig
from core.models.kv_cache import KVCache, causal_mask


@dataclass
class LlamaConfig(ModelConfig):
    block_size: int = 2048  # longest context we allow (SmolLM2 was trained to 8192; 2048 is CPU-sane)
    vocab_size: int = 49152  # BPE tokens, the 17 control tokens included
    n_layer: int = 30  # transformer blocks
    n_head: int = 9  # query heads per block
    n_kv_head: int = 3  # key/value heads per block, each shared by n_head // n_kv_head query heads
    n_embd: int = 576  # width of the residual stream
    intermediate_size: int = 1536  # hidden width of the SwiGLU MLP
    rope_theta: float = 100000.0  # base of the rotary angles: position p, pair i turns by p / theta^(2i/hs)
    norm_eps: float = 1e-5  # added to the mean square in RMSNorm
    causal: bool = True  # always True: a Llama only ever reads the past


def rope_tables(config: LlamaConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotary angles, each (block_size, head_size).

    Computed in float32 as Hugging Face's LlamaRotaryEmbedding does, so our logits match its.
    """
    hs = config.n_embd // config.n_head
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))  # (hs/2,)
    pos = torch.arange(config.block_size, dtype=torch.float32)  # (block_size,)
    freqs = torch.outer(pos, inv_freq)  # (block_size, hs/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (block_size, hs): dimension i and i + hs/2 share an angle
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each (x_i, x_{i+hs/2}) pair of x (B, T, nh, hs) by its position's angle; cos, sin: (T, hs)."""
    half = x.size(-1) // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # rotate_half: (-x2, x1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


class CausalSelfAttention(nn.Module):
    """Grouped-query attention: n_head queries, n_kv_head keys and values, RoPE on q and k."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0 and config.n_head % config.n_kv_head == 0
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head
        self.head_size = config.n_embd // config.n_head
        kv_dim = config.n_kv_head * self.head_size
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_dim, bias=False)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)

    def forward(self, x, cos, sin, cache=None, layer=0, need_weights=False):
        """x: (B, T, C); cos, sin: (T, hs). Returns y (B, T, C) and the weights (B, nh, T, T_all) or None."""
        B, T, C = x.size()
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        qkv = self.c_attn(x)  # (B, T, (nh + 2 nkv) hs)
        qk = qkv[..., : (nh + nkv) * hs].view(B, T, nh + nkv, hs)  # (B, T, nh + nkv, hs)
        qk = apply_rope(qk, cos, sin)  # one rotation for the queries and the keys together
        q = qk[:, :, :nh].transpose(1, 2)  # (B, nh, T, hs)
        k = qk[:, :, nh:].transpose(1, 2)  # (B, nkv, T, hs)
        v = qkv[..., (nh + nkv) * hs :].view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, nkv, T_all, hs)
        T_all = k.size(2)

        if need_weights:
            # The explicit form: scores -> mask -> softmax, so the weights can be returned.
            k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nh, T_all, hs): query head h reads kv head h // 3
            v = v.repeat_interleave(nh // nkv, dim=1)  # (B, nh, T_all, hs)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, T_all)
            # the new queries sit at positions T_all-T .. T_all-1 of the full sequence
            allowed = causal_mask(T_all)[T_all - T :].to(x.device)  # (T, T_all)
            att = att.masked_fill(~allowed, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v  # (B, nh, T, hs)
        else:
            # Same maths, fused. A single new query may read every cached key; several new queries
            # after a cache need the mask shifted by the cached length (is_causal would not shift it).
            mask = causal_mask(T_all)[T_all - T :].to(x.device) if (T > 1 and T_all > T) else None
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=T > 1 and mask is None, enable_gqa=True
            )
            att = None
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C): re-assemble the heads
        return self.c_proj(y), att


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)); gate and up are one matrix, split after the product."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 2 * config.intermediate_size, bias=False)  # gate, then up
        self.c_proj = nn.Linear(config.intermediate_size, config.n_embd, bias=False)  # down

    def forward(self, x):
        gate, up = self.c_fc(x).chunk(2, dim=-1)  # each (B, T, intermediate_size)
        return self.c_proj(F.silu(gate) * up)


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight: LayerNorm without the mean and without a bias."""

    def __init__(self, n_embd: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_embd))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.ln_1 = RMSNorm(config.n_embd, config.norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, cache=None, layer=0, need_weights=False):
        a, att = self.attn(self.ln_1(x), cos, sin, cache=cache, layer=layer, need_weights=need_weights)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, att


class Llama(nn.Module):
    """SmolLM2's network with the GPT's contract: ``forward(idx, targets=None) -> (logits, loss)``."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings (no position embedding)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = RMSNorm(config.n_embd, config.norm_eps)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: the output layer reuses the embeddings
        cos, sin = rope_tables(config)
        self.register_buffer("rope_cos", cos, persistent=False)  # (block_size, hs)
        self.register_buffer("rope_sin", sin, persistent=False)  # (block_size, hs)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    @property
    def supports_cache(self) -> bool:
        return True  # causal, always: an earlier key never changes when later tokens arrive

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def num_params(self) -> int:
        """Learned numbers, the tied embedding counted once (134,515,008 for SmolLM2-135M).

        Counted from the config, so an int8-served copy (whose weights are packed outside
        ``parameters()``) reports the same number as the fp32 one.
        """
        c = self.config
        kv_dim = c.n_kv_head * (c.n_embd // c.n_head)
        attn = c.n_embd * (c.n_embd + 2 * kv_dim) + c.n_embd * c.n_embd
        mlp = 3 * c.n_embd * c.intermediate_size
        return c.vocab_size * c.n_embd + c.n_layer * (attn + mlp + 2 * c.n_embd) + c.n_embd

    def forward_detailed(self, idx, cache: KVCache | None = None, need_weights: bool = False):
        """idx: (B, T) token ids, appended after what ``cache`` already holds. Returns ForwardOutput."""
        B, T = idx.size()
        start = cache.length if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        cos = self.rope_cos[start : start + T]  # (T, hs): RoPE positions continue after the cache
        sin = self.rope_sin[start : start + T]  # (T, hs)
        x = self.wte(idx)  # (B, T, C)
        attention = [] if need_weights else None
        for i, block in enumerate(self.blocks):
            x, att = block(x, cos, sin, cache=cache, layer=i, need_weights=need_weights)
            if need_weights:
                attention.append(att)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        return ForwardOutput(logits=logits, attention=attention)

    def forward(self, idx, targets=None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (or None).

        Targets equal to -1 are ignored.
        """
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
