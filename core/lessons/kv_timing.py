"""Why caching matters: time each generated token with and without the key/value cache.

Without a cache, step t runs the network over all t tokens of the context again, so the time per
token grows with its position. With the cache, the keys and values of earlier tokens are kept and
only the newest token goes through the network: the time per token stays about flat. Both runs draw
from the same seeded generator and must produce the same tokens: the cache changes the cost, not
the maths.

Both runs go through ``core.text.language_model.generate`` (``use_cache=True`` / ``False``) and read each Step's
own wall time. Repeats are interleaved and the median per position is kept, because a shared CPU is
noisy; the totals are sums of those medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from core.errors import InputError
from core.text.language_model import DEFAULT_SETTINGS, TextModel, context_ids, generate
from core.text.sampling import SamplingSettings


@dataclass(frozen=True)
class KVTimingResult:
    first_position: int  # sequence position of the first generated token (the start token is 0)
    cached_ms: list[float]  # median milliseconds per token with the cache, one per position
    uncached_ms: list[float]  # the same without the cache
    cached_tokens: list[int]  # the tokens the cached runs produced
    uncached_tokens: list[int]  # the tokens the uncached runs produced
    repeats: int  # runs per mode behind each median

    @property
    def cached_positions(self) -> list[int]:
        return list(range(self.first_position, self.first_position + len(self.cached_ms)))

    @property
    def uncached_positions(self) -> list[int]:
        return list(range(self.first_position, self.first_position + len(self.uncached_ms)))

    @property
    def same_tokens(self) -> bool:
        return self.cached_tokens == self.uncached_tokens

    @property
    def total_cached_s(self) -> float:
        return sum(self.cached_ms) / 1000

    @property
    def total_uncached_s(self) -> float:
        return sum(self.uncached_ms) / 1000

    @property
    def speedup(self) -> float:
        """How many times faster the cached run was over the whole generation."""
        return self.total_uncached_s / self.total_cached_s


def tokens_to_block(lm: TextModel, prompt: str) -> int:
    """How many tokens fit after the prompt before the context reaches the model's block size."""
    return lm.block_size - len(context_ids(lm, prompt))


def time_kv_cache(
    lm: TextModel,
    prompt: str,
    settings: SamplingSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    repeats: int = 3,
    max_new_tokens: int | None = None,
) -> KVTimingResult:
    """Generate up to the block size (or ``max_new_tokens``) with and without the cache, ``repeats`` times each.

    ``settings`` are every knob of the page, so both runs generate exactly what ``core.generate``
    gives with them. Every repeat must give the same tokens (same seed); the result reports the first of each mode
    so that a page can show whether the two modes agree.
    """
    if repeats < 1:
        raise InputError(f"repeats must be at least 1, got {repeats}")
    n = tokens_to_block(lm, prompt) if max_new_tokens is None else max_new_tokens
    if n < 1:
        raise InputError(
            f"The prompt already fills the model's block of {lm.block_size} tokens: "
            "shorten it to leave room for generated tokens."
        )
    runs: dict[bool, list[list]] = {True: [], False: []}
    for r in range(repeats):
        # alternate which mode goes first, so a warm-up or a busy neighbour does not favour one
        for use_cache in (True, False) if r % 2 == 0 else (False, True):
            steps = list(generate(lm, prompt, n, settings, seed, use_cache=use_cache))
            runs[use_cache].append(steps)

    def medians(mode: bool) -> list[float]:
        # runs of one mode have the same length (same seed, same tokens); zip stops at the shortest anyway
        return [statistics.median(s.elapsed_s * 1000 for s in column) for column in zip(*runs[mode], strict=False)]

    first_cached, first_uncached = runs[True][0], runs[False][0]
    return KVTimingResult(
        first_position=first_cached[0].position,
        cached_ms=medians(True),
        uncached_ms=medians(False),
        cached_tokens=[s.token_id for s in first_cached],
        uncached_tokens=[s.token_id for s in first_uncached],
        repeats=repeats,
    )
