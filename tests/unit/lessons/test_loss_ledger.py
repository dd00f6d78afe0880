"""The training loss is the ledger: the (B, T) cost matrix averages to the trainer's loss, and each cost is
the chain rule's conditional, checked against core.score and against scoring position by position."""

from __future__ import annotations

import functools
import math

import pytest
import torch

import core
from core.errors import InputError
from core.lessons.loss_ledger import SPLITS, draw_batch, loss_ledger, window_length
from core.text.live_training import NAMES_BLOCK, prefix_costs_table, prepare, train_live

NAMES_FAMILIES = ["names", "names-mlp", "names-gru", "names-wavenet", "names-bigram"]  # transformer and the rest


@functools.cache
def model(name: str):
    return core.load_text_model(name)


@functools.cache
def data(source: str, length: int):
    return prepare(source, length)


def ledger_of(name: str, split: str, seed: int, n: int = 8):
    lm = model(name)
    length = window_length(lm)
    x, y = draw_batch(data("shakespeare" if name == "shakespeare" else "names", length), n, seed, split, length)
    return lm, loss_ledger(lm, x, y)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", [*NAMES_FAMILIES, "shakespeare"])
def test_matrix_mean_is_the_optimizers_loss(name, split):
    lm, ledger = ledger_of(name, split, seed=5)
    width = window_length(lm) if name == "shakespeare" else NAMES_BLOCK  # names: one name per row, padded
    assert ledger.costs.shape == ledger.targets.shape == (8, width)
    assert ledger.mean == pytest.approx(ledger.loss, abs=2e-6)
    # the loss by hand, from nothing but the logits: the mean of -log softmax at every scored target
    logits, _ = lm.net(ledger.inputs)
    keep = ledger.targets >= 0
    logp = torch.log_softmax(logits[keep].double(), dim=-1)
    by_hand = -logp[torch.arange(int(keep.sum())), ledger.targets[keep]].mean()
    assert ledger.loss == pytest.approx(float(by_hand), abs=2e-6)
    assert torch.isnan(ledger.costs).equal(~keep)  # padding is not scored, every target is
    assert ledger.n_scored == int(keep.sum())


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", NAMES_FAMILIES)
def test_names_rows_are_core_scores_ledger(name, split):
    lm, ledger = ledger_of(name, split, seed=11)
    for b in range(len(ledger.targets)):
        keep = ledger.targets[b] >= 0
        name_text = lm.vocab.decode(ledger.targets[b][keep][:-1].tolist())  # the name, without its end token
        s = core.score(lm, name_text)
        assert s.token_ids == ledger.targets[b][keep].tolist()
        assert ledger.costs[b][keep].tolist() == pytest.approx([-lp for lp in s.logprobs], abs=1e-5)


def test_text_rows_are_the_chain_rule_position_by_position():
    lm, ledger = ledger_of("shakespeare", "training", seed=2)
    oracle = prefix_costs_table(lm.net, ledger.inputs, ledger.targets)  # one uncached forward per prefix
    assert torch.allclose(ledger.costs, oracle, atol=1e-5)
    half = len(ledger.inputs) // 2  # the trainer's first half of a batch starts with the start token
    for b in range(half):
        assert int(ledger.inputs[b, 0]) == lm.vocab.bos_id
        s = core.score(lm, lm.vocab.decode(ledger.targets[b].tolist()))
        assert ledger.costs[b].tolist() == pytest.approx([-lp for lp in s.logprobs], abs=1e-5)


def test_the_batch_depends_on_its_seed():
    for split in SPLITS:
        _, a = ledger_of("names", split, seed=1)
        _, b = ledger_of("names", split, seed=2)
        _, again = ledger_of("names", split, seed=1)
        assert not a.inputs.equal(b.inputs) and a.loss != b.loss
        assert a.inputs.equal(again.inputs) and a.loss == again.loss
        assert torch.equal(a.costs.nan_to_num(-1), again.costs.nan_to_num(-1))


def test_hover_text_is_the_tokens():
    lm, ledger = ledger_of("names", "held-out", seed=0)
    row = ledger.targets[0]
    n = int((row >= 0).sum())
    assert "".join(ledger.tokens[0][: n - 1]) == lm.vocab.decode(row[: n - 1].tolist())
    assert ledger.tokens[0][n - 1] == "." and ledger.tokens[0][n:] == [""] * (16 - n)
    assert ledger.prefixes[0][0] == "." and ledger.prefixes[0][2] == "." + "".join(ledger.tokens[0][:2])
    _, text = ledger_of("shakespeare", "held-out", seed=0)  # a window: inputs[t + 1] == targets[t]
    assert text.prefixes[0][10] == "…" + "".join(text.tokens[0][2:10])  # the last 8 tokens read, cut with …
    assert text.prefixes[0][7] == text.prefixes[0][6] + text.tokens[0][6] and "…" not in text.prefixes[0][7]


TEXT = "the cat sat on the mat. " * 40


@pytest.mark.parametrize("causal", [True, False])
def test_a_live_trained_model_too(causal):
    run = list(train_live(TEXT, kind="transformer", n_layer=1, n_embd=32, block_size=16, steps=3, causal=causal,
                          eval_every=3, n_samples=1, sample_tokens=2))  # fmt: skip
    lm = run[-1].model
    x, y = draw_batch(prepare(TEXT, 16), 6, 0, "training", 16)
    ledger = loss_ledger(lm, x, y)
    assert ledger.causal is causal
    assert ledger.mean == pytest.approx(ledger.loss, abs=2e-6)
    honest = prefix_costs_table(lm.net, x, y)
    if causal:
        assert torch.allclose(ledger.costs, honest, atol=1e-5)
    else:  # without the mask the loss reads the future: its costs are not the chain rule's
        assert not torch.allclose(ledger.costs, honest, atol=1e-3)


def test_bad_requests_are_refused_in_words():
    d = data("names", 16)
    for n in (0, 33, 2.5, True):
        with pytest.raises(InputError, match="number of examples"):
            draw_batch(d, n, 0)
    with pytest.raises(InputError, match="training, held-out"):
        draw_batch(d, 4, 0, "test")
    with pytest.raises(InputError, match="seed"):
        draw_batch(d, 4, -1)
    with pytest.raises(InputError, match="one shape"):
        loss_ledger(model("names"), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    assert math.isfinite(loss_ledger(model("names"), *draw_batch(d, 1, 0)).loss)
