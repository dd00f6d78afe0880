"""Beam search: keep the ``width`` most probable partial texts at every step, not just one.

Greedy decoding takes the most probable token at each step; the text it builds need not be the
most probable text, because a token that looks worse now can lead to much more likely tokens
later. Beam search keeps ``width`` candidates (beams) and extends each by every token, keeping the
best ``width`` of the results by their total log-probability, the chain rule's sum of log
conditionals. Width 1 is greedy; a width as large as the number of texts is exhaustive search.

Scores are plain sums of log p under the model (temperature 1, nothing truncated), with no length
normalisation: a finished text (it drew the end token) competes with unfinished ones by the same
sum. Adding a token never raises a sum, so the search stops as soon as the best finished text
beats every live beam. Pure: ``next_logprobs`` is the only way it reads a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import torch

from core.validation import check_whole

MAX_WIDTH = 64  # every step scores width x V candidates


@dataclass(frozen=True)
class Hypothesis:
    token_ids: tuple[int, ...]  # the generated tokens (the prompt not included)
    logprob: float  # sum of log p(token | context) over token_ids, natural log
    finished: bool  # ended with a stop token


def beam_search(
    next_logprobs: Callable[[list[int]], torch.Tensor],
    prompt_ids: Sequence[int],
    width: int,
    max_new_tokens: int,
    stop_ids: Collection[int] = (),
    never_ids: Collection[int] = (),
) -> list[Hypothesis]:
    """The best texts found, most probable first (at most ``width``).

    ``next_logprobs(ids)`` gives (V,) log p of the token after ``ids`` (prompt included). A beam that
    draws a token of ``stop_ids`` is finished; tokens in ``never_ids`` (an input-only start token)
    are never proposed. Ties keep the lower token ids and the earlier beams first.
    """
    width = check_whole(width, "beam width", 1, MAX_WIDTH)
    max_new_tokens = check_whole(max_new_tokens, "number of tokens", 1)
    live: list[Hypothesis] = [Hypothesis((), 0.0, False)]
    done: list[Hypothesis] = []
    for _ in range(max_new_tokens):
        candidates: list[Hypothesis] = []
        for beam in live:
            logp = next_logprobs(list(prompt_ids) + list(beam.token_ids)).detach().to(torch.float64)  # (V,)
            logp[list(never_ids)] = -math.inf
            best = torch.sort(logp, descending=True, stable=True).indices[:width].tolist()  # enough for any top-width
            for token in best:
                if logp[token] > -math.inf:
                    candidates.append(
                        Hypothesis(beam.token_ids + (token,), beam.logprob + float(logp[token]), token in stop_ids)
                    )
        candidates.sort(key=lambda h: -h.logprob)  # stable: ties keep beam order, then token order
        kept = candidates[:width]
        done = sorted(done + [h for h in kept if h.finished], key=lambda h: -h.logprob)[:width]
        live = [h for h in kept if not h.finished]
        if not live or (len(done) == width and done[-1].logprob >= live[0].logprob):
            break  # no live beam can still enter the best ``width``: sums only fall
    return sorted(done + live, key=lambda h: -h.logprob)[:width]
