"""The live-sampling core against independent oracles.

- sampled frequencies against ``stages.final`` (a chi-square goodness-of-fit test);
- every sampling stage against a brute-force reference written here in pure Python;
- the page's step-by-step loop, cached and uncached decoding, against ``core.generate``;
- history, branching and forcing; the URL parser's fallbacks; the cache timing experiment.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

import core
from core.errors import InputError
from core.lessons.kv_timing import time_kv_cache, tokens_to_block
from core.lessons.sampling_session import (
    History,
    SamplingSettings,
    describe_settings,
    forced_step,
    kept_count,
    predictable_ids,
    stages_at,
)
from core.models.transformer import GPT, GPTConfig
from core.text.language_model import TextModel, generate, logits_for_context, sample_step
from core.text.sampling import next_token_distribution, sample_token, validate_settings
from core.text.vocab import names_vocab, text_vocab

# ---------------------------------------------------------------------------------------------
# Small untrained models: the maths under test does not depend on training, and they load instantly.


def tiny_names_model(seed: int = 0) -> TextModel:
    """The names architecture at a smaller width: 27 symbols, '.' both start and end, block 16."""
    torch.manual_seed(seed)
    net = GPT(GPTConfig(block_size=16, vocab_size=27, n_layer=2, n_head=2, n_embd=32))
    net.eval()
    return TextModel(name="names", vocab=names_vocab(), net=net, card={})


def tiny_text_model(seed: int = 0, block_size: int = 12) -> TextModel:
    """A free-text model with a separate input-only start token <s>, like shakespeare."""
    torch.manual_seed(seed)
    vocab = text_vocab("the quick brown fox jumps over a lazy dog\nTHE END!")
    net = GPT(
        GPTConfig(block_size=block_size, vocab_size=vocab.size, n_layer=2, n_head=2, n_embd=32, input_only_ids=(0,))
    )
    net.eval()
    return TextModel(name="shakespeare", vocab=vocab, net=net, card={})


# ---------------------------------------------------------------------------------------------
# Brute-force reference of the sampling stages: pure Python floats, sorting with sorted().


def reference_stages(logits: list[float], temperature: float, top_k: int | None, top_p: float | None):
    """(raw, tempered, after_top_k, final) as lists, computed from the definitions."""

    def softmax(xs):
        m = max(xs)
        es = [math.exp(x - m) for x in xs]
        s = math.fsum(es)
        return [e / s for e in es]

    def renormalise_keeping(p, keep):
        total = math.fsum(p[i] for i in keep)
        return [p[i] / total if i in keep else 0.0 for i in range(len(p))]

    def most_probable_first(p):
        return sorted(range(len(p)), key=lambda i: (-p[i], i))  # ties: lower index first

    raw = softmax(logits)
    if temperature == 0:
        best = min(i for i in range(len(logits)) if logits[i] == max(logits))
        tempered = [1.0 if i == best else 0.0 for i in range(len(logits))]
    else:
        tempered = softmax([x / temperature for x in logits])
    after_k = tempered
    if top_k is not None:
        after_k = renormalise_keeping(tempered, set(most_probable_first(tempered)[:top_k]))
    final = after_k
    if top_p is not None:
        keep, mass = set(), 0.0
        for i in most_probable_first(after_k):
            if mass >= top_p:  # the tokens kept so far already reach p
                break
            keep.add(i)
            mass += after_k[i]
        final = renormalise_keeping(after_k, keep)
    return raw, tempered, after_k, final


def _stage_cases():
    rng = random.Random(1234)
    cases = []
    for n in range(240):
        V = rng.choice([2, 5, 27, 65])
        if n % 6 == 0:  # integer logits: many exact ties
            logits = [float(rng.randint(-2, 2)) for _ in range(V)]
        else:
            logits = [rng.gauss(0, 2.5) for _ in range(V)]
        temperature = rng.choice([0.0, 0.05, 0.3, 0.7, 1.0, 1.5, 3.0])
        top_k = rng.choice([None, 1, 2, 3, V - 1, V, V + 4])
        top_p = rng.choice([None, 0.05, 0.3, 0.62, 0.9, 0.99, 1.0])
        cases.append((logits, temperature, top_k, top_p))
    return cases


@pytest.mark.parametrize("case", _stage_cases())
def test_stages_match_a_brute_force_reference(case):
    logits, temperature, top_k, top_p = case
    logits32 = torch.tensor(logits)  # float32, as the model gives them
    got = next_token_distribution(logits32, temperature, top_k, top_p)
    want = reference_stages(logits32.tolist(), temperature, top_k, top_p)
    stages = (got.raw, got.tempered, got.after_top_k, got.final)
    for name, stage, ref in zip(("raw", "tempered", "after_top_k", "final"), stages, want, strict=True):
        assert stage.dtype == torch.float64, name
        assert stage.tolist() == pytest.approx(ref, abs=1e-9), name
        # the same support exactly: truncation is all or nothing
        assert [p > 0 for p in stage.tolist()] == [p > 0 for p in ref], name


# ---------------------------------------------------------------------------------------------
# The statistical test: do the draws follow stages.final?

# Upper 0.1% quantiles of the chi-square distribution, chi2.ppf(0.999, df), for df = 1..30.
# (Abramowitz & Stegun table 26.8; scipy.stats.chi2.ppf gives the same to 3 decimals.)
CHI2_999 = [
    10.828,
    13.816,
    16.266,
    18.467,
    20.515,
    22.458,
    24.322,
    26.124,
    27.877,
    29.588,
    31.264,
    32.909,
    34.528,
    36.123,
    37.697,
    39.252,
    40.790,
    42.312,
    43.820,
    45.315,
    46.797,
    48.268,
    49.728,
    51.179,
    52.620,
    54.052,
    55.476,
    56.892,
    58.301,
    59.703,
]


def chi2_critical(df: int, alpha: float = 0.001) -> float:
    try:
        from scipy.stats import chi2
    except ImportError:  # scipy is not a dependency of the app; the table covers the dfs used here
        assert alpha == 0.001 and 1 <= df <= len(CHI2_999)
        return CHI2_999[df - 1]
    return float(chi2.ppf(1 - alpha, df))


def chi_square(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """Pearson's statistic over the categories with non-zero probability, and its degrees of freedom."""
    keep = probs > 0
    expected = probs[keep] * counts.sum()
    return float(((counts[keep] - expected) ** 2 / expected).sum()), int(keep.sum()) - 1


def test_chi2_table_agrees_with_scipy_when_available():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df, q in enumerate(CHI2_999, start=1):
        assert scipy_stats.chi2.ppf(0.999, df) == pytest.approx(q, abs=2e-3)


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [(1.0, None, None), (0.7, 8, None), (1.3, None, 0.8), (1.0, 6, 0.9)],
)
def test_sampled_frequencies_match_the_final_distribution(temperature, top_k, top_p):
    lm = tiny_names_model(seed=3)
    ids = [0] + lm.vocab.encode("ma")
    generator = torch.Generator().manual_seed(2024)
    draws = 6000
    counts = np.zeros(lm.vocab.size)
    first = sample_step(lm, ids, generator, SamplingSettings(temperature, top_k, top_p))
    final = first.stages.final.numpy()
    counts[first.token_id] += 1
    for _ in range(draws - 1):
        counts[sample_token(first.stages.final, generator)] += 1
    assert counts[final == 0].sum() == 0  # truncated tokens are never drawn
    stat, df = chi_square(counts, final)
    assert stat < chi2_critical(df), f"chi2 = {stat:.1f} with {df} df"
    # the test has power: the same draws are far from the untruncated, untempered distribution
    if top_k or top_p or temperature != 1.0:
        raw = first.stages.raw.numpy()
        expected = raw * draws
        wrong = float(((counts - expected) ** 2 / expected).sum())
        assert wrong > chi2_critical(lm.vocab.size - 1)


# ---------------------------------------------------------------------------------------------
# Temperature 0, top-k, top-p, errors


def test_temperature_zero_is_one_hot_on_the_lowest_index_argmax():
    logits = torch.tensor([1.0, 3.0, -2.0, 3.0, 0.5])
    stages = next_token_distribution(logits, 0, None, None)
    assert stages.tempered.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert stages.final.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    for seed in range(20):
        assert sample_token(stages.final, torch.Generator().manual_seed(seed)) == 1
    # the raw distribution is still the model's: the ledger reads it, not the greedy one
    assert stages.raw.tolist() == pytest.approx(torch.softmax(logits.double(), 0).tolist())


def test_greedy_generation_ignores_the_seed():
    lm = tiny_names_model()
    texts = {"".join(s.token for s in generate(lm, "", 12, SamplingSettings(0.0), seed)) for seed in (0, 1, 99)}
    assert len(texts) == 1


def test_top_k_keeps_the_k_most_probable_renormalised():
    probs = [0.05, 0.4, 0.1, 0.3, 0.15]
    stages = next_token_distribution(torch.tensor(probs, dtype=torch.float64).log(), 1.0, 2, None)
    assert stages.after_top_k.tolist() == pytest.approx([0, 0.4 / 0.7, 0, 0.3 / 0.7, 0], abs=1e-12)
    assert stages.final.tolist() == pytest.approx(stages.after_top_k.tolist())
    assert kept_count(stages) == 2
    assert stages.kept_mass == pytest.approx(0.7)


@pytest.mark.parametrize(
    "top_p, kept",
    [(0.01, {0}), (0.45, {0}), (0.55, {0, 1}), (0.79, {0, 1}), (0.85, {0, 1, 2}), (1.0, {0, 1, 2})],
)
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, kept):
    stages = next_token_distribution(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64).log(), 1.0, None, top_p)
    assert {i for i, p in enumerate(stages.final.tolist()) if p > 0} == kept
    assert sum(stages.final.tolist()) == pytest.approx(1.0)
    assert kept_count(stages) == len(kept) >= 1  # at least one candidate, however small p


def test_tiny_top_p_on_a_flat_distribution_still_keeps_one():
    stages = next_token_distribution(torch.zeros(27), 1.0, None, 0.05)
    assert kept_count(stages) == 2  # 1/27 < 0.05, so two tokens are needed to reach 5%
    stages = next_token_distribution(torch.zeros(27), 1.0, None, 1e-9)
    assert stages.final.tolist()[0] == 1.0 and kept_count(stages) == 1


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [
        (-1, None, None),
        (float("nan"), None, None),
        (float("inf"), None, None),
        (1, 0, None),
        (1, True, None),
        (1, 2.5, None),
        (1, None, 0),
        (1, None, 1.5),
        (1, None, float("nan")),
    ],
)
def test_bad_settings_are_refused_in_words(temperature, top_k, top_p):
    with pytest.raises(ValueError, match="must be"):
        validate_settings(temperature, top_k, top_p)


def test_bad_token_counts_and_prompts_are_input_errors():
    lm = tiny_names_model()
    with pytest.raises(InputError, match="max_new_tokens"):
        list(generate(lm, "", -1))
    with pytest.raises(core.VocabError, match="Allowed characters"):
        list(generate(lm, "émile", 3))


# ---------------------------------------------------------------------------------------------
# Reproducibility: the page's loop is core.generate


def page_loop(lm, prompt, n, temperature, top_k, top_p, seed):
    """What the page does on n presses of "Next token": sample_step with one seeded generator."""
    history = History(prompt_ids=[lm.vocab.bos_id] + lm.vocab.encode(prompt))
    generator = torch.Generator().manual_seed(seed)
    settings = SamplingSettings(temperature, top_k, top_p)
    while len(history) < n and not history.finished:
        history.push(sample_step(lm, history.ids, generator, SamplingSettings(temperature, top_k, top_p)), settings)
    return history


@pytest.mark.parametrize("make", [tiny_names_model, tiny_text_model])
@pytest.mark.parametrize("settings", [(1.0, None, None), (0.8, 5, 0.9), (2.0, None, 0.5), (0.0, None, None)])
def test_the_page_loop_reproduces_generate_with_and_without_cache(make, settings):
    lm = make()
    prompt = "th" if lm.vocab.eos_id is None else "an"
    seed = int(settings[0] * 10)  # a different seed for each setting
    history = page_loop(lm, prompt, 20, *settings, seed)  # 20 tokens: past the block of the text model
    cached = list(generate(lm, prompt, 20, SamplingSettings(*settings), seed, use_cache=True))
    assert [s.token_id for s in cached] == history.generated_ids
    assert [s.position for s in cached] == [e.step.position for e in history.entries]
    # the uncached path is the page's own: the same numbers bit for bit
    uncached = list(generate(lm, prompt, 20, SamplingSettings(*settings), seed, use_cache=False))
    assert [s.token_id for s in uncached] == history.generated_ids
    for s, e in zip(uncached, history.entries, strict=True):
        assert torch.equal(s.stages.final, e.step.stages.final)
        assert s.logprob == e.step.logprob


def test_same_seed_same_text_and_other_seeds_differ():
    lm = tiny_text_model()
    texts = ["".join(s.token for s in generate(lm, "", 25, SamplingSettings(1.0), seed)) for seed in (5, 5, 6, 7)]
    assert texts[0] == texts[1]
    assert len(set(texts[1:])) == 3


def test_cached_and_uncached_decoding_agree_past_the_block_size():
    lm = tiny_text_model(block_size=8)  # 30 tokens slide the window many times
    for seed in range(2):
        cached = list(generate(lm, "the", 30, SamplingSettings(1.0), seed, use_cache=True))
        uncached = list(generate(lm, "the", 30, SamplingSettings(1.0), seed, use_cache=False))
        assert [s.token_id for s in cached] == [s.token_id for s in uncached]
        for a, b in zip(cached, uncached, strict=True):
            assert torch.allclose(a.stages.raw, b.stages.raw, atol=1e-6)


def test_shipped_names_model_page_loop_matches_generate(names_lm):
    history = page_loop(names_lm, "", 20, 0.9, 10, 0.95, 42)
    cached = [s.token_id for s in generate(names_lm, "", 20, SamplingSettings(0.9, 10, 0.95), 42, use_cache=True)]
    assert cached == history.generated_ids
    assert history.finished or len(history) == 20


# ---------------------------------------------------------------------------------------------
# History, branching and forcing


def test_history_ledger_is_the_chain_rule_sum():
    lm = tiny_names_model()
    h = page_loop(lm, "k", 8, 1.0, None, None, 3)
    logs = [math.log(float(e.step.stages.raw[e.step.token_id])) for e in h.entries]
    assert h.logprob == pytest.approx(sum(logs), abs=1e-12)
    assert h.perplexity == pytest.approx(math.exp(-sum(logs) / len(logs)))
    # each step's distribution is the model's conditional given exactly the tokens before it
    for i, e in enumerate(h.entries):
        ctx = h.context_of(i)
        assert ctx == h.ids[: len(h.prompt_ids) + i]
        assert torch.equal(stages_at(lm, ctx, e.settings).final, e.step.stages.final)


def test_rewind_keeps_the_step_and_records_the_branch():
    lm = tiny_text_model()
    h = page_loop(lm, "a", 6, 1.0, None, None, 1)
    before = h.generated_ids
    h.rewind_to(2)  # step 3 (0-based 2) becomes the current step again
    assert h.generated_ids == before[:3]
    assert h.branches[-1].fork == 3 and list(h.branches[-1].token_ids) == before
    h.rewind_to(2)  # nothing is cut: no new branch
    assert len(h.branches) == 1
    with pytest.raises(InputError):
        h.truncate(7)


def test_branch_logprob_is_that_of_the_abandoned_text():
    lm = tiny_text_model()
    h = page_loop(lm, "a", 6, 1.0, None, None, 1)
    want = h.logprob
    h.truncate(1)
    assert h.branches[-1].logprob == pytest.approx(want, abs=1e-12)


def test_forcing_a_token_uses_no_randomness_and_conditions_what_follows():
    lm = tiny_names_model(seed=5)
    generator = torch.Generator().manual_seed(11)
    h = History(prompt_ids=[0])
    settings = SamplingSettings(1.0, None, None)
    for _ in range(3):
        h.push(sample_step(lm, h.ids, generator), settings)
    state = generator.get_state()
    z = lm.vocab.stoi["z"]
    h.truncate(1)
    step = forced_step(lm, h.ids, z, settings)
    assert torch.equal(generator.get_state(), state)
    h.push(step, settings, forced=True)
    assert h.entries[-1].forced and h.generated_ids[1] == z
    assert step.logprob == pytest.approx(
        math.log(float(torch.softmax(logits_for_context(lm, [0, h.ids[1]]).double(), 0)[z]))
    )
    # the next conditional reads the forced token: the distribution after it is that of the new context
    nxt = sample_step(lm, h.ids, generator)
    assert torch.equal(nxt.stages.raw, stages_at(lm, h.ids, settings).raw)


def test_input_only_tokens_cannot_be_forced_and_end_stops_the_text():
    lm = tiny_text_model()
    assert 0 not in predictable_ids(lm) and len(predictable_ids(lm)) == lm.vocab.size - 1
    with pytest.raises(InputError, match="cannot be forced"):
        forced_step(lm, [0], 0, SamplingSettings())
    names = tiny_names_model()
    assert predictable_ids(names) == list(range(27))
    h = History(prompt_ids=[0])
    h.push(forced_step(names, [0], 0, SamplingSettings()), SamplingSettings(), forced=True)
    assert h.finished
    with pytest.raises(InputError, match="ended"):
        h.push(forced_step(names, h.ids, 1, SamplingSettings()), SamplingSettings())


def test_describe_settings():
    assert describe_settings(SamplingSettings(0, None, None)) == "greedy (T = 0), top-k off, top-p off"
    assert describe_settings(SamplingSettings(0.7, 5, 0.9)) == "T = 0.7, top-k = 5, top-p = 0.9"


# ---------------------------------------------------------------------------------------------
# Why caching matters


def test_kv_timing_generates_to_the_block_and_both_modes_agree():
    lm = tiny_text_model(block_size=12)
    assert tokens_to_block(lm, "the") == 12 - 4
    result = time_kv_cache(lm, "the", seed=3, repeats=2)
    assert result.same_tokens
    assert len(result.cached_tokens) == len(result.cached_ms) == 8
    assert result.cached_positions == list(range(4, 12))
    assert result.cached_tokens == [s.token_id for s in generate(lm, "the", 8, seed=3, use_cache=False)]
    assert result.speedup == pytest.approx(result.total_uncached_s / result.total_cached_s)
    assert all(ms > 0 for ms in result.cached_ms + result.uncached_ms)
    with pytest.raises(InputError, match="fills"):
        time_kv_cache(lm, "the quick b", repeats=1)
