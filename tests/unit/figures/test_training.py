"""The Training page's loss figure draws exactly the run's numbers, in nats or bits."""

from __future__ import annotations

import math

import pytest

from core.figures.training import loss_curves, loss_figure
from core.text.live_training import LiveEvent


def events() -> list[LiveEvent]:
    return [
        LiveEvent(1, 3.2, None, [], 0.1, reference={"bigram": 2.43, "uniform": math.log(27)}),
        LiveEvent(2, 3.0, 2.9, ["ab"], 0.2),
        LiveEvent(3, 2.8, None, [], 0.3),
        LiveEvent(4, 2.6, 2.5, ["abc"], 0.4),
    ]


@pytest.mark.parametrize("unit, k", [("nats", 1.0), ("bits", 1 / math.log(2))])
def test_curves_are_the_events(unit, k):
    ev = events()
    c = loss_curves(ev, ev[0].reference, unit)
    assert c.steps == [1, 2, 3, 4] and c.train == pytest.approx([x * k for x in (3.2, 3.0, 2.8, 2.6)])
    assert c.heldout_steps == [2, 4] and c.heldout == pytest.approx([2.9 * k, 2.5 * k])
    assert c.bigram == pytest.approx(2.43 * k) and c.uniform == pytest.approx(math.log(27) * k)
    fig = loss_figure(c, total_steps=10).to_dict()
    names = [t["name"] for t in fig["data"]]
    assert names[:2] == ["training batch", "held-out (honest)"]
    assert names[2].startswith("bigram") and f"{2.43 * k:.2f}" in names[2]
    assert list(fig["data"][1]["y"]) == pytest.approx(c.heldout)
    assert fig["layout"]["yaxis"]["title"]["text"] == f"−log p, {unit} per character"


def test_loss_ledger_heatmap_draws_the_matrix_and_its_tokens():
    from core.figures.training import loss_ledger_figure

    nan = math.nan
    matrix = [[1.0, 2.0, nan], [0.5, 0.25, 3.0]]
    tokens = [["a", ".", ""], ["b", "c", "."]]
    prefixes = [[".", ".a", ""], [".", ".b", ".bc"]]
    for unit, k in (("nats", 1.0), ("bits", 1 / math.log(2))):
        trace = loss_ledger_figure(matrix, tokens, prefixes, unit).to_dict()["data"][0]
        assert trace["type"] == "heatmap" and list(trace["y"]) == ["example 1", "example 2"]
        assert list(trace["x"]) == [1, 2, 3]
        assert trace["z"][0][:2] == pytest.approx([1.0 * k, 2.0 * k]) and trace["z"][0][2] is None  # padding: blank
        assert trace["z"][1] == pytest.approx([0.5 * k, 0.25 * k, 3.0 * k])
        assert [list(c) for c in trace["customdata"][1]] == [[".", "b"], [".b", "c"], [".bc", "."]]
        assert [list(r) for r in trace["text"]] == tokens  # few columns: each cell names its token
        assert f"{unit}" in trace["hovertemplate"] and "customdata[1]" in trace["hovertemplate"]
    wide = loss_ledger_figure([[0.1] * 128], [["x"] * 128]).to_dict()["data"][0]
    assert "text" not in wide and len(wide["z"][0]) == 128  # too many columns to write in: hover only
