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


def test_a_grid_of_heatmap_panels_gives_one_table_per_panel_titled_by_it():
    from core.figures.attention_grid import attention_grid

    n_layer, n_head, T = 2, 3, 4
    weights = np.random.default_rng(3).random((n_layer, n_head, T, T))
    allowed = np.tril(np.ones((T, T), dtype=bool))
    labels = ["<s>", "a", "b", "c"]
    tables = figure_tables(attention_grid(weights, labels, allowed=allowed))
    assert [t for t, _ in tables] == [f"layer {i + 1} · head {h + 1}" for i in range(n_layer) for h in range(n_head)]
    for (_, columns), panel in zip(tables, weights.reshape(-1, T, T), strict=True):
        assert columns["row"] == labels
        grid = _grid(columns)
        np.testing.assert_allclose([grid[i][j] for i, j in zip(*np.nonzero(allowed), strict=True)], panel[allowed])
        assert {grid[i][j] for i, j in zip(*np.nonzero(~allowed), strict=True)} == {"masked (future)"}


def test_the_sampling_canvas_table_has_the_drawn_pixels_and_nothing_for_the_rest():
    from core.figures.pixelcnn import sampling_canvas_figure

    image = (np.random.default_rng(4).random((5, 5)) > 0.5).astype(int)
    step = 7  # pixels 0..6 in raster order are drawn
    fig = sampling_canvas_figure(image, step, np.full((5, 5), 0.5), "frame")
    (_, columns), *rest = figure_tables(fig)
    assert rest == []
    codes = np.asarray(fig.data[0].z)  # the colour codes drawn: 0 / 1 a pixel, 2 not drawn yet
    cells = np.array(_grid(columns), dtype=object)
    assert (codes < 2).sum() == step
    np.testing.assert_array_equal(cells[codes < 2].astype(int), codes[codes < 2])
    np.testing.assert_array_equal(cells[codes < 2].astype(int), image.ravel()[:step])  # raster order: row by row
    assert set(cells[codes == 2]) == {""}


def test_a_grid_of_samples_lists_pixels_and_leaves_the_separators_blank():
    from core.figures.pixelcnn import sample_grid_figure

    images = (np.random.default_rng(5).random((3, 4, 4)) > 0.5).astype(int)
    fig = sample_grid_figure(images, n_cols=2)
    (_, columns), *_ = figure_tables(fig)
    cells = np.array(_grid(columns), dtype=object)
    codes = np.asarray(fig.data[0].z)
    assert cells.shape == codes.shape
    np.testing.assert_array_equal(cells[:4, :4].astype(int), images[0])
    np.testing.assert_array_equal(cells[:4, 5:9].astype(int), images[1])
    assert set(cells[codes == 2]) == {""}


def test_legend_only_entries_give_no_table():
    from core.figures.pixelcnn import raster_order_figure

    fig = raster_order_figure(3, 1, 1)  # one grid plus three legend entries drawn at x = y = None
    assert len(fig.data) == 4
    (title, columns), *rest = figure_tables(fig)
    assert rest == [] and title.startswith("Raster order")
    assert _grid(columns) == [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]  # the scan order written in


def test_horizontal_segments_keep_their_words_and_totals_their_labels():
    import plotly.graph_objects as go

    labels, tokens, widths = ["1. jo", "1. jo", "2. ed"], ["j", "o", "ed"], [1.5, 0.25, 2.0]
    fig = go.Figure([go.Bar(x=widths, y=labels, orientation="h", text=tokens, name="token costs"),
                     go.Scatter(x=[1.75, 2.0], y=["1. jo", "2. ed"], mode="text", text=["  1.75", "  2.00"])])  # fmt: skip
    fig.update_layout(xaxis_title="−log p")
    (_, bars), (_, totals) = figure_tables(fig)
    assert bars == {"label": labels, "text": tokens, "−log p": widths}  # no axis title: text positions are labels
    assert totals == {"label": ["1. jo", "2. ed"], "−log p": [1.75, 2.0]}  # its text only writes the values out


def test_a_dot_named_by_its_text_lists_the_name():
    from core.figures.chain_rule import ordering_scatter
    from core.lessons.ordering import HeldoutComparison

    names = ["anna", "bo", "cy"]
    comparison = HeldoutComparison(names, np.array([9.0, 7.5, 8.25]), np.array([9.5, 7.0, 8.0]), 12)
    tables = dict(figure_tables(ordering_scatter(comparison)))
    columns = tables["3 held-out names"]
    assert list(columns)[0] == "name" and columns["name"] == names  # the row's name first, then its two numbers
    assert list(columns.values())[1] == [9.0, 7.5, 8.25] and list(columns.values())[-1] == [9.5, 7.0, 8.0]


def test_an_infinite_term_is_infinite_in_the_table_not_the_height_of_its_bar():
    import math

    from core.figures.chain_rule import worked_waterfall
    from core.lessons.chain_rule import worked_example

    example = worked_example([0.5, 0.0, 0.25])
    (_, columns), *_ = figure_tables(worked_waterfall(example))
    values = list(columns.values())[-1]
    assert values[0] == pytest.approx(math.log(2)) and values[2] == pytest.approx(math.log(4))
    assert values[1] == math.inf and values[3] == math.inf  # the factor 0 and the total
