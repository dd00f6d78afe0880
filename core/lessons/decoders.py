"""Three ways to continue the same prompt: greedy, sampled, and beam search, each with its log p.

The live-sampling page shows them side by side: greedy takes the most probable token at every
step; sampling draws from the reshaped distribution (what "Next token" does, same seed, same
tokens); beam search keeps several candidates and finds texts whose total log p under the model is
often higher than greedy's, because the most probable text is not built from the most probable
steps. Every log p is the chain rule's sum of log p(token | context) under the model itself
(temperature 1, nothing truncated), so the three totals compare directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.text.beam_search import beam_search
from core.text.language_model import TextModel, context_ids, generate, logits_for_context
from core.text.sampling import SamplingSettings


@dataclass(frozen=True)
class Decoded:
    method: str  # "greedy", "sampled" or "beam (width w)"
    token_ids: tuple[int, ...]  # the generated tokens
    logprob: float  # sum of log p(token | context) under the model, natural log
    finished: bool  # ended with the end token

    @property
    def per_token(self) -> float:
        """Average log p per generated token (the totals of texts of different lengths compare unfairly)."""
        return self.logprob / len(self.token_ids) if self.token_ids else math.nan


def common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How many tokens two continuations share from their start: where they diverge (the shorter length if never)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _continuation(lm: TextModel, prompt: str, settings: SamplingSettings, seed: int, n: int) -> tuple:
    """(tokens, log p, ended) of ``core.generate``'s continuation: what "Next token" draws for this seed."""
    steps = list(generate(lm, prompt, n, settings, seed))
    ended = bool(steps) and steps[-1].is_end
    return tuple(s.token_id for s in steps), math.fsum(s.logprob for s in steps), ended


def compare_decoders(
    lm: TextModel, prompt: str, settings: SamplingSettings, seed: int, n: int, width: int
) -> list[Decoded]:
    """Greedy, sampled (under ``settings`` and ``seed``) and beam search (``width``), ``n`` tokens at most."""
    greedy = _continuation(lm, prompt, SamplingSettings(temperature=0), seed, n)
    sampled = _continuation(lm, prompt, settings, seed, n)

    def next_logprobs(ids: list[int]) -> torch.Tensor:
        return torch.log_softmax(logits_for_context(lm, ids).to(torch.float64), dim=0)  # (V,)

    prompt_ids = context_ids(lm, prompt)
    best = beam_search(next_logprobs, prompt_ids, width, n, lm.vocab.stop_ids, lm.vocab.input_only_ids)[0]
    return [
        Decoded("greedy", *greedy),
        Decoded("sampled", *sampled),
        Decoded(f"beam (width {width})", best.token_ids, best.logprob, best.finished),
    ]
