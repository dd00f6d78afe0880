"""Sampling rules: logits in, probabilities out, every stage returned, no hidden random state.

Each rule is a pure function of a score vector (logits, with -inf for removed tokens) and is
followed by a softmax, so a page can draw the distribution after every rule:

- temperature T: softmax(logits / T) flattens (T > 1) or sharpens (T < 1); T = 0 is greedy;
- top-k: keep the k most probable tokens;
- top-p (nucleus, Holtzman et al. 2020): keep the fewest most probable tokens whose mass reaches p;
- min-p (Nguyen et al. 2024): keep the tokens with p >= min_p * p_max;
- typical (Meister et al. 2023): keep the tokens whose surprise -log p is closest to the entropy,
  up to mass typical_p; unlike the others it can drop the single most likely token.

The definitions follow Hugging Face transformers' warpers (``generation/logits_process.py``),
which the tests use as the oracle. One deliberate difference: on a tie at the k-th place, top-k
keeps exactly k tokens (the lowest ids among the tied), as llama.cpp and ``torch.topk`` keep exactly
k; transformers keeps every token tied with the k-th.

The order of the rules is data (``ORDERS``). Hugging Face applies temperature first and then the
truncations; llama.cpp's default chain truncates first and applies temperature last, so the same
knobs give different distributions. ``apply_penalties`` (repetition, presence, frequency) maps
logits to logits and comes before either chain, as it does in both libraries. Randomness enters
only in ``sample_token`` and ``empirical_counts``, through an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from core.errors import InputError
from core.validation import check_number, check_whole

# The rules in the order each library applies them (rules that are off are skipped).
ORDERS: dict[str, tuple[str, ...]] = {
    # transformers 5.23 GenerationMixin._get_logits_processor, after the penalties
    "hf": ("temperature", "top_k", "top_p", "min_p", "typical_p"),
    # llama.cpp's default sampler chain, after the penalties (DRY, top-n-sigma and XTC left out)
    "llama.cpp": ("top_k", "typical_p", "top_p", "min_p", "temperature"),
}
TRUNCATIONS = ("top_k", "top_p", "min_p", "typical_p")  # the rules that remove tokens
MAX_DRAWS = 10_000_000  # empirical_counts holds every draw in memory at once (8 bytes each)


@dataclass(frozen=True)
class SamplingStages:
    """Every distribution on the way from the logits to the one sampled, each (V,) float64 summing to 1.

    ``stages`` lists ("raw", raw) and then one (rule name, distribution) pair per rule that is on,
    in the order applied; its last distribution is ``final``. ``tempered`` and ``after_top_k`` are
    the distributions right after the temperature and top-k places of the chain (the distribution
    at that place when the rule is off). In the "hf" order that is softmax(logits / T), then that
    restricted to the top k. In the "llama.cpp" order top-k comes first, so ``after_top_k`` is the
    raw distribution restricted to the top k, and temperature comes last, so ``tempered`` is ``final``.
    """

    raw: torch.Tensor  # (V,) softmax of the logits
    tempered: torch.Tensor  # (V,) after the temperature place (hf: softmax(logits / T); one-hot at T = 0)
    after_top_k: torch.Tensor  # (V,) after the top-k place: what came before it, k most probable, renormalised
    final: torch.Tensor  # (V,) after every rule: what is sampled from
    stages: tuple[tuple[str, torch.Tensor], ...] = ()  # (name, (V,) distribution), raw first, final last
    order: str = "hf"  # a key of ORDERS

    @property
    def kept(self) -> torch.Tensor:
        """(V,) True for the tokens that survive truncation."""
        return self.final > 0

    @property
    def truncated_from(self) -> torch.Tensor:
        """(V,) the distribution the truncation rules start from: the stage before the first truncation
        (hf: tempered; llama.cpp: raw, or the penalised one when penalties are on)."""
        before = self.stages[0][1] if self.stages else self.raw
        for name, probs in self.stages:
            if name in TRUNCATIONS:
                return before
            before = probs
        return before

    def survivors(self) -> list[tuple[str, int, float]]:
        """(stage name, tokens with p > 0, mass kept of ``truncated_from``) for every stage, raw first."""
        base = self.truncated_from
        return [(name, int(torch.count_nonzero(p)), float(base[p > 0].sum())) for name, p in self.stages]

    @property
    def kept_mass(self) -> float:
        """Probability mass of the surviving tokens before any truncation (under ``truncated_from``)."""
        return float(self.truncated_from[self.kept].sum())


def validate_settings(
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None = None,
    typical_p: float | None = None,
    order: str = "hf",
) -> None:
    """Raise InputError (a ValueError), in words, for settings outside the allowed ranges."""
    check_number(temperature, "temperature", 0, math.inf, " (0 means greedy)")
    if top_k is not None:
        check_whole(top_k, "top_k (None keeps every token)", 1)
    for name, mass in (("top_p", top_p), ("typical_p", typical_p)):
        if mass is not None:
            check_number(mass, f"{name} (None keeps every token)", 0, 1)
            if mass == 0:
                raise InputError(f"{name} must be above 0 (it is the mass the kept tokens must reach), got 0.")
    if min_p is not None:
        check_number(min_p, "min_p (a fraction of the top probability; None keeps every token)", 0, 1)
    if order not in ORDERS:
        raise InputError(f"The order must be one of {', '.join(map(repr, ORDERS))}, got {order!r}.")


def validate_penalties(repetition: float, presence: float, frequency: float) -> None:
    """Raise InputError, in words, for penalties outside the allowed ranges."""
    check_number(repetition, "repetition penalty", 0, math.inf, " (1 is off, above 1 discourages repeats)")
    if repetition == 0:
        raise InputError("The repetition penalty must be above 0 (it divides positive logits), got 0.")
    # the OpenAI API's range for both
    check_number(presence, "presence penalty", -2, 2, " (0 is off)")
    check_number(frequency, "frequency penalty", -2, 2, " (0 is off)")


def _as_logits(logits: torch.Tensor) -> torch.Tensor:
    """(V,) float64 copy of ``logits``; ValueError for NaN, +inf, or nothing finite."""
    logits = logits.detach().to(torch.float64).reshape(-1)  # (V,)
    if torch.isnan(logits).any() or not torch.isfinite(logits).any() or (logits == math.inf).any():
        raise ValueError("logits must be finite numbers (-inf allowed for impossible tokens)")
    return logits


# ---------------------------------------------------------------------------------------------
# The rules. Each maps scores (V,) float64, -inf for removed tokens, at least one finite, to new
# scores; the stage's distribution is their softmax. Every rule keeps at least one finite score.


def _most_probable_first(scores: torch.Tensor) -> torch.Tensor:
    """Indices from highest to lowest score; ties keep the lower index first (stable)."""
    return torch.sort(scores, descending=True, stable=True).indices


def _keep_only(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``scores`` with every token outside ``keep`` (a bool mask or indices) set to -inf."""
    out = torch.full_like(scores, -math.inf)
    out[keep] = scores[keep]
    return out


def temperature_rule(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """scores / T, shifted so the top score is 0; at T = 0 only the argmax (lowest id on ties) remains."""
    if temperature == 0:
        return _keep_only(torch.zeros_like(scores), torch.argmax(scores))  # argmax: first maximal index
    # shift by the max first: scores / T alone overflows to inf (softmax NaN) for huge logits or tiny T
    return (scores - scores.max()) / temperature


def top_k_rule(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k highest scores (the lowest ids among ties at the k-th place)."""
    if k >= scores.numel():
        return scores
    return _keep_only(scores, _most_probable_first(scores)[:k])


def top_p_rule(scores: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the fewest most probable tokens whose probability reaches p (at least one)."""
    if p >= 1:
        return scores
    probs = torch.softmax(scores, dim=0)  # (V,)
    order = _most_probable_first(scores)
    before = torch.cumsum(probs[order], dim=0) - probs[order]  # mass of the more probable tokens
    n_keep = max(1, int((before < p).sum()))  # a token is kept while the ones before it fall short of p
    return _keep_only(scores, order[:n_keep])


def min_p_rule(scores: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep the tokens with probability >= min_p * (top probability); ties at the threshold are kept."""
    probs = torch.softmax(scores, dim=0)  # (V,)
    keep = probs >= min_p * probs.max()
    keep[torch.argmax(probs)] = True  # transformers' min_tokens_to_keep = 1 (already true for min_p <= 1)
    return _keep_only(scores, keep)


def typical_rule(scores: torch.Tensor, mass: float) -> torch.Tensor:
    """Keep the tokens whose surprise -log p is closest to the entropy H, up to probability ``mass``.

    Tokens are ranked by |-log p - H|; the kept set is the shortest prefix of that ranking whose
    mass reaches ``mass``, widened to every token as close to H as the last one (as transformers).
    """
    if mass >= 1:
        return scores
    logp = torch.log_softmax(scores, dim=0)  # (V,), -inf for removed tokens
    p = logp.exp()
    entropy = -(p * logp).nansum()  # 0 * -inf is NaN: removed tokens contribute nothing
    distance = (-logp - entropy).abs()  # (V,), +inf for removed tokens
    order = torch.sort(distance, stable=True).indices  # most typical first
    cum = torch.cumsum(p[order], dim=0)
    last = min(int((cum < mass).sum()), scores.numel() - 1)  # first position whose mass reaches `mass`
    keep = distance <= distance[order[last]]
    keep[order[0]] = True  # min_tokens_to_keep = 1
    return _keep_only(scores, keep)


# ---------------------------------------------------------------------------------------------
# The chain


def next_token_distribution(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    typical_p: float | None = None,
    order: str = "hf",
) -> SamplingStages:
    """logits: (V,). Returns SamplingStages, each stage a (V,) float64 tensor summing to 1.

    None turns a truncation rule off; temperature 1, top_p 1 and typical_p 1 change nothing and
    are left out of ``stages``, as transformers leaves them out of its chain. ``order`` is "hf"
    (temperature first) or "llama.cpp" (temperature last: at T = 0 the argmax of what the
    truncations kept, which differs from the overall argmax only when typical_p drops it).
    """
    validate_settings(temperature, top_k, top_p, min_p, typical_p, order)
    scores = _as_logits(logits)  # (V,)
    raw = torch.softmax(scores, dim=0)
    rules = {
        "temperature": (temperature != 1, lambda s: temperature_rule(s, temperature)),
        "top_k": (top_k is not None, lambda s: top_k_rule(s, top_k)),
        "top_p": (top_p is not None and top_p < 1, lambda s: top_p_rule(s, top_p)),
        "min_p": (min_p is not None, lambda s: min_p_rule(s, min_p)),
        "typical_p": (typical_p is not None and typical_p < 1, lambda s: typical_rule(s, typical_p)),
    }
    stages: list[tuple[str, torch.Tensor]] = [("raw", raw)]
    after: dict[str, torch.Tensor] = {}  # the distribution right after each place of the chain
    for name in ORDERS[order]:
        on, rule = rules[name]
        if on:
            scores = rule(scores)
            stages.append((name, torch.softmax(scores, dim=0)))
        after[name] = stages[-1][1]
    return SamplingStages(
        raw=raw,
        tempered=after["temperature"],
        after_top_k=after["top_k"],
        final=stages[-1][1],
        stages=tuple(stages),
        order=order,
    )


def apply_penalties(
    logits: torch.Tensor,
    context_ids: Sequence[int] | torch.Tensor,
    repetition: float = 1.0,
    presence: float = 0.0,
    frequency: float = 0.0,
) -> torch.Tensor:
    """New (V,) float64 logits that discourage the tokens already in ``context_ids``.

    - repetition θ (Keskar et al. 2019, CTRL; transformers' RepetitionPenaltyLogitsProcessor): a
      token seen at least once has its logit divided by θ if positive, multiplied by θ if negative;
    - presence α_p and frequency α_f (the OpenAI API): logit - α_p·[count > 0] - α_f·count.

    Repetition comes first, as in llama.cpp's penalties sampler. 1.0, 0.0, 0.0 are off. Pass the
    window you want penalised (llama.cpp uses the last 64 tokens, transformers the whole context).
    """
    validate_penalties(repetition, presence, frequency)
    scores = _as_logits(logits)  # (V,)
    V = scores.numel()
    if isinstance(context_ids, torch.Tensor):
        context_ids = context_ids.reshape(-1).tolist()
    ids = [check_whole(i, f"context token id (vocabulary of {V})", 0, V - 1) for i in context_ids]
    counts = torch.bincount(torch.tensor(ids, dtype=torch.long), minlength=V).to(torch.float64)  # (V,)
    seen = counts > 0
    penalised = torch.where(scores < 0, scores * repetition, scores / repetition)
    out = torch.where(seen, penalised, scores) - presence * seen.to(torch.float64) - frequency * counts
    # a finite logit stays finite (θ < 1 can overflow a huge one); an impossible token stays impossible
    big = torch.finfo(torch.float64).max
    return torch.where(torch.isfinite(scores), out.clamp(-big, big), scores)


@dataclass(frozen=True)
class SamplingSettings:
    """Every knob of one draw: the penalties, then the chain in ``order``. Defaults change nothing.

    ``stages(logits, context_ids)`` is the one place a page, ``sample_step`` and ``core.generate``
    turn a model's logits into the distribution a token is drawn from. Out-of-range knobs raise
    InputError in words when the settings are made.
    """

    temperature: float = 1.0  # 0 = greedy
    top_k: int | None = None  # None = keep every token
    top_p: float | None = None  # None (or 1) = keep every token
    min_p: float | None = None  # None (or 0) = keep every token
    typical_p: float | None = None  # None (or 1) = keep every token
    order: str = "hf"  # a key of ORDERS: "hf" (temperature first) or "llama.cpp" (temperature last)
    repetition: float = 1.0  # CTRL repetition penalty; 1 = off
    presence: float = 0.0  # OpenAI presence penalty; 0 = off
    frequency: float = 0.0  # OpenAI frequency penalty; 0 = off

    def __post_init__(self):
        validate_settings(self.temperature, self.top_k, self.top_p, self.min_p, self.typical_p, self.order)
        validate_penalties(self.repetition, self.presence, self.frequency)

    @property
    def penalised(self) -> bool:
        return self.repetition != 1 or self.presence != 0 or self.frequency != 0

    @property
    def has_extras(self) -> bool:
        """Any knob beyond temperature, top-k and top-p is on (min-p, typical, a penalty, llama.cpp's order)."""
        return bool(self.min_p) or (self.typical_p or 1) < 1 or self.penalised or self.order != "hf"

    def stages(self, logits: torch.Tensor, context_ids: Sequence[int] = ()) -> SamplingStages:
        """logits (V,) after ``context_ids`` -> every stage; with penalties on, a "penalties" stage follows "raw".

        ``raw`` stays the model's own distribution (the one log p is reported under).
        """
        min_p = self.min_p if self.min_p else None  # 0 keeps every token: off, as transformers skips it
        scores = (
            apply_penalties(logits, context_ids, self.repetition, self.presence, self.frequency)
            if self.penalised
            else logits
        )
        chain = next_token_distribution(
            scores, self.temperature, self.top_k, self.top_p, min_p, self.typical_p, self.order
        )
        if not self.penalised:
            return chain
        raw = torch.softmax(_as_logits(logits), dim=0)
        stages = (("raw", raw), ("penalties", chain.raw), *chain.stages[1:])
        return replace(chain, raw=raw, stages=stages)


# ---------------------------------------------------------------------------------------------
# Drawing


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor | float:
    """Half the L1 distance between distributions along the last axis (0 = same, 1 = disjoint).

    A float for two 1-D distributions (draws' frequencies against the probabilities they came from).
    """
    tv = 0.5 * (p - q).abs().sum(dim=-1)
    return float(tv) if tv.dim() == 0 else tv


def sample_token(probs: torch.Tensor, generator: torch.Generator) -> int:
    """Draw one index from ``probs`` (V,) using only ``generator``'s random stream."""
    return int(torch.multinomial(probs.to(torch.float64), 1, generator=generator))


def empirical_counts(probs: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """(V,) int64: how often each token comes up in ``n`` independent draws from ``probs`` (V,).

    One multinomial call with replacement, so it costs one draw's overhead, not n; the frequencies
    counts / n approach ``probs`` as n grows (by about sqrt(p (1 - p) / n) per token).
    """
    n = check_whole(n, "number of draws", 1, MAX_DRAWS)
    probs = probs.detach().to(torch.float64).reshape(-1)  # (V,)
    if not torch.isfinite(probs).all() or (probs < 0).any() or not probs.sum() > 0:
        raise ValueError("probs must be finite, non-negative and not all zero")
    draws = torch.multinomial(probs, n, replacement=True, generator=generator)  # (n,)
    return torch.bincount(draws, minlength=probs.numel())
