"""Beam search against exhaustive search and greedy decoding; the decoder comparison against generate.

Oracle: a random table model (the next token's log p depends on the last two tokens) small enough
to enumerate every text up to the length limit, so the most probable text is known by brute force.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import core
from core.errors import InputError
from core.lessons.decoders import compare_decoders
from core.text.beam_search import beam_search
from core.text.sampling import SamplingSettings

V, STOP = 4, 0  # token 0 ends a text


def table_model(seed: int, sharp: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    table = torch.log_softmax(sharp * torch.randn(V, V, V, generator=g, dtype=torch.float64), dim=-1)

    def next_logprobs(ids: list[int]) -> torch.Tensor:
        a, b = ([STOP, STOP] + list(ids))[-2:]
        return table[a, b].clone()

    return next_logprobs


def brute_force(next_logprobs, prompt: list[int], n: int) -> list[tuple[float, tuple[int, ...]]]:
    """Every text the search could return (finished at any length <= n, or unfinished at n), scored."""
    out = []
    for length in range(1, n + 1):
        for tokens in itertools.product(range(V), repeat=length):
            if STOP in tokens[:-1] or (length < n and tokens[-1] != STOP):
                continue  # stopped early, or an unfinished text shorter than the limit
            lp = sum(float(next_logprobs(prompt + list(tokens[:i]))[t]) for i, t in enumerate(tokens))
            out.append((lp, tokens))
    return sorted(out, key=lambda x: -x[0])


@pytest.mark.parametrize("seed", range(12))
def test_wide_beam_finds_the_most_probable_text(seed):
    f, prompt, n = table_model(seed), [1], 3  # V**n = 64 = MAX_WIDTH: the beam holds every text
    best_lp, best = brute_force(f, prompt, n)[0]
    found = beam_search(f, prompt, width=V**n, max_new_tokens=n, stop_ids={STOP})[0]
    assert found.token_ids == best
    assert found.logprob == pytest.approx(best_lp, abs=1e-12)
    assert found.finished == (best[-1] == STOP)


@pytest.mark.parametrize("seed", range(12))
def test_width_one_is_greedy_and_a_wider_beam_is_never_worse_than_greedy(seed):
    f, prompt, n = table_model(seed), [2], 5
    ids, greedy_lp = list(prompt), 0.0
    for _ in range(n):
        logp = f(ids)
        t = int(torch.argmax(logp))
        ids.append(t)
        greedy_lp += float(logp[t])
        if t == STOP:
            break
    greedy = beam_search(f, prompt, 1, n, {STOP})[0]
    assert list(greedy.token_ids) == ids[1:]
    assert greedy.logprob == pytest.approx(greedy_lp, abs=1e-12)
    for width in (2, 3, 5):
        assert beam_search(f, prompt, width, n, {STOP})[0].logprob >= greedy_lp - 1e-12


def test_beam_beats_greedy_on_a_crafted_example():
    # step 1: "a" 0.6, "b" 0.4; after "a" the next tokens are flat (0.25 each), after "b" one is 0.9
    def f(ids):
        if len(ids) == 1:
            return torch.tensor([1e-9, 0.6, 0.4, 1e-9], dtype=torch.float64).log()
        return torch.tensor([0.25] * 4 if ids[1] == 1 else [0.9, 0.05, 0.03, 0.02], dtype=torch.float64).log()

    greedy = beam_search(f, [3], 1, 2, {STOP})[0]
    beam = beam_search(f, [3], 2, 2, {STOP})[0]
    assert greedy.token_ids[0] == 1 and beam.token_ids == (2, 0)
    assert beam.logprob == pytest.approx(math.log(0.4 * 0.9))
    assert greedy.logprob == pytest.approx(math.log(0.6 * 0.25))


def test_never_ids_are_never_proposed_and_results_are_sorted():
    f = table_model(3)
    hyps = beam_search(f, [1], 4, 4, {STOP}, never_ids={2})
    assert all(2 not in h.token_ids for h in hyps)
    assert [h.logprob for h in hyps] == sorted((h.logprob for h in hyps), reverse=True)
    assert len(hyps) <= 4


@pytest.mark.parametrize("width", [0, -1, 65, 2.5, True])
def test_bad_width_is_an_input_error(width):
    with pytest.raises(InputError, match="beam width"):
        beam_search(table_model(0), [1], width, 3, {STOP})


def test_compare_decoders_matches_generate(names_lm):
    prompt = "em"
    settings = SamplingSettings(0.8, 10, 0.95)
    out = {d.method: d for d in compare_decoders(names_lm, prompt, settings, seed=5, n=12, width=3)}
    sampled = list(core.generate(names_lm, prompt, 12, core.SamplingSettings(0.8, 10, 0.95), seed=5))
    greedy = list(core.generate(names_lm, prompt, 12, core.SamplingSettings(0.0), seed=5))
    assert list(out["sampled"].token_ids) == [s.token_id for s in sampled]
    assert list(out["greedy"].token_ids) == [s.token_id for s in greedy]
    assert out["greedy"].logprob == pytest.approx(math.fsum(s.logprob for s in greedy))
    # the beam's total is the chain rule's sum under the model, recomputed by core.score
    beam = out["beam (width 3)"]
    assert beam.finished and beam.token_ids[-1] == names_lm.vocab.eos_id
    text = names_lm.vocab.decode(list(beam.token_ids[:-1]))
    scored = core.score(names_lm, text, prompt=prompt)  # score adds the end token itself
    assert -scored.nll == pytest.approx(beam.logprob, abs=1e-6)
    assert beam.logprob >= out["greedy"].logprob - 1e-9
