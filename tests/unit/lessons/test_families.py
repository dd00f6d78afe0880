"""The same names under five networks (core.lessons.families) and what each decoding step carries
(core.lessons.step_memory), against core.score, the card's held-out method and the tensors' own sizes."""

from __future__ import annotations

import pytest

import core
from core.lessons.families import FAMILIES, conditions_on, family_rows, reach, side_by_side
from core.lessons.step_memory import carried_state
from core.text.evaluation import measure_heldout_nll


@pytest.fixture(scope="module")
def models():
    return [core.load_text_model(n) for n in FAMILIES]


def test_what_each_network_reads(models):
    reads = {m.name: (reach(m), conditions_on(m)) for m in models}
    assert reads["names-bigram"][0] == 1 and reads["names-mlp"][0] == 5 and reads["names-wavenet"][0] == 8
    assert reads["names-gru"][0] is None and reads["names"][0] is None
    assert "last 5" in reads["names-mlp"][1] and "last 8" in reads["names-wavenet"][1]
    assert "whole prefix" in reads["names-gru"][1] and "attention" in reads["names"][1]


def test_rows_recompute_the_heldout_figure(models):
    rows = family_rows(models)
    for row, m in zip(rows, models, strict=True):
        assert row.heldout_nll == pytest.approx(measure_heldout_nll(m), abs=1e-12)
        assert row.heldout_nll == pytest.approx(m.card["metrics"]["heldout_nll"], abs=1e-6)
        assert row.parameters == m.net.num_params()


def test_side_by_side_is_each_models_ledger(models):
    sbs = side_by_side(models, "christopher")
    assert sbs.tokens == list("christopher") + ["."]
    for m in models:
        assert sbs.totals[m.name] == pytest.approx(core.score(m, "christopher").nll, abs=1e-9)
        assert len(sbs.costs[m.name]) == 12


def test_a_transformers_state_grows_and_the_others_do_not(models):
    ids = [0] + core.load_text_model("names").vocab.encode("christopher") + [0]
    by_name = {m.name: m for m in models}
    kv = carried_state(by_name["names"], ids, repeats=1)
    cfg = by_name["names"].net.config
    per_token = 2 * cfg.n_layer * cfg.n_embd * 4  # keys and values of every layer, float32
    assert kv.nbytes == [per_token * (t + 1) for t in range(len(ids))] and kv.grows
    for name in ("names-gru", "names-mlp", "names-wavenet"):
        s = carried_state(by_name[name], ids, repeats=1)
        assert len(set(s.nbytes)) == 1 and not s.grows and len(s.step_ms) == len(ids)
    gru = by_name["names-gru"].net.config
    assert carried_state(by_name["names-gru"], ids, repeats=1).nbytes[0] == gru.n_layer * gru.n_hidden * 4
    with pytest.raises(core.InputError):
        carried_state(core.load_text_model("names-leaky"), ids)
