"""What the causal text models share: the causal mask, and the key/value cache a caller owns.

Nothing per request is stored on a module (one cached model serves every browser session): a
request that decodes token by token creates a ``KVCache`` with ``net.new_cache()`` and passes it
to every forward call. ``RaggedKVCaches`` lets several such caches, each of its own length, go
through one forward pass together (the LLM worker's batched decoding, ``core.text.llm_engine``).
"""

from __future__ import annotations

import torch


def causal_mask(t: int) -> torch.Tensor:
    """(t, t) booleans, True where row i (the predicting position) may read column j: j <= i."""
    return torch.ones(t, t, dtype=torch.bool).tril()


class KVCache:
    """Keys and values of every layer for the tokens decoded so far, owned by one request.

    ``layers[i]`` is a pair of tensors of shape (B, n_kv_head, T_cached, head_size), None before
    the first token; an attention layer adds its new keys and values with ``append``.
    The pairs are views into buffers that grow by doubling, so appending a token copies one
    token's keys, not the whole history (``torch.cat`` would copy all of it at every step).
    """

    def __init__(self, n_layer: int, max_length: int | None = None):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer
        self._buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer
        self.max_length = max_length  # the model's block size: the buffers never grow past it

    @property
    def length(self) -> int:
        first = self.layers[0]
        return 0 if first is None else first[0].size(2)

    @property
    def capacity_nbytes(self) -> int:
        """Memory the buffers take (their capacity, not only the tokens cached so far): what a budget counts."""
        return sum(k.nbytes + v.nbytes for k, v in filter(None, self._buffers))

    def positions(self, T: int) -> torch.Tensor:
        """(T,) the sequence positions of ``T`` tokens appended next."""
        return torch.arange(self.length, self.length + T)

    def clear(self) -> None:
        self.layers = [None] * len(self.layers)
        self._buffers = [None] * len(self.layers)

    @property
    def nbytes(self) -> int:
        """Memory the cache holds for the tokens so far: every layer's keys and values (the used part)."""
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in filter(None, self.layers))

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` tokens (a shared prefix); the buffers keep their memory for what follows."""
        if length <= 0:
            self.clear()
        elif length < self.length:
            self.layers = [(k[:, :, :length], v[:, :, :length]) for k, v in self.layers]

    def append(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add layer i's new (B, nkv, T, hs) keys and values; returns all of them so far."""
        past = self.layers[i]
        start = 0 if past is None else past[0].size(2)
        end = start + k.size(2)
        buf = self._buffers[i]
        if buf is None or buf[0].size(2) < end:
            B, nkv, _, hs = k.shape
            capacity = max(64, 2 * end)
            if self.max_length is not None:
                capacity = max(end, min(capacity, self.max_length))
            grown = (k.new_empty(B, nkv, capacity, hs), v.new_empty(B, nkv, capacity, hs))
            if past is not None:
                grown[0][:, :, :start] = past[0]
                grown[1][:, :, :start] = past[1]
            self._buffers[i] = buf = grown
        buf[0][:, :, start:end] = k
        buf[1][:, :, start:end] = v
        self.layers[i] = (buf[0][:, :, :end], buf[1][:, :, :end])  # (B, nkv, T_all, hs) views
        return self.layers[i]


class RaggedKVCaches:
    """Several sequences' own ``KVCache``s (batch 1 each, any lengths) run through one forward pass.

    This is continuous batching's core: sessions at different places in their texts each add one
    token, and every layer's matrices are read once for all of them. Each new row b appends to
    ``caches[b]``; ``append`` then returns every sequence's keys and values padded to the longest
    (as float64, the precision attention computes in), and ``positions`` gives each row its own
    place, so RoPE and the causal mask are per sequence. Padded keys sit past a row's position, so
    the mask hides them: a sequence's result does not depend on who else is in the batch.
    """

    def __init__(self, caches: list[KVCache]):
        self.caches = caches
        self._lengths = [c.length for c in caches]  # before this pass

    @property
    def length(self) -> int:
        return max(self._lengths)

    def positions(self, T: int) -> torch.Tensor:
        """(B, T) each row's positions for its ``T`` new tokens."""
        return torch.tensor([[n + t for t in range(T)] for n in self._lengths])

    def append(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add layer i's new (B, nkv, T, hs) keys and values row by row; returns (B, nkv, T_max, hs) each, padded with 0."""
        B, nkv, T, hs = k.shape
        T_max = max(self._lengths) + T
        keys = torch.zeros(B, nkv, T_max, hs, dtype=torch.float64)
        values = torch.zeros(B, nkv, T_max, hs, dtype=torch.float64)
        for b, cache in enumerate(self.caches):
            kb, vb = cache.append(i, k[b : b + 1], v[b : b + 1])  # (1, nkv, n_b + T, hs)
            keys[b, :, : kb.size(2)] = kb[0]
            values[b, :, : vb.size(2)] = vb[0]
        return keys, values
