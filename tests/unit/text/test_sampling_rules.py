"""The sampler lab's rules against Hugging Face transformers, the definitions and the statistics.

- each rule (temperature, top-k, top-p, min-p, typical, repetition penalty) against transformers'
  own warper on random logits, ties and extremes: softmax of the warped scores vs our stage;
- presence and frequency penalties against the OpenAI definition, written out here;
- the "hf" order against the chain transformers itself builds (``_get_logits_processor``), and the
  "llama.cpp" order against transformers' warpers applied in llama.cpp's order;
- Hypothesis: every stage of both orders is a distribution, supports are nested, one token survives;
- ``empirical_counts``: a chi-square test with a fixed seed and a total-variation bound that holds
  for any seed.

transformers is a test dependency only (slow to import, ~3-5 s), so it is imported here and nowhere
in core; HF_HUB_OFFLINE keeps it from reaching the network.
"""

from __future__ import annotations

import math
import os
import random
from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.text.sampling import (
    MAX_DRAWS,
    ORDERS,
    SamplingSettings,
    apply_penalties,
    empirical_counts,
    next_token_distribution,
    validate_settings,
)
from tests.unit.text.test_sampling import chi2_critical, chi_square

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: never reach the network

from transformers import GenerationConfig  # noqa: E402
from transformers.generation.logits_process import (  # noqa: E402
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)
from transformers.generation.utils import GenerationMixin  # noqa: E402

F64 = torch.float64
NO_IDS = torch.zeros((1, 1), dtype=torch.long)  # the warpers do not read input_ids
OUR_NAME = {
    TemperatureLogitsWarper: "temperature",
    TopKLogitsWarper: "top_k",
    TopPLogitsWarper: "top_p",
    MinPLogitsWarper: "min_p",
    TypicalLogitsWarper: "typical_p",
}


def hf_scores(processor, scores: torch.Tensor, input_ids: torch.Tensor = NO_IDS) -> torch.Tensor:
    """(V,) what a transformers processor makes of the scores (V,) (it works on a batch of one)."""
    return processor(input_ids, scores[None, :].clone())[0]


def hf_distribution(processor, scores: torch.Tensor) -> torch.Tensor:
    return torch.softmax(hf_scores(processor, scores), dim=0)


def support(p: torch.Tensor) -> set[int]:
    return set(torch.nonzero(p > 0).flatten().tolist())


def assert_same_distribution(ours: torch.Tensor, theirs: torch.Tensor, what: str = "") -> None:
    assert ours.dtype == F64 and ours.shape == theirs.shape, what
    assert support(ours) == support(theirs), what  # truncation is all or nothing
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12), f"{what}: {ours} vs {theirs}"


def logit_cases() -> dict[str, torch.Tensor]:
    """Random logits of several widths and scales, ties, and the extremes."""
    g = torch.Generator().manual_seed(7)
    cases = {}
    for i in range(9):
        V, scale = (5, 27, 300)[i % 3], (0.5, 2.0, 6.0)[i // 3]
        cases[f"gauss-V{V}-x{scale}"] = torch.randn(V, generator=g, dtype=F64) * scale
    cases["integer ties"] = torch.randint(-2, 3, (20,), generator=g).to(F64)
    cases["uniform"] = torch.zeros(7, dtype=F64)
    cases["one-hot"] = torch.tensor([-math.inf, 0.0, -math.inf, -math.inf, -math.inf], dtype=F64)
    cases["near one-hot"] = torch.tensor([0.0, 0.0, 40.0, 0.0, 0.0, 0.0], dtype=F64)
    cases["wide"] = torch.tensor([300.0, 0.0, -300.0, 150.0, -150.0, 299.0], dtype=F64)
    with_impossible = torch.randn(12, generator=g, dtype=F64)
    with_impossible[[0, 3, 4, 9]] = -math.inf
    cases["some impossible"] = with_impossible
    return cases


CASES = logit_cases()
NO_TIES = [name for name in CASES if name.startswith("gauss")]


# ---------------------------------------------------------------------------------------------
# One rule at a time against transformers' warper


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("temperature", [0.05, 0.3, 0.7, 1.5, 3.0])
def test_temperature_matches_transformers(name, temperature):
    logits = CASES[name]
    s = next_token_distribution(logits, temperature)
    assert [n for n, _ in s.stages] == ["raw", "temperature"]
    assert_same_distribution(s.tempered, hf_distribution(TemperatureLogitsWarper(temperature), logits), name)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("mass", [0.05, 0.2, 0.5, 0.9, 0.99])
def test_typical_matches_transformers(name, mass):
    logits = CASES[name]
    s = next_token_distribution(logits, typical_p=mass)
    assert [n for n, _ in s.stages] == ["raw", "typical_p"]
    assert_same_distribution(s.final, hf_distribution(TypicalLogitsWarper(mass=mass), logits), name)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("min_p", [0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_min_p_matches_transformers_ties_included(name, min_p):
    logits = CASES[name]
    s = next_token_distribution(logits, min_p=min_p)
    assert [n for n, _ in s.stages] == ["raw", "min_p"]
    assert_same_distribution(s.final, hf_distribution(MinPLogitsWarper(min_p), logits), name)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.77, 0.9, 0.99])
def test_top_p_matches_transformers(name, top_p):
    """Same rule (keep a token while the more probable ones fall short of p); ties may differ in who."""
    logits = CASES[name]
    ours = next_token_distribution(logits, top_p=top_p).final
    theirs = hf_distribution(TopPLogitsWarper(top_p), logits)
    if name in NO_TIES:
        assert_same_distribution(ours, theirs, name)
    else:  # transformers' unstable sort picks any of the tied tokens; the kept values are the same
        assert len(support(ours)) == len(support(theirs))
        assert sorted(ours.tolist()) == pytest.approx(sorted(theirs.tolist()), abs=1e-12)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("k", [1, 2, 3, 6, 10, 400])
def test_top_k_matches_transformers_but_for_ties_at_the_kth_place(name, k):
    logits = CASES[name]
    ours = next_token_distribution(logits, top_k=k).after_top_k
    theirs = hf_distribution(TopKLogitsWarper(k), logits)
    finite = int(torch.isfinite(logits).sum())
    assert len(support(ours)) == min(k, finite)  # exactly k, however many tie
    assert support(ours) <= support(theirs)
    kth = min(float(logits[i]) for i in support(ours))
    extra = support(theirs) - support(ours)
    assert all(float(logits[i]) == kth for i in extra)  # transformers also keeps the tokens tied with the k-th
    if not extra:
        assert_same_distribution(ours, theirs, name)
    else:  # on our tokens, the same distribution renormalised
        kept = sorted(support(ours))
        assert ours[kept].tolist() == pytest.approx((theirs[kept] / theirs[kept].sum()).tolist(), abs=1e-12)
    if name in NO_TIES:
        assert not extra


def test_top_k_tie_at_the_kth_place_keeps_exactly_k_lowest_ids_first():
    logits = torch.tensor([2.0, 1.0, 1.0, 0.0], dtype=F64)
    assert support(next_token_distribution(logits, top_k=2).final) == {0, 1}
    assert support(hf_distribution(TopKLogitsWarper(2), logits)) == {0, 1, 2}  # the documented difference


@pytest.mark.parametrize("theta", [0.5, 0.9, 1.0, 1.3, 2.0, 10.0])
def test_repetition_penalty_matches_transformers_exactly(theta):
    g = torch.Generator().manual_seed(11)
    logits = torch.randn(30, generator=g, dtype=F64) * 3
    logits[[2, 5]] = 0.0  # a zero logit is left alone either way
    logits[7] = -math.inf
    context = torch.randint(0, 12, (40,), generator=g)  # ids 0..11 repeat, the rest never appear
    context[0] = 7  # an impossible token in the context stays impossible
    ours = apply_penalties(logits, context.tolist(), repetition=theta)
    theirs = hf_scores(RepetitionPenaltyLogitsProcessor(theta), logits, context[None, :])
    assert torch.equal(ours, theirs)
    assert torch.equal(ours[12:], logits[12:])  # tokens outside the context are untouched


# ---------------------------------------------------------------------------------------------
# Presence and frequency: no reference warper, so the OpenAI definition written out


def openai_penalties(logits: list[float], context: list[int], presence: float, frequency: float) -> list[float]:
    """mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence, token by token."""
    out = []
    for j, mu in enumerate(logits):
        c = context.count(j)
        out.append(mu - c * frequency - (1.0 if c > 0 else 0.0) * presence)
    return out


@pytest.mark.parametrize("presence, frequency", [(0.0, 0.0), (0.6, 0.0), (0.0, 0.4), (1.5, -0.3), (-2.0, 2.0)])
def test_presence_and_frequency_follow_the_openai_definition(presence, frequency):
    rng = random.Random(5)
    logits = [rng.gauss(0, 2) for _ in range(15)]
    context = [rng.choice([0, 1, 1, 2, 2, 2, 9]) for _ in range(25)]  # counts 0..many
    ours = apply_penalties(torch.tensor(logits, dtype=F64), context, presence=presence, frequency=frequency)
    assert ours.tolist() == pytest.approx(openai_penalties(logits, context, presence, frequency), abs=1e-12)


def test_repetition_comes_before_presence_and_frequency():
    """llama.cpp's penalties sampler: divide or multiply by θ, then subtract the OpenAI terms."""
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0], dtype=F64)
    context = [0, 0, 1, 2]
    got = apply_penalties(logits, context, repetition=2.0, presence=0.5, frequency=0.25)
    # token 0: 2/2 - 0.5 - 2*0.25; token 1: -1*2 - 0.5 - 0.25; token 2: 0.5/2 - 0.5 - 0.25; token 3 unseen
    assert got.tolist() == pytest.approx([0.0, -2.75, -0.5, 3.0], abs=1e-15)


def test_penalties_keep_finite_logits_finite_and_impossible_ones_impossible():
    logits = torch.tensor([1.5e308, -1.5e308, -math.inf, 0.0], dtype=F64)
    for theta in (0.1, 10.0):
        out = apply_penalties(logits, [0, 1, 2, 3], repetition=theta, presence=-2.0, frequency=-2.0)
        assert torch.isfinite(out[[0, 1, 3]]).all() and out[2] == -math.inf
        s = next_token_distribution(out, 0.5, 2, 0.9, 0.1, 0.9)
        assert not torch.isnan(s.final).any() and float(s.final.sum()) == pytest.approx(1.0)


def test_penalties_are_off_by_default_and_with_an_empty_context():
    logits = torch.randn(9, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.equal(apply_penalties(logits, [1, 1, 4]), logits)
    assert torch.equal(apply_penalties(logits, [], repetition=1.3, presence=0.5, frequency=0.5), logits)
    assert torch.equal(apply_penalties(logits, torch.tensor([3])), logits)  # a tensor context works too


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(repetition=0.0), "repetition penalty must be above 0"),
        (dict(repetition=-1.0), "repetition penalty must be a number"),
        (dict(repetition=float("nan")), "repetition penalty must be a number"),
        (dict(presence=2.5), "presence penalty must be a number from -2 to 2"),
        (dict(frequency=-3.0), "frequency penalty must be a number from -2 to 2"),
        (dict(frequency=True), "frequency penalty must be a number"),
        (dict(context_ids=[0, 9]), "context token id .* from 0 to 8"),
        (dict(context_ids=[-1]), "context token id"),
        (dict(context_ids=[1.0]), "context token id"),
    ],
)
def test_bad_penalties_are_refused_in_words(kwargs, words):
    context = kwargs.pop("context_ids", [1, 2])
    with pytest.raises(InputError, match=words):
        apply_penalties(torch.zeros(9), context, **kwargs)


# ---------------------------------------------------------------------------------------------
# The chains


class _ChainBuilder(GenerationMixin):
    """Just enough of a model for transformers' private ``_get_logits_processor`` (5.23) to run."""

    config = SimpleNamespace(is_encoder_decoder=False)


def transformers_chain(temperature, top_k, top_p, min_p, typical_p, repetition):
    """The processors transformers applies for these knobs, in its order."""
    config = GenerationConfig(
        do_sample=True,
        temperature=temperature,
        top_k=top_k,
        top_p=1.0 if top_p is None else top_p,
        min_p=min_p,
        typical_p=1.0 if typical_p is None else typical_p,
        repetition_penalty=repetition,
    )
    return list(_ChainBuilder()._get_logits_processor(config, input_ids_seq_length=1, device="cpu"))


def _chain_cases():
    rng = random.Random(2025)
    cases = []
    for _ in range(60):
        cases.append(
            dict(
                V=rng.choice([5, 27, 100]),
                temperature=rng.choice([0.5, 0.8, 1.0, 1.7, 3.0]),
                top_k=rng.choice([None, 1, 3, 8, 50]),
                top_p=rng.choice([None, 0.3, 0.7, 0.95, 1.0]),
                min_p=rng.choice([None, 0.0, 0.05, 0.2]),
                typical_p=rng.choice([None, 0.4, 0.9, 1.0]),
                repetition=rng.choice([1.0, 1.0, 1.3, 0.8]),
            )
        )
    return cases


@pytest.mark.parametrize("case", _chain_cases())
def test_hf_order_is_the_chain_transformers_builds(case):
    g = torch.Generator().manual_seed(case["V"] * 1000 + len(str(case)))
    logits = torch.randn(case["V"], generator=g, dtype=F64) * 2.5
    context = torch.randint(0, case["V"], (6,), generator=g)
    knobs = {k: case[k] for k in ("temperature", "top_k", "top_p", "min_p", "typical_p")}
    processors = transformers_chain(**knobs, repetition=case["repetition"])

    ours_logits = apply_penalties(logits, context, repetition=case["repetition"])
    s = next_token_distribution(ours_logits, **knobs, order="hf")
    scores = logits
    if isinstance(processors[0] if processors else None, RepetitionPenaltyLogitsProcessor):
        scores = hf_scores(processors.pop(0), scores, context[None, :])
    assert torch.equal(ours_logits, scores)
    assert [name for name, _ in s.stages] == ["raw"] + [OUR_NAME[type(p)] for p in processors]
    for (name, ours), processor in zip(s.stages[1:], processors, strict=True):
        scores = hf_scores(processor, scores)
        assert_same_distribution(ours, torch.softmax(scores, dim=0), name)
    assert s.final is s.stages[-1][1]


@pytest.mark.parametrize("case", _chain_cases()[:30])
def test_llama_cpp_order_is_the_same_rules_truncating_before_temperature(case):
    g = torch.Generator().manual_seed(case["V"])
    logits = torch.randn(case["V"], generator=g, dtype=F64) * 2.5
    knobs = {k: case[k] for k in ("temperature", "top_k", "top_p", "min_p", "typical_p")}
    s = next_token_distribution(logits, **knobs, order="llama.cpp")
    warper = {
        "top_k": lambda: TopKLogitsWarper(knobs["top_k"]),
        "typical_p": lambda: TypicalLogitsWarper(mass=knobs["typical_p"]),
        "top_p": lambda: TopPLogitsWarper(knobs["top_p"]),
        "min_p": lambda: MinPLogitsWarper(knobs["min_p"]),
        "temperature": lambda: TemperatureLogitsWarper(knobs["temperature"]),
    }
    names = [name for name, _ in s.stages]
    assert names[0] == "raw" and names[1:] == [n for n in ORDERS["llama.cpp"] if n in names]
    scores = logits
    for name, ours in s.stages[1:]:
        scores = hf_scores(warper[name](), scores)
        assert_same_distribution(ours, torch.softmax(scores, dim=0), name)


def test_the_two_orders_give_different_distributions_for_the_same_knobs():
    """Temperature 2 with top-p 0.5: flattening first lets more tokens into the nucleus."""
    p = torch.tensor([0.4, 0.25, 0.15, 0.1, 0.06, 0.04], dtype=F64)
    hf = next_token_distribution(p.log(), 2.0, None, 0.5, order="hf")
    llama = next_token_distribution(p.log(), 2.0, None, 0.5, order="llama.cpp")
    # by hand: at T = 2 the probabilities become sqrt(p), renormalised
    flat = p.sqrt() / p.sqrt().sum()  # (0.277, 0.219, 0.170, ...): 0.277 + 0.219 < 0.5, so three tokens
    assert hf.final.tolist() == pytest.approx((flat[:3] / flat[:3].sum()).tolist() + [0, 0, 0], abs=1e-12)
    # llama.cpp: 0.4 < 0.5 <= 0.4 + 0.25 keeps two tokens of the raw distribution, then T = 2
    assert llama.final.tolist() == pytest.approx((p[:2].sqrt() / p[:2].sqrt().sum()).tolist() + [0] * 4, abs=1e-12)
    assert support(hf.final) == {0, 1, 2} and support(llama.final) == {0, 1}
    assert 0.5 * float((hf.final - llama.final).abs().sum()) > 0.1  # total variation
    assert [n for n, _ in hf.stages] == ["raw", "temperature", "top_p"]
    assert [n for n, _ in llama.stages] == ["raw", "top_p", "temperature"]


def test_tempered_and_after_top_k_in_each_order():
    p = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=F64)
    hf = next_token_distribution(p.log(), 0.5, 3, None, order="hf")
    sharp = p**2 / (p**2).sum()  # T = 0.5 squares the probabilities
    assert hf.tempered.tolist() == pytest.approx(sharp.tolist(), abs=1e-12)
    assert hf.after_top_k.tolist() == pytest.approx((sharp * (p > 0.12)).div((sharp * (p > 0.12)).sum()).tolist())
    assert hf.kept_mass == pytest.approx(float(sharp[:3].sum()))  # under the tempered distribution

    llama = next_token_distribution(p.log(), 0.5, 3, None, order="llama.cpp")
    top3 = p[:3] / p[:3].sum()
    assert llama.after_top_k.tolist() == pytest.approx(top3.tolist() + [0, 0], abs=1e-12)  # top-k of raw
    assert llama.tempered is llama.final  # temperature is the last rule
    assert llama.final.tolist() == pytest.approx((p[:3] ** 2 / (p[:3] ** 2).sum()).tolist() + [0, 0], abs=1e-12)
    assert llama.kept_mass == pytest.approx(0.85)  # under the raw distribution, which truncation saw
    assert torch.equal(llama.truncated_from, llama.raw) and torch.equal(hf.truncated_from, hf.tempered)


def test_off_knobs_are_left_out_and_positional_calls_still_work():
    logits = torch.randn(27, generator=torch.Generator().manual_seed(3))
    s = next_token_distribution(logits, 1.0, None, 1.0, None, 1.0)
    assert [n for n, _ in s.stages] == ["raw"] and s.final is s.raw and s.tempered is s.raw
    old = next_token_distribution(logits, 0.7, 5, 0.9)  # the signature callers use
    assert [n for n, _ in old.stages] == ["raw", "temperature", "top_k", "top_p"]
    assert torch.equal(old.final, next_token_distribution(logits, 0.7, 5, 0.9, order="hf").final)
    assert old.order == "hf" and old.after_top_k is old.stages[2][1]


def test_typical_can_drop_the_most_likely_token():
    """p = (0.4, 0.12 x 5): H = 1.639 nats; -log 0.4 = 0.916 is 0.72 from H, -log 0.12 = 2.120 only 0.48."""
    p = torch.tensor([0.4] + [0.12] * 5, dtype=F64)
    entropy = -float((p * p.log()).sum())
    assert abs(-math.log(0.12) - entropy) < abs(-math.log(0.4) - entropy)
    s = next_token_distribution(p.log(), typical_p=0.3)
    # 0.12 + 0.12 < 0.3 <= 0.36, and the other two 0.12s are just as typical: all five, not the 0.4
    assert s.final.tolist() == pytest.approx([0.0] + [0.2] * 5, abs=1e-12)
    assert_same_distribution(s.final, hf_distribution(TypicalLogitsWarper(mass=0.3), p.log()))


def test_temperature_zero_is_greedy_in_both_orders():
    p = torch.tensor([0.4] + [0.12] * 5, dtype=F64)
    for order in ORDERS:
        s = next_token_distribution(p.log(), 0.0, 3, 0.9, 0.1, order=order)
        assert s.final.tolist() == [1.0, 0, 0, 0, 0, 0], order
    # with typical_p dropping the top token, llama.cpp's last-place greedy picks among the survivors
    hf = next_token_distribution(p.log(), 0.0, typical_p=0.3, order="hf")
    llama = next_token_distribution(p.log(), 0.0, typical_p=0.3, order="llama.cpp")
    assert hf.final.tolist() == [1.0, 0, 0, 0, 0, 0]
    assert llama.final.tolist() == [0, 1.0, 0, 0, 0, 0]  # lowest id among the tied survivors


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("temperature", [0.0, 1e-300, 1e-3, 1.0, 1e6])
def test_huge_logits_and_tiny_temperatures_give_no_nan(order, temperature):
    logits = torch.tensor([1.7e308, -1.7e308, 0.0, -math.inf, 1.7e308, 5e-324], dtype=F64)
    s = next_token_distribution(logits, temperature, 4, 0.9, 0.01, 0.95, order=order)
    for name, p in s.stages:
        assert not torch.isnan(p).any() and float(p.sum()) == pytest.approx(1.0, abs=1e-12), name
    assert s.final[3] == 0 and s.kept.any()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(min_p=-0.1), "min_p .* must be a number from 0 to 1"),
        (dict(min_p=1.5), "min_p"),
        (dict(min_p=float("nan")), "min_p"),
        (dict(typical_p=0.0), "typical_p must be above 0"),
        (dict(typical_p=1.01), "typical_p .* must be a number from 0 to 1"),
        (dict(order="HF"), "order must be one of 'hf', 'llama.cpp'"),
        (dict(order="llama"), "order must be one of"),
    ],
)
def test_bad_new_settings_are_refused_in_words(kwargs, words):
    with pytest.raises(InputError, match=words):
        validate_settings(1.0, None, None, **kwargs)
    with pytest.raises(InputError, match=words):
        next_token_distribution(torch.zeros(4), **kwargs)


# ---------------------------------------------------------------------------------------------
# Properties of both chains, any logits, any knobs

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
logit_vectors = st.lists(st.one_of(finite, finite, finite, st.just(-math.inf)), min_size=1, max_size=30).filter(
    lambda xs: any(math.isfinite(x) for x in xs)
)
temperatures = st.one_of(st.just(0.0), st.just(1.0), st.floats(1e-300, 1e-3), st.floats(1e-3, 1e6))
masses = st.one_of(st.none(), st.just(1.0), st.floats(min_value=1e-12, max_value=1.0))
TINY = torch.finfo(F64).tiny  # below this a probability is subnormal: a rounding away from 0


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    values=logit_vectors,
    temperature=temperatures,
    top_k=st.one_of(st.none(), st.integers(1, 40)),
    top_p=masses,
    min_p=st.one_of(st.none(), st.floats(0.0, 1.0)),
    typical_p=masses,
    order=st.sampled_from(list(ORDERS)),
)
def test_every_stage_is_a_distribution_and_truncation_only_removes(
    values, temperature, top_k, top_p, min_p, typical_p, order
):
    logits = torch.tensor(values, dtype=F64)
    s = next_token_distribution(logits, temperature, top_k, top_p, min_p, typical_p, order)
    names = [name for name, _ in s.stages]
    assert names[0] == "raw" and names[1:] == [n for n in ORDERS[order] if n in names]
    assert s.final is s.stages[-1][1]
    possible = {i for i, x in enumerate(values) if math.isfinite(x)}
    for name, p in s.stages:
        assert p.dtype == F64 and p.shape == (len(values),), name
        assert not torch.isnan(p).any() and (p >= 0).all(), f"{name}: {p}"
        assert abs(float(p.sum()) - 1.0) <= 1e-9, f"{name} sums to {float(p.sum())!r}"
        assert support(p) <= possible, name  # impossible tokens stay impossible
    for (_, before), (name, after) in zip(s.stages, s.stages[1:], strict=False):
        if name != "temperature":
            assert support(after) <= support(before), name  # a truncation only removes tokens
            if name != "typical_p":  # and removes the least probable first (typical may drop the top)
                dropped = support(before) - support(after)
                if dropped:
                    assert max(float(before[i]) for i in dropped) <= min(float(before[i]) for i in support(after))
        elif temperature == 0:
            assert len(support(after)) == 1 and support(after) <= support(before)
        elif temperature < 1:  # sharpening: tokens may vanish, none appears but by rounding near 0
            assert all(float(after[i]) < TINY for i in support(after) - support(before)), temperature
        else:  # flattening: underflowed tokens may reappear, none vanishes but by rounding near 0
            assert all(float(before[i]) < TINY for i in support(before) - support(after)), temperature
    assert s.kept.any() and int(s.kept.sum()) == len(support(s.final))
    if top_k is not None:
        assert len(support(s.final)) <= top_k
    assert 0 < s.kept_mass <= 1 + 1e-9


# ---------------------------------------------------------------------------------------------
# Drawing N times


def lab_distribution() -> torch.Tensor:
    """A (27,) distribution with zeros: a temperature-0.8 nucleus of random logits."""
    logits = torch.randn(27, generator=torch.Generator().manual_seed(42), dtype=F64) * 1.5
    return next_token_distribution(logits, 0.8, None, 0.97).final


def test_empirical_counts_are_one_seeded_multinomial():
    probs = lab_distribution()
    counts = empirical_counts(probs, 5000, torch.Generator().manual_seed(9))
    assert counts.dtype == torch.int64 and counts.shape == probs.shape and int(counts.sum()) == 5000
    assert int(counts[probs == 0].sum()) == 0  # a truncated token is never drawn
    assert torch.equal(counts, empirical_counts(probs, 5000, torch.Generator().manual_seed(9)))
    assert not torch.equal(counts, empirical_counts(probs, 5000, torch.Generator().manual_seed(10)))
    one_hot = torch.tensor([0.0, 0.0, 1.0])
    assert empirical_counts(one_hot, 7, torch.Generator().manual_seed(0)).tolist() == [0, 0, 7]


def test_empirical_frequencies_pass_a_chi_square_test_at_the_0_1_percent_level():
    probs = lab_distribution()
    assert 2 <= len(support(probs)) <= 31  # the degrees of freedom chi2_critical's table covers
    counts = empirical_counts(probs, 20_000, torch.Generator().manual_seed(2024)).to(F64).numpy()
    stat, df = chi_square(counts, probs.numpy())
    assert stat < chi2_critical(df), f"chi2 = {stat:.1f} with {df} df"
    # the test has power: the same counts are far from the untruncated, untempered distribution
    raw = torch.softmax(torch.randn(27, generator=torch.Generator().manual_seed(42), dtype=F64) * 1.5, 0)
    wrong, _ = chi_square(counts, raw.numpy())
    assert wrong > chi2_critical(26)


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000, 1_000_000])
def test_empirical_frequencies_converge_in_total_variation(n):
    """TV(counts / n, p) <= E[TV] + t with probability >= 1 - delta, for any seed.

    E[TV] = 1/2 sum_i E|f_i - p_i| <= 1/2 sum_i sqrt(p_i (1 - p_i) / n) <= 1/2 sqrt((m - 1) / n) for a
    support of m tokens (Cauchy-Schwarz); one draw moves TV by at most 1/n, so McDiarmid's inequality
    gives P(TV >= E[TV] + t) <= exp(-2 n t^2): t = sqrt(ln(1 / delta) / (2 n)) with delta = 1e-9.
    """
    probs = lab_distribution()
    m = len(support(probs))
    counts = empirical_counts(probs, n, torch.Generator().manual_seed(n))
    tv = 0.5 * float((counts.to(F64) / n - probs).abs().sum())
    bound = 0.5 * math.sqrt((m - 1) / n) + math.sqrt(math.log(1e9) / (2 * n))
    assert tv <= bound, f"TV {tv:.4f} > {bound:.4f} at n = {n}"
    if n == 1_000_000:
        assert bound < 0.01  # and the bound itself shrinks like 1 / sqrt(n)


@pytest.mark.parametrize("n", [0, -1, 2.5, True, MAX_DRAWS + 1])
def test_bad_draw_counts_are_refused_in_words(n):
    with pytest.raises(InputError, match="number of draws must be a whole number from 1"):
        empirical_counts(torch.tensor([0.5, 0.5]), n, torch.Generator().manual_seed(0))


def test_probs_that_are_not_a_distribution_are_refused():
    for bad in ([0.5, -0.5, 1.0], [0.0, 0.0], [float("nan"), 1.0]):
        with pytest.raises(ValueError, match="probs must be"):
            empirical_counts(torch.tensor(bad), 3, torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------------------------
# SamplingSettings: penalties, then the chain, as one call


@pytest.mark.parametrize("order", list(ORDERS))
def test_settings_stages_are_the_penalties_then_the_chain(order):
    g = torch.Generator().manual_seed(11)
    logits, context = torch.randn(30, generator=g, dtype=F64) * 2, [3, 3, 7, 12, 3]
    s = SamplingSettings(0.7, 12, 0.9, 0.05, 0.95, order, repetition=1.3, presence=0.4, frequency=0.2)
    got = s.stages(logits, context)
    penalised = apply_penalties(logits, context, 1.3, 0.4, 0.2)
    chain = next_token_distribution(penalised, 0.7, 12, 0.9, 0.05, 0.95, order)
    assert [n for n, _ in got.stages] == ["raw", "penalties", *[n for n, _ in chain.stages[1:]]]
    assert torch.allclose(got.raw, torch.softmax(logits, 0))  # log p stays the model's own
    assert torch.allclose(got.stages[1][1], torch.softmax(penalised, 0))
    assert torch.equal(got.final, chain.final)
    # survivors: raw keeps all 30, each truncation keeps no more than the stage before
    counts = [c for _, c, _ in got.survivors()]
    assert counts[0] == 30 and counts[-1] == int((got.final > 0).sum())
    assert got.survivors()[-1][2] == pytest.approx(got.kept_mass)


def test_settings_without_knobs_change_nothing_and_min_p_zero_is_off():
    logits = torch.randn(20, generator=torch.Generator().manual_seed(2), dtype=F64)
    s = SamplingSettings(min_p=0.0).stages(logits, [1, 2])
    assert [n for n, _ in s.stages] == ["raw"] and torch.allclose(s.final, torch.softmax(logits, 0))


@pytest.mark.parametrize(
    "knobs, match",
    [
        (dict(repetition=0), "repetition"),
        (dict(presence=3), "presence"),
        (dict(frequency=-2.5), "frequency"),
        (dict(min_p=1.5), "min_p"),
        (dict(order="vllm"), "order"),
        (dict(temperature=-1), "temperature"),
    ],
)
def test_settings_out_of_range_say_what_is_allowed(knobs, match):
    with pytest.raises(InputError, match=match):
        SamplingSettings(**knobs)


def test_penalties_read_the_text_not_the_start_token(names_lm):
    """names: "." is the start and the end token; a penalty must not make names longer by penalising it."""
    from core.text.language_model import logits_for_context, sample_step, seeded_generator

    ids = [0] + names_lm.vocab.encode("anna")
    s = SamplingSettings(repetition=2.0)
    step = sample_step(names_lm, ids, seeded_generator(0), s)
    expected = apply_penalties(logits_for_context(names_lm, ids), ids[1:], 2.0)
    assert torch.allclose(step.stages.stages[1][1], torch.softmax(expected, 0))
    assert step.stages.stages[1][1][0] / step.stages.raw[0] > 1  # the end token gained (others were penalised)
