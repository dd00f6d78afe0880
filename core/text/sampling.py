"""Sampling transforms: logits in, probabilities out, no hidden random state.

The order is the one a teacher demonstrates: temperature reshapes the whole distribution,
then top-k keeps the k most probable tokens, then top-p (nucleus) keeps the smallest set of
most probable tokens whose probability reaches p. Each stage is renormalised and returned,
so a page can draw all of them. Randomness enters only in ``sample_token`` and only through
an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.errors import InputError
from core.validation import check_number, check_whole


@dataclass(frozen=True)
class SamplingStages:
    raw: torch.Tensor  # (V,) softmax of the logits
    tempered: torch.Tensor  # (V,) softmax(logits / T); one-hot on the argmax at T = 0
    after_top_k: torch.Tensor  # (V,) tempered, restricted to the k most probable, renormalised
    final: torch.Tensor  # (V,) after top-p as well: what is sampled from

    @property
    def kept(self) -> torch.Tensor:
        """(V,) True for the tokens that survive truncation."""
        return self.final > 0

    @property
    def kept_mass(self) -> float:
        """Probability mass of the surviving tokens under the tempered distribution."""
        return float(self.tempered[self.kept].sum())


def validate_settings(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise InputError (a ValueError), in words, for settings outside the allowed ranges."""
    check_number(temperature, "temperature", 0, math.inf, " (0 means greedy)")
    if top_k is not None:
        check_whole(top_k, "top_k (None keeps every token)", 1)
    if top_p is not None:
        check_number(top_p, "top_p (None keeps every token)", 0, 1)
        if top_p == 0:
            raise InputError("top_p must be above 0 (it is the mass the kept tokens must reach), got 0.")


def _order(p: torch.Tensor) -> torch.Tensor:
    """Indices from most to least probable; ties keep the lower index first (stable)."""
    return torch.sort(p, descending=True, stable=True).indices


def _keep(p: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(p)
    out[keep_idx] = p[keep_idx]
    return out / out.sum()


def next_token_distribution(logits: torch.Tensor, temperature: float = 1.0, top_k=None, top_p=None):
    """logits: (V,). Returns SamplingStages, each stage a (V,) float64 tensor summing to 1."""
    validate_settings(temperature, top_k, top_p)
    logits = logits.detach().to(torch.float64).reshape(-1)  # (V,)
    if torch.isnan(logits).any() or not torch.isfinite(logits).any() or (logits == float("inf")).any():
        raise ValueError("logits must be finite numbers (-inf allowed for impossible tokens)")
    V = logits.numel()
    raw = torch.softmax(logits, dim=0)
    if temperature == 0:
        tempered = torch.zeros_like(raw)
        tempered[torch.argmax(logits)] = 1.0  # argmax returns the lowest index on ties
    else:
        # shift by the max first: logits / T alone overflows to inf (softmax NaN) for huge logits or tiny T
        tempered = torch.softmax((logits - logits.max()) / temperature, dim=0)

    after_top_k = tempered
    if top_k is not None and top_k < V:
        after_top_k = _keep(tempered, _order(tempered)[:top_k])

    final = after_top_k
    if top_p is not None and top_p < 1:
        order = _order(after_top_k)
        cum = torch.cumsum(after_top_k[order], dim=0)
        before = cum - after_top_k[order]  # mass of the more probable tokens
        n_keep = max(1, int((before < top_p).sum()))  # smallest prefix reaching p, at least 1
        final = _keep(after_top_k, order[:n_keep])
    return SamplingStages(raw=raw, tempered=tempered, after_top_k=after_top_k, final=final)


def sample_token(probs: torch.Tensor, generator: torch.Generator) -> int:
    """Draw one index from ``probs`` (V,) using only ``generator``'s random stream."""
    return int(torch.multinomial(probs.to(torch.float64), 1, generator=generator))
