"""What the causal text models share: the causal mask, and the key/value cache a caller owns.

Nothing per request is stored on a module (one cached model serves every browser session): a
request that decodes token by token creates a ``KVCache`` with ``net.new_cache()`` and passes it
to every forward call.
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

    def __init__(self, n_layer: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer
        self._buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer

    @property
    def length(self) -> int:
        first = self.layers[0]
        return 0 if first is None else first[0].size(2)

    def clear(self) -> None:
        self.layers = [None] * len(self.layers)
        self._buffers = [None] * len(self.layers)

    @property
    def nbytes(self) -> int:
        """Memory the cache holds for the tokens so far: every layer's keys and values (the used part)."""
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in filter(None, self.layers))

    def append(self, i: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add layer i's new (B, nkv, T, hs) keys and values; returns all of them so far."""
        past = self.layers[i]
        start = 0 if past is None else past[0].size(2)
        end = start + k.size(2)
        buf = self._buffers[i]
        if buf is None or buf[0].size(2) < end:
            B, nkv, _, hs = k.shape
            capacity = max(64, 2 * end)
            grown = (k.new_empty(B, nkv, capacity, hs), v.new_empty(B, nkv, capacity, hs))
            if past is not None:
                grown[0][:, :, :start] = past[0]
                grown[1][:, :, :start] = past[1]
            self._buffers[i] = buf = grown
        buf[0][:, :, start:end] = k
        buf[1][:, :, start:end] = v
        self.layers[i] = (buf[0][:, :, :end], buf[1][:, :, :end])  # (B, nkv, T_all, hs) views
        return self.layers[i]
