"""figure_tables: a chart's numbers as tables, checked against the arrays the charts were drawn from."""

from __future__ import annotations

import numpy as np
import pytest

from core.figures.attention import mask_figure, value_heatmap
from core.figures.pixelcnn import nll_comparison_figure, nll_heatmap_figure
from core.figures.tables import figure_tables


def _grid(columns: dict[str, list]) -> list[list]:
    """The table's cells, row by row (without the row label column)."""
    return [list(row) for row in zip(*[v for k, v in columns.items() if k != "row"], strict=True)]


def test_heatmap_table_is_the_array_it_was_drawn_from():
    nll = np.random.default_rng(1).random((6, 6)) * 3
    (title, columns), *rest = figure_tables(nll_heatmap_figure(nll, "per pixel"))
    assert rest == []
    np.testing.assert_allclose(np.array(_grid(columns), dtype=float), nll)
    assert len(columns["row"]) == 6


def test_masked_heatmap_gives_weights_below_and_the_mask_name_above_the_diagonal():
    T = 4
    weights = np.random.default_rng(2).random((T, T))
    allowed = np.tril(np.ones((T, T), dtype=bool))
    labels = ["<s>", "a", "b", "a"]  # a repeated token still gets its own column
    (_, columns), *rest = figure_tables(value_heatmap(weights, labels, "t", allowed=allowed))
    assert rest == []
    assert columns["row"] == labels
    assert len(columns) == T + 1  # row labels + one column per position, none merged
    grid = _grid(columns)
    for i in range(T):
        for j in range(T):
            if allowed[i, j]:
                assert grid[i][j] == pytest.approx(weights[i, j])
            else:
                assert isinstance(grid[i][j], str) and grid[i][j]  # the mask layer's name, not a number


def test_mask_figure_table_names_every_cell_by_the_mask():
    T = 3
    allowed = np.tril(np.ones((T, T), dtype=bool))
    (_, columns), *_ = figure_tables(mask_figure(allowed, ["x", "y", "z"], "mask"))
    grid = _grid(columns)
    names = {grid[i][j] for i in range(T) for j in range(T) if allowed[i, j]}
    others = {grid[i][j] for i in range(T) for j in range(T) if not allowed[i, j]}
    assert len(names) == 1 and len(others) == 1 and names != others


def test_bar_table_pairs_each_label_with_its_value():
    names, values = ["test digit", "shifted", "noise"], [101.5, 120.25, 480.0]
    (_, columns), *rest = figure_tables(nll_comparison_figure(names, values))
    assert rest == []
    label_col, value_col = list(columns)
    assert dict(zip(columns[label_col], columns[value_col], strict=True)) == dict(zip(names, values, strict=True))


def test_line_table_keeps_every_point_of_every_curve():
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=[0, 10, 20], y=[3.0, 2.5, 2.25], name="training"),
                     go.Scatter(x=[0, 20], y=[3.1, 2.4], name="held-out")])  # fmt: skip
    fig.update_layout(xaxis_title="step", yaxis_title="loss (nats)")
    tables = figure_tables(fig)
    assert [t for t, _ in tables] == ["training", "held-out"]
    assert tables[0][1] == {"step": [0, 10, 20], "loss (nats)": [3.0, 2.5, 2.25]}
    assert tables[1][1] == {"step": [0, 20], "loss (nats)": [3.1, 2.4]}


def test_kernel_mask_table_shows_the_written_0_and_1_not_the_colour_codes():
    from core.figures.pixelcnn import mask_figure

    # mask A written out by hand: rows above the centre and the centre row's left half are kept
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    (_, columns), *_ = figure_tables(mask_figure(mask, "mask A"))
    assert np.array(_grid(columns), dtype=int).tolist() == (np.asarray(mask) > 0).astype(int).tolist()


def test_a_plain_heatmap_lists_its_top_row_first():
    import plotly.graph_objects as go

    z = [[1.0, 2.0], [3.0, 4.0]]  # plotly draws z[0] at the bottom unless the y axis is reversed
    (_, columns), *_ = figure_tables(go.Figure(go.Heatmap(z=z)))
    assert columns["row"] == ["1", "0"]
    assert _grid(columns) == [[3.0, 4.0], [1.0, 2.0]]
