"""Why caching matters: time each generated token with and without the key/value cache.

Without a cache, step t runs the network over all t tokens of the context again, so the time per
token grows with its position. With the cache, the keys and values of earlier tokens are kept and
only the newest token goes through the network: the time per token stays about flat. Both runs draw
from the same seeded generator and must produce the same tokens: the cache changes the cost, not
the maths.

Both runs go through ``core.text.language_model.generate`` (``use_cache=True`` / ``False``) and read each Step's
own wall time. Repeats are interleaved and the median per position is kept, because a shared CPU is
noisy; the totals are sums of those medians.

How the totals grow: generating n tokens costs the sum of the first n steps. Without the cache step t
reads t tokens, so the total is about a quadratic in n; with it, every step reads one, so about a
line. ``fit_polynomial`` fits both by least squares and says how well (R²).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass

import numpy as np

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
    def cached_totals_ms(self) -> list[float]:
        """Milliseconds to generate the first 1, 2, ..., n tokens with the cache: cumulative sums of the steps."""
        return cumulative_totals(self.cached_ms)

    @property
    def uncached_totals_ms(self) -> list[float]:
        return cumulative_totals(self.uncached_ms)

    @property
    def speedup(self) -> float:
        """How many times faster the cached run was over the whole generation."""
        return self.total_uncached_s / self.total_cached_s


def cumulative_totals(step_ms: list[float]) -> list[float]:
    """[s1, s1 + s2, ...]: the time to generate 1, 2, ... tokens from each step's own time."""
    return list(itertools.accumulate(step_ms))


@dataclass(frozen=True)
class Fit:
    """A least-squares polynomial y ≈ c0 + c1 n + c2 n² ... and how much of y's variation it explains."""

    coefficients: tuple[float, ...]  # lowest power first: (a, b) for a line, (a, b, c) for a quadratic
    r2: float  # 1 - residual sum of squares / total sum of squares (1: every point on the curve)

    def __call__(self, n) -> np.ndarray:
        return np.polynomial.polynomial.polyval(np.asarray(n, dtype=float), self.coefficients)


def fit_polynomial(n: list[float], y: list[float], degree: int) -> Fit:
    """Least squares of ``y`` on 1, n, ..., n^degree (numpy.linalg.lstsq); needs degree + 1 points at least."""
    x, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y) or len(x) < degree + 1:
        raise InputError(f"A fit of degree {degree} needs at least {degree + 1} points, got {len(x)}.")
    design = np.vander(x, degree + 1, increasing=True)  # (N, degree + 1): columns 1, n, n², ...
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = float(np.sum((y - design @ coefficients) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)
    return Fit(tuple(float(c) for c in coefficients), r2)


def fit_quadratic(n: list[float], y: list[float]) -> Fit:
    return fit_polynomial(n, y, 2)


def fit_line(n: list[float], y: list[float]) -> Fit:
    return fit_polynomial(n, y, 1)


def growth_fits(result: KVTimingResult) -> tuple[Fit, Fit] | None:
    """(the uncached totals' quadratic, the cached totals' line) over n = 1..N; None below 3 tokens."""
    n_u, n_c = len(result.uncached_ms), len(result.cached_ms)
    if min(n_u, n_c) < 3:
        return None
    uncached = fit_quadratic(list(range(1, n_u + 1)), result.uncached_totals_ms)
    cached = fit_line(list(range(1, n_c + 1)), result.cached_totals_ms)
    return uncached, cached


def polynomial_text(fit: Fit) -> str:
    """'1.20 + 0.340·n − 0.0021·n²': the fitted total in ms, signs written out."""
    powers = ("", "·n", "·n²")
    digits = (2, 3, 4)
    a = fit.coefficients[0]
    text = f"{'−' if a < 0 else ''}{abs(a):.{digits[0]}f}"
    for k, c in enumerate(fit.coefficients[1:], start=1):
        text += f" {'−' if c < 0 else '+'} {abs(c):.{digits[k]}f}{powers[k]}"
    return text


def growth_words(uncached: Fit, cached: Fit) -> str:
    """The two fits in a sentence, with their coefficients and R² (n = tokens generated, totals in ms)."""
    return (
        f"Least squares over the measured totals (n = tokens generated, total in ms): without the cache "
        f"total(n) ≈ {polynomial_text(uncached)} (R² = {uncached.r2:.3f}); with the cache "
        f"total(n) ≈ {polynomial_text(cached)} (R² = {cached.r2:.3f})."
    )


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
