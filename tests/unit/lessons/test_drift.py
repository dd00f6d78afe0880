"""core.lessons.drift: A is core.generate's continuation, B the same with a token forced at the fork (the draw made,
then replaced: the seed convention), and the KL at each position equals numpy's KL of the two distributions
computed by one uncached forward pass over each whole text."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import core
from core.errors import ChainRuleError
from core.lessons.drift import (
    LLM_DRIFT_TOKENS,
    MAX_DRIFT_TOKENS,
    default_alternative,
    drift,
    kl_divergence,
    length_for,
    surviving_tokens,
    token_from_text,
)
from core.text.language_model import context_ids, sample_step, seeded_generator

SETTINGS = [core.SamplingSettings(), core.SamplingSettings(0.8, 10, 0.95), core.SamplingSettings(1.3, None, 0.9)]


def generated(lm, prompt, n, settings, seed) -> tuple[int, ...]:
    return tuple(s.token_id for s in core.generate(lm, prompt, n, settings, seed))


def forced_by_hand(lm, context, n, settings, seed, token) -> tuple[int, ...]:
    """The convention written out with sample_step: draw at the fork, keep ``token``, go on with the same generator."""
    generator = seeded_generator(seed)
    sample_step(lm, context, generator, settings)  # the fork's draw, made and discarded
    ids, out = list(context) + [token], [token]
    while len(out) < n and token not in lm.vocab.stop_ids:
        token = sample_step(lm, ids, generator, settings).token_id
        ids.append(token)
        out.append(token)
    return tuple(out)


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("seed", [0, 11])
def test_a_is_core_generate_and_b_follows_the_convention(shakespeare_lm, settings, seed):
    prompt = "ROMEO:\nI"
    context = context_ids(shakespeare_lm, prompt)
    alt = default_alternative(shakespeare_lm, context, settings)
    d = drift(shakespeare_lm, context, settings, seed, 25, alt)
    assert d.drawn.token_ids == generated(shakespeare_lm, prompt, 25, settings, seed)
    assert d.forced.token_ids == forced_by_hand(shakespeare_lm, context, 25, settings, seed, alt)
    assert d.forced.token_ids[0] == alt and d.fork == len(context)


def test_greedy_b_is_core_generate_after_the_forced_token(names_lm):
    # at temperature 0 no random number is used, so B's tail is core.generate on the context with the token appended
    context = context_ids(names_lm, "ma")
    greedy = core.SamplingSettings(0.0)
    z = names_lm.vocab.encode("z")[0]
    d = drift(names_lm, context, greedy, 3, 12, z)
    assert d.forced.token_ids[1:] == generated(names_lm, context + [z], 11, greedy, 3)
    assert d.drawn.token_ids == generated(names_lm, "ma", 12, greedy, 3)


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_forcing_the_drawn_token_changes_nothing(names_lm, seed):
    context = context_ids(names_lm, "")
    settings = core.SamplingSettings(0.9)
    drawn = generated(names_lm, "", 1, settings, seed)[0]
    d = drift(names_lm, context, settings, seed, 20, drawn)
    assert d.same_fork and d.forced == d.drawn
    assert len(d.kl) == len(d.drawn.token_ids) and all(k == 0.0 for k in d.kl)


def numpy_distributions(lm, ids: list[int], start: int) -> np.ndarray:
    """(len(ids) - start, V) next-token distributions after ids[:t] for t = start.., by one uncached forward pass."""
    logits, _ = lm.net(torch.tensor([ids[:-1]]))  # (1, T, V): the prediction after each prefix
    z = logits[0, start - 1 :].double().numpy()
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def test_kl_and_log_p_equal_numpy_brute_force(shakespeare_lm):
    context = context_ids(shakespeare_lm, "JULIET:\n")
    settings = core.SamplingSettings(0.9, 20)
    d = drift(shakespeare_lm, context, settings, 4, 30, default_alternative(shakespeare_lm, context, settings))
    assert len(context) + 30 < shakespeare_lm.block_size  # every prediction reads its whole history
    pa = numpy_distributions(shakespeare_lm, context + list(d.drawn.token_ids), len(context))
    pb = numpy_distributions(shakespeare_lm, context + list(d.forced.token_ids), len(context))
    expected = [float(np.sum(p[p > 0] * np.log(p[p > 0] / q[p > 0]))) for p, q in zip(pa, pb, strict=False)]
    assert len(d.kl) == min(len(pa), len(pb)) == 30
    assert all(k >= 0 for k in d.kl) and d.kl[0] == 0.0  # the fork: one context, one distribution
    np.testing.assert_allclose(d.kl, expected, rtol=1e-4, atol=1e-6)
    assert max(d.kl) > 0.1  # the forced token did change later conditionals
    for run, p in ((d.drawn, pa), (d.forced, pb)):
        own = np.log(p[np.arange(len(run.token_ids)), list(run.token_ids)])
        np.testing.assert_allclose(run.logprobs, own, rtol=1e-4, atol=1e-5)


def test_kl_divergence_matches_numpy_and_its_edge_cases():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(50)), rng.dirichlet(np.ones(50))
    assert kl_divergence(torch.tensor(p), torch.tensor(q)) == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-12)
    assert kl_divergence(torch.tensor(p), torch.tensor(p)) == 0.0
    assert kl_divergence(torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.25, 0.75, 0.0])) > 0  # 0 log 0 = 0
    assert kl_divergence(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])) == float("inf")


def test_default_alternative_is_the_least_likely_survivor(names_lm):
    context = context_ids(names_lm, "jo")
    logits = core.next_token_logits(names_lm, "jo").double().numpy()
    by_hand = [int(i) for i in np.argsort(-logits, kind="stable")[:5]]  # top-5 survive at T = 1, no ties here
    settings = core.SamplingSettings(1.0, 5)
    assert surviving_tokens(names_lm, context, settings) == by_hand
    assert default_alternative(names_lm, context, settings) == by_hand[-1]
    assert surviving_tokens(names_lm, context, core.SamplingSettings(0.0)) == [int(np.argmax(logits))]


@pytest.mark.parametrize("bad", [-1, 27, 10**9, 2.0, True, "a", None])
def test_a_token_outside_the_vocabulary_is_refused_in_words(names_lm, bad):
    with pytest.raises(ChainRuleError, match=r"cannot be forced: the model predicts only the ids 0\.\.26"):
        drift(names_lm, context_ids(names_lm, ""), core.SamplingSettings(), 0, 5, bad)


def test_the_start_token_cannot_be_forced(shakespeare_lm):
    with pytest.raises(ChainRuleError, match="input-only"):
        drift(
            shakespeare_lm, context_ids(shakespeare_lm, "A"), core.SamplingSettings(), 0, 5, shakespeare_lm.vocab.bos_id
        )


@pytest.mark.parametrize("n", [0, 1, MAX_DRIFT_TOKENS + 1, 100, 2.5, "5"])
def test_the_length_is_bounded(names_lm, n):
    with pytest.raises(ChainRuleError, match="from 2 to 40"):
        drift(names_lm, context_ids(names_lm, ""), core.SamplingSettings(), 0, n, 3)


def test_the_longest_length_is_drawn_in_full(shakespeare_lm):
    d = drift(shakespeare_lm, context_ids(shakespeare_lm, "A"), core.SamplingSettings(), 2, MAX_DRIFT_TOKENS, 10)
    assert len(d.drawn.token_ids) == len(d.forced.token_ids) == len(d.kl) == MAX_DRIFT_TOKENS  # no end token


def test_typed_tokens(names_lm, shakespeare_lm):
    assert token_from_text(names_lm, "q") == names_lm.vocab.stoi["q"]
    assert token_from_text(names_lm, "Q") == names_lm.vocab.stoi["q"]  # names fold case
    assert token_from_text(names_lm, ".") == names_lm.vocab.eos_id
    assert token_from_text(shakespeare_lm, "\n") == shakespeare_lm.vocab.stoi["\n"]
    for lm, typed, words in [
        (names_lm, "", "empty"),
        (names_lm, "qq", "2 tokens"),
        (names_lm, "é", "not a token of names's vocabulary"),
        (shakespeare_lm, "<s>", "not a token"),  # the start token is read, never drawn: not offered
    ]:
        with pytest.raises(ChainRuleError, match=words):
            token_from_text(lm, typed)


def test_smollm2_a_is_core_generate_and_b_the_convention():
    lm = core.load_text_model("smollm2")
    context = context_ids(lm, "The capital of France is")
    paris = token_from_text(lm, " Paris")
    assert lm.vocab.decode([paris]) == " Paris"
    settings = core.SamplingSettings(0.8, 40)
    d = drift(lm, context, settings, 1, 6, paris)
    assert d.drawn.token_ids == generated(lm, context, 6, settings, 1)
    assert d.forced.token_ids == forced_by_hand(lm, context, 6, settings, 1, paris)
    assert d.kl[0] == 0.0 and all(k >= 0 for k in d.kl)


def test_the_real_llm_draws_a_shorter_comparison(names_lm):
    as_llm = replace(names_lm, name="smollm2")  # only the name decides: no LLM needed here
    assert length_for(as_llm, MAX_DRIFT_TOKENS)[0] == LLM_DRIFT_TOKENS < MAX_DRIFT_TOKENS
    assert "16 tokens per continuation here, not 40" in length_for(as_llm, 40)[1]
    assert length_for(as_llm, 5) == (5, None)
    assert length_for(names_lm, MAX_DRIFT_TOKENS) == (MAX_DRIFT_TOKENS, None)
