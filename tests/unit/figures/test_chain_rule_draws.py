"""core.figures.chain_rule's draws figures: the numbers handed in are the numbers drawn."""

from __future__ import annotations

from core.figures.chain_rule import convergence_figure, joint_draws_figure


def test_the_draws_figure_shows_the_joint_the_frequencies_and_only_when_asked_the_changed_joint():
    labels, joint, drawn = ["AAA", "AAB"], [0.25, 0.75], [0.3, 0.7]
    plain = joint_draws_figure(labels, joint, drawn)
    assert [t.type for t in plain.data] == ["bar", "bar"]
    assert list(plain.data[0].y) == joint and list(plain.data[1].y) == drawn and list(plain.data[0].x) == labels
    changed = joint_draws_figure(labels, joint, drawn, implied=[0.0, 1.0])
    assert changed.data[2].type == "scatter" and list(changed.data[2].y) == [0.0, 1.0]


def test_the_convergence_figure_is_log_log_with_the_expected_line():
    fig = convergence_figure([10, 100, 1000], [0.3, 0.1, 0.03], [0.31, 0.098, 0.031])
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert list(fig.data[0].x) == [10, 100, 1000] and list(fig.data[1].y) == [0.31, 0.098, 0.031]
