"""The Training page's "loss is the ledger" section through AppTest: the heatmap's mean and the trainer's loss
are shown equal, both equal core's loss for the same seeded batch, and another batch seed changes them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.lessons.loss_ledger import draw_batch, loss_ledger, window_length
from core.text.live_training import prepare
from tests.app.helpers import arr, chart

torch.set_num_threads(1)
PAGES = Path(__file__).resolve().parents[2] / "pages"


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def page() -> AppTest:
    return run(AppTest.from_file(str(PAGES / "training.py"), default_timeout=120))


def shown(at: AppTest) -> tuple[str, str]:
    """The section's two numbers as the page shows them."""
    values = {m.label: m.value for m in at.metric}
    return values["Mean of the heatmap"], values["The loss the optimizer sees"]


def core_ledger(lm, source: str, seed: int, split: str = "training"):
    length = window_length(lm)
    return loss_ledger(lm, *draw_batch(prepare(source, length), 8, seed, split, length))


@pytest.mark.parametrize("source, split", [("names", "training"), ("shakespeare", "held-out")])
def test_the_two_numbers_are_equal_and_are_cores_loss(source, split):
    at = page()
    assert any(h.value == "The loss is the ledger" for h in at.header)
    if source != "names":
        at.segmented_control(key="training_source").set_value(source)
    at.segmented_control(key="training_ledger_split").set_value(split)
    run(at)
    expected = core_ledger(core.load_text_model(source), source, 0, split)
    mean, loss = shown(at)
    assert mean == loss == f"{expected.loss:.4f} nats"
    z = arr(chart(at, "training_ledger_fig")["data"][0]["z"])
    assert z.shape == tuple(expected.costs.shape)
    assert z == pytest.approx(expected.costs.numpy(), abs=1e-9, nan_ok=True)  # the heatmap is the matrix
    table = next(d.value for d in at.dataframe if "row" in d.value.columns)  # the numbers, one click away
    assert table["row"].tolist() == [f"example {b + 1}" for b in range(z.shape[0])]
    assert table["1"].tolist() == pytest.approx(expected.costs[:, 0].tolist(), abs=1e-9)
    last = table[str(z.shape[1])].astype(float).tolist()  # blank where a name has ended: padding, not scored
    assert last == pytest.approx(expected.costs[:, -1].tolist(), abs=1e-9, nan_ok=True)
    assert "next-token cross-entropy" in " ".join(m.value for m in at.markdown)


def test_another_batch_seed_draws_another_batch():
    at = page()
    before = shown(at)
    at.number_input(key="training_ledger_seed").set_value(7)
    run(at)
    after = shown(at)
    assert after != before and after[0] == after[1]
    assert after[0] == f"{core_ledger(core.load_text_model('names'), 'names', 7).loss:.4f} nats"


def test_your_text_waits_for_a_model_then_shows_the_session_run():
    at = page()
    at.segmented_control(key="training_source").set_value("your text")
    run(at)
    assert any("Train a model on your text" in i.value for i in at.info)
    assert not any(m.label == "Mean of the heatmap" for m in at.metric)
    # a run on names (the bigram counts: one step) replaces the shipped model in the section
    at.segmented_control(key="training_source").set_value("names")
    at.radio(key="training_kind").set_value("bigram")
    run(at)
    at.button(key="training_start").click()
    run(at)
    job = at.session_state["training_job"]
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.3)
        run(at)
    run(at)
    assert job.state == "done", job.message
    mean, loss = shown(at)
    expected = core_ledger(job.events[-1].model, "names", 0)
    assert mean == loss == f"{expected.loss:.4f} nats"
    assert any("your model just trained on names" in c.value for c in at.caption)


def test_the_chain_rule_ledger_links_here():
    at = run(AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=120))
    run(at.switch_page("pages/chain_rule.py"))
    assert [p.proto.page for p in at.get("page_link")].count("training") == 1
    assert any("next-token cross-entropy" in c.value and "Training page's loss" in c.value for c in at.caption)
