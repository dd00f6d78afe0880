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
Several sequences of different lengths can decode together (``RaggedKVCaches``): every token
carries its own position, for RoPE and for the causal mask.

**Attention runs in float64**, rounded once to float32 (``attend``). The served model's 4-bit
layers round their inputs to bfloat16, and a bfloat16 rounding turns a last-bit float32 difference
into a 1-in-256 one. Attention over one new query (a decoding step) and over a whole text (the
ledger) are different float32 kernels whose sums differ in the last bit, so, amplified through 30
layers, the two disagreed by up to 0.25 nats on one token. In float64 both round to the same
float32 numbers: a step, the ledger and a batch of sessions give one number per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ForwardOutput, ModelConfig
from core.models.kv_cache import KVCache, RaggedKVCaches


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
    """Rotate each (x_i, x_{i+hs/2}) pair of x (B, T, nh, hs) by its position's angle.

    cos, sin: (T, hs) when every sequence is at the same place, (B, T, hs) when each has its own.
    """
    half = x.size(-1) // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)  # rotate_half: (-x2, x1)
    return x * cos.unsqueeze(-2) + rotated * sin.unsqueeze(-2)  # cos: (..., T, 1, hs), one angle for every head


ATTEND_ROWS = 128  # queries attended at once: bounds the float64 scores to (B, n_kv_head, 3 * 128, T_all)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grouped-query softmax attention in float64, rounded once to float32.

    q: (B, nh, T, hs); k, v: (B, nkv, T_all, hs); allowed: (T, T_all) or (B, T, T_all), True where a
    query may read a key. Returns y (B, nh, T, hs) and the weights (B, nh, T, T_all), float32.
    In float64 the result does not depend on how many queries are computed together (see the
    module's docstring); query head h reads key/value head h // (nh / nkv), without copying them.
    """
    B, nh, T, hs = q.shape
    nkv, T_all = k.size(1), k.size(2)
    if T > ATTEND_ROWS:  # a long text: a few rows at a time, so the scores stay small
        rows = [
            attend(q[:, :, i : i + ATTEND_ROWS], k, v, allowed[..., i : i + ATTEND_ROWS, :])
            for i in range(0, T, ATTEND_ROWS)
        ]
        return torch.cat([y for y, _ in rows], dim=2), torch.cat([w for _, w in rows], dim=2)
    g = nh // nkv  # query heads per key/value head
    qg = q.double().reshape(B, nkv, g * T, hs)  # (B, nkv, g*T, hs): the g query heads of a group share its keys
    k, v = k.double(), v.double()
    att = (qg @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nkv, g*T, T_all)
    mask = allowed if allowed.dim() == 2 else allowed[:, None, None]  # (T, T_all) or (B, 1, 1, T, T_all)
    att = att.view(B, nkv, g, T, T_all).masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (B, nkv, g, T, T_all)
    y = att.view(B, nkv, g * T, T_all) @ v  # (B, nkv, g*T, hs)
    return y.view(B, nh, T, hs).float(), att.view(B, nh, T, T_all).float()


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

    def forward(self, x, rope, allowed, cache=None, layer=0, need_weights=False):
        """x: (B, T, C); rope: (cos, sin) at each new token's position; allowed: the causal mask, (T, T_all)
        or (B, T, T_all). Returns y (B, T, C) and the weights (B, nh, T, T_all) if asked for, else None."""
        B, T, C = x.size()
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        qkv = self.c_attn(x)  # (B, T, (nh + 2 nkv) hs)
        qk = qkv[..., : (nh + nkv) * hs].view(B, T, nh + nkv, hs)  # (B, T, nh + nkv, hs)
        qk = apply_rope(qk, *rope)  # one rotation for the queries and the keys together
        q = qk[:, :, :nh].transpose(1, 2)  # (B, nh, T, hs)
        k = qk[:, :, nh:].transpose(1, 2)  # (B, nkv, T, hs)
        v = qkv[..., (nh + nkv) * hs :].view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, nkv, T_all, hs)
        y, att = attend(q, k, v, allowed)  # (B, nh, T, hs), (B, nh, T, T_all)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C): re-assemble the heads
        return self.c_proj(y), att if need_weights else None


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

    def forward(self, x, rope, allowed, cache=None, layer=0, need_weights=False):
        a, att = self.attn(self.ln_1(x), rope, allowed, cache=cache, layer=layer, need_weights=need_weights)
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
        return KVCache(self.config.n_layer, max_length=self.config.block_size)

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

    def forward_detailed(
        self,
        idx,
        cache: KVCache | RaggedKVCaches | None = None,
        need_weights: bool = False,
        last_only: bool = False,
    ):
        """idx: (B, T) token ids, appended after what ``cache`` already holds. Returns ForwardOutput.

        With ``RaggedKVCaches`` each row continues its own sequence, at its own position. With
        ``last_only`` the logits are the last position's only, (B, 1, V): decoding needs no others,
        and the output layer (49,152 x 576) costs as much as a third of the network.
        """
        B, T = idx.size()
        positions = cache.positions(T) if cache is not None else torch.arange(T)  # (T,) or (B, T)
        T_all = int(positions.max()) + 1  # keys each query may read: its own position and every one before
        if T_all > self.config.block_size:
            raise ValueError(f"sequence of {T_all} tokens exceeds block_size {self.config.block_size}")
        rope = (self.rope_cos[positions], self.rope_sin[positions])  # (..., T, hs): RoPE continues after the cache
        allowed = torch.arange(T_all) <= positions.unsqueeze(-1)  # (T, T_all) or (B, T, T_all): the causal mask
        x = self.wte(idx)  # (B, T, C)
        attention = [] if need_weights else None
        for i, block in enumerate(self.blocks):
            x, att = block(x, rope, allowed, cache=cache, layer=i, need_weights=need_weights)
            if need_weights:
                attention.append(att)
        if last_only:
            x = x[:, -1:]  # (B, 1, C)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V), or (B, 1, V)
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
