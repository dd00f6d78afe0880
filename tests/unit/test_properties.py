"""Property tests (Hypothesis) over the sampling transforms and the chain-rule scorer.

Any finite logits (huge magnitudes and -inf entries included, at least one finite) and any valid
settings must give stages that are probability distributions, nested supports, and at least one
token to sample. The scorer's NLL must equal the sum of per-token terms computed independently,
one prefix at a time, with a separate forward pass per token.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import core
from core.text.language_model import context_ids, logits_for_context
from core.text.sampling import next_token_distribution

torch.set_num_threads(1)

# Finite floats of any magnitude, down to subnormals and up to ±1.8e308, plus "impossible" tokens.
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
logit = st.one_of(finite, finite, finite, st.just(-math.inf))
logit_vectors = st.lists(logit, min_size=1, max_size=40).filter(lambda xs: any(math.isfinite(x) for x in xs))
temperatures = st.one_of(
    st.just(0.0),
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-300, max_value=1e-3),
)
top_ks = st.one_of(st.none(), st.integers(min_value=1, max_value=60))
top_ps = st.one_of(st.none(), st.just(1.0), st.floats(min_value=1e-12, max_value=1.0, exclude_min=False))


def support(p: torch.Tensor) -> set[int]:
    return set(torch.nonzero(p > 0).flatten().tolist())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(values=logit_vectors, temperature=temperatures, top_k=top_ks, top_p=top_ps)
def test_every_stage_is_a_distribution_with_nested_supports(values, temperature, top_k, top_p):
    logits = torch.tensor(values, dtype=torch.float64)
    s = next_token_distribution(logits, temperature, top_k, top_p)
    for name in ("raw", "tempered", "after_top_k", "final"):
        p = getattr(s, name)
        assert p.dtype == torch.float64 and p.shape == (len(values),), name
        assert not torch.isnan(p).any(), f"{name} has NaN: {p}"
        assert (p >= 0).all(), f"{name} has negative entries: {p}"
        assert abs(float(p.sum()) - 1.0) <= 1e-9, f"{name} sums to {float(p.sum())!r}"
    # impossible tokens stay impossible at every stage
    impossible = {i for i, x in enumerate(values) if x == -math.inf}
    assert not (support(s.raw) | support(s.tempered)) & impossible
    # truncation only ever removes tokens: final ⊆ after_top_k ⊆ tempered
    final, after_k, tempered = support(s.final), support(s.after_top_k), support(s.tempered)
    assert final and final <= after_k <= tempered
    if top_k is not None:
        assert len(after_k) <= top_k
    assert int(s.kept.sum()) == len(final) >= 1
    # the kept tokens are the most probable ones: none dropped is more probable than one kept
    dropped = tempered - final
    if dropped:
        assert max(float(s.tempered[i]) for i in dropped) <= min(float(s.tempered[i]) for i in final)


@settings(max_examples=200, deadline=None)
@given(values=logit_vectors, top_k=top_ks, top_p=top_ps)
def test_temperature_zero_is_greedy_whatever_the_truncation(values, top_k, top_p):
    s = next_token_distribution(torch.tensor(values, dtype=torch.float64), 0.0, top_k, top_p)
    best = max(range(len(values)), key=lambda i: (values[i], -i))  # the lowest index among ties
    assert support(s.final) == {best}
    assert float(s.final[best]) == 1.0


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.floats(min_value=-50, max_value=50), min_size=2, max_size=30), top_p=top_ps)
def test_top_p_keeps_the_smallest_set_reaching_p(values, top_p):
    s = next_token_distribution(torch.tensor(values, dtype=torch.float64), 1.0, None, top_p)
    kept = float(s.tempered[s.kept].sum())
    p = 1.0 if top_p is None else top_p
    assert kept >= p - 1e-9 or int(s.kept.sum()) == len(values)
    # dropping the least probable kept token would fall short of p (minimality)
    if int(s.kept.sum()) > 1:
        smallest = float(s.tempered[s.kept].min())
        assert kept - smallest < p + 1e-9


# ---------------------------------------------------------------------------------------------
# The scorer


@pytest.fixture(scope="module")
def names_model() -> core.TextModel:
    return core.load_text_model("names")


names_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCZ", min_size=1, max_size=24)


def one_token_at_a_time(lm: core.TextModel, text: str, context_lengths: list[int]) -> list[float]:
    """log p(x_i | x_<i) for every token of ``text`` and the end token, one forward pass per token.

    Prediction k reads the ``context_lengths[k]`` tokens before its target (all of them while the
    text fits in the block; past it, the scorer's sliding window says how many).
    """
    ids = context_ids(lm, text) + [lm.vocab.eos_id]
    out = []
    for k in range(len(ids) - 1):
        prefix = ids[k + 1 - context_lengths[k] : k + 1]
        logp = torch.log_softmax(logits_for_context(lm, prefix).double(), dim=-1)  # (V,)
        out.append(float(logp[ids[k + 1]]))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=names_text)
def test_nll_is_minus_the_sum_of_per_token_logprobs(names_model, text):
    sc = core.score(names_model, text)
    assert len(sc.logprobs) == len(sc.probs) == len(sc.tokens) == len(text) + 1  # + the end token
    assert sc.nll == pytest.approx(-math.fsum(sc.logprobs), rel=1e-12, abs=1e-12)
    # an independent path: every conditional from its own forward pass over the prefix alone
    assert all(1 <= c <= names_model.block_size for c in sc.context_lengths)
    assert sc.context_lengths[: names_model.block_size] == list(
        range(1, min(len(sc.tokens), names_model.block_size) + 1)
    )
    expected = one_token_at_a_time(names_model, text, sc.context_lengths)
    assert sc.logprobs == pytest.approx(expected, abs=1e-4)
    assert sc.nll == pytest.approx(-math.fsum(expected), abs=1e-3)
    # each logprob is read off the whole conditional distribution at its position
    rows = sc.conditional_probs[torch.arange(len(sc.token_ids)), torch.tensor(sc.token_ids)]
    assert rows.tolist() == pytest.approx(sc.probs, rel=1e-9)
    assert torch.allclose(sc.conditional_probs.sum(-1), torch.ones(len(sc.tokens), dtype=torch.float64), atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8))
def test_product_of_probabilities_is_exp_minus_nll(names_model, text):
    sc = core.score(names_model, text)
    assume(sc.nll < 700)  # exp(-nll) is representable
    assert math.prod(sc.probs) == pytest.approx(math.exp(-sc.nll), rel=1e-6)
    assert sc.joint_log10 == pytest.approx(math.log10(math.prod(sc.probs)), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=30))
def test_scorer_rejects_or_scores_any_text_in_words(names_model, text):
    """Arbitrary unicode: either a finite score, or a ChainRuleError (never another exception)."""
    try:
        sc = core.score(names_model, text)
    except core.ChainRuleError as e:
        assert str(e)
    else:
        assert math.isfinite(sc.nll) and sc.nll >= 0


@given(st.text(max_size=60))
def test_plain_text_undoes_escape_markdown(text):
    from core.display import escape_markdown, plain_text

    assert plain_text(escape_markdown(text)) == text
    assert plain_text(f"**{escape_markdown(text)}**") == text
