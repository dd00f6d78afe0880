"""The ranking figure carries the ranking's numbers: each bar's token segments add up to its candidate's total."""

import math

import pytest

from core.figures.ranking import ranking_bars
from core.lessons.ranking import rank_candidates
from core.text.vocab import names_vocab
from tests.unit.lessons.test_chain_rule import tiny_gpt


@pytest.mark.parametrize("unit", ["nats", "bits"])
def test_segments_add_up_to_each_total_most_likely_on_top(unit):
    lm = tiny_gpt(names_vocab(), block_size=8, seed=0, name="names")
    ranking = rank_candidates(lm, "jo", ["hn", "seph", "x"])
    fig = ranking_bars(ranking, unit)
    bars, totals = fig.data
    scale = 1 if unit == "nats" else 1 / math.log(2)
    labels = list(totals.y)
    assert list(fig.layout.yaxis.categoryarray) == labels[::-1]  # rank 1 drawn at the top
    for label, c, total in zip(labels, ranking.ranked, totals.x, strict=True):
        widths = [w for w, y in zip(bars.x, bars.y, strict=True) if y == label]
        starts = [b for b, y in zip(bars.base, bars.y, strict=True) if y == label]
        assert label.endswith(c.text) and total == pytest.approx(-c.logp * scale)
        assert sum(widths) == pytest.approx(total)
        assert starts == pytest.approx([sum(widths[:i]) for i in range(len(widths))])  # segments end to end
        assert [t for t, y in zip(bars.text, bars.y, strict=True) if y == label] == [t for t, _ in c.costs]
