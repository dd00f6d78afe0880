"""The other networks on every text page (AppTest): the Chain rule's table and side-by-side ledger, the
Attention page's measured dependence for networks without attention, Live sampling drawing from them and
showing what a step carries, and the Training page training them - each number checked against core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.lessons.causality import dependence_matrix, text_window
from core.lessons.page_state import to_query
from core.lessons.states import TrainingState
from core.lessons.step_memory import carried_state
from core.text.evaluation import measure_heldout_nll
from core.text.sampling import SamplingSettings
from tests.app.helpers import arr, chart

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


def run(script: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / script), default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_chain_rule_same_data_other_networks():
    at = run("chain_rule.py", cr_family_name="maximilian")
    (table,) = [d.value for d in at.dataframe if "network" in d.value.columns]
    for model, nll in zip(["names-bigram", "names-mlp", "names-wavenet", "names-gru", "names"],
                          table["held-out −log p (nats/char)"], strict=True):  # fmt: skip
        assert nll == pytest.approx(measure_heldout_nll(core.load_text_model(model)), abs=1e-9)
    fig = chart(at, "cr_family_chart")
    gru = next(t for t in fig["data"] if t["name"] == "names-gru")
    expected = [-lp for lp in core.score(core.load_text_model("names-gru"), "maximilian").logprobs]
    assert np.allclose(arr(gru["y"]), expected, atol=1e-9)


def test_attention_page_measures_a_network_without_attention():
    at = run("attention.py", attention_model="names-mlp", attention_text="christopher")
    lm = core.load_text_model("names-mlp")
    w = text_window(lm, "christopher")
    fig = chart(at, "attention_dependence_names-mlp-text")
    shown = np.nan_to_num(arr(fig["data"][-1]["z"]))
    values = dependence_matrix(lm, w.ids).values
    assert shown.shape == values.shape
    rows, cols = np.nonzero(values)
    assert np.all(rows >= cols) and np.all(rows - cols < 5)  # a band 5 wide: the window
    # and the family section: the leaky WaveNet reads the future, the others never do
    metrics = {m.label: m.value for m in at.metric if m.label.startswith("names-")}
    assert metrics["names-wavenet-leaky: max above the diagonal"] != "0 (exactly)"
    for name in ("names-mlp", "names-wavenet", "names-gru"):
        assert metrics[f"{name}: max above the diagonal"] == "0 (exactly)"


@pytest.mark.parametrize("model", ["names-mlp", "names-wavenet", "names-gru"])
def test_live_sampling_draws_what_core_generate_draws(model):
    at = run("sampling.py", model=model, seed=7, temperature=0.9)
    for _ in range(4):
        at.button(key="sampling_next").click().run()
    drawn = at.session_state["sampling"].history.generated_ids
    lm = core.load_text_model(model)
    expected = [s.token_id for s in core.generate(lm, "", 4, SamplingSettings(0.9), seed=7)]
    assert drawn == expected[: len(drawn)] and len(drawn) >= 1


def test_what_a_step_carries_is_measured():
    at = run("sampling.py")
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    ids = [0] + core.load_text_model("names").vocab.encode("christopher") + [0]
    for name in ("names", "names-gru", "names-mlp", "names-wavenet"):
        s = carried_state(core.load_text_model(name), ids, repeats=1)
        assert metrics[name][0] == f"{s.nbytes[-1] / 1024:.2f} KiB"
        assert metrics[name][1] == ("grows" if name == "names" else "fixed")


@pytest.mark.parametrize("kind", ["mlp", "gru", "wavenet"])
def test_the_training_page_offers_the_other_networks(kind):
    at = run("training.py", **to_query(TrainingState(training_kind=kind)))  # the link carries the label
    assert at.radio(key="training_kind").value == kind
    assert any("parameters" in c.value for c in at.caption)
