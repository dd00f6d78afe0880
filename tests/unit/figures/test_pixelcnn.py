"""The PixelCNN page's figures (core.figures.pixelcnn): row zero at the top, the data drawn, probabilities
never shown as a flat 0 or 1."""

from __future__ import annotations

import numpy as np

from core.display import format_probability
from core.figures.pixelcnn import (
    mask_figure,
    nll_heatmap_figure,
    raster_order_figure,
    receptive_field_figure,
    sample_grid_figure,
    sampling_canvas_figure,
)
from core.lessons.receptive_field import (
    analytic_receptive_field,
    before_mask,
    blind_spot,
    growth,
)
from core.models.pixelcnn import pixelcnn_mask

# ---------------------------------------------------------------------------------------------
# Figures


def test_figures_draw_row_zero_at_the_top_with_the_right_data():
    rf = analytic_receptive_field("pixelcnn", 4, 14, 14)
    fig = receptive_field_figure(
        growth([analytic_receptive_field("pixelcnn", k, 14, 14) for k in range(1, 5)]),
        14,
        14,
        blind_spot(rf, 14, 14),
        "t",
    )
    assert tuple(fig.layout.yaxis.range) == (27.5, -0.5)
    z = np.array(fig.data[1].z, dtype=float)
    assert np.array_equal(~np.isnan(z), rf) and np.nanmax(z) == 4 and z[13, 14] == 1
    unreached = np.array(fig.data[0].z, dtype=float)
    assert np.array_equal(~np.isnan(unreached), before_mask(28, 14, 14) & ~rf)
    blind_trace = np.array(fig.data[3].z, dtype=float)
    assert np.array_equal(~np.isnan(blind_trace), blind_spot(rf, 14, 14))
    future = np.array(fig.data[2].z, dtype=float)
    assert np.isnan(future[14, 13]) and not np.isnan(future[14, 14]) and not np.isnan(future[27, 0])
    clickable = receptive_field_figure(growth([rf]), 14, 14, clickable=True)
    assert len(clickable.data[-1].x) == 784 and clickable.layout.clickmode == "event+select"

    fig = raster_order_figure(8, 1, 2)
    assert tuple(fig.layout.yaxis.range) == (7.5, -0.5)
    codes = np.array(fig.data[0].z)
    assert (codes.ravel()[:10] == 0).all() and codes[1, 2] == 1 and (codes.ravel()[11:] == 2).all()
    assert fig.data[0].text[0][0] == "1" and fig.data[0].text[7][7] == "64"

    codes = np.array(mask_figure(pixelcnn_mask("A", 7).numpy(), "A").data[0].z)
    assert np.array_equal(codes == 0, pixelcnn_mask("A", 7).numpy() > 0)

    image = np.zeros((28, 28), dtype=np.uint8)
    image[0, 0] = 1
    canvas = np.array(sampling_canvas_figure(image, 30).data[0].z)
    assert canvas[0, 0] == 1 and canvas[1, 1] == 0 and canvas[1, 2] == 2  # pixel 30 is being drawn
    assert sampling_canvas_figure(image, 30).layout.shapes[0].x0 == 1.5

    grid = np.array(sample_grid_figure(np.ones((16, 28, 28)), 8).data[0].z, dtype=float)
    assert grid.shape == (2 * 29 - 1, 8 * 29 - 1) and (grid[28] == 2).all() and (grid[:28, :28] == 1).all()
    heat = nll_heatmap_figure(np.arange(784.0).reshape(28, 28), "nll")
    assert tuple(heat.layout.yaxis.range) == (27.5, -0.5) and heat.data[0].z[0][5] == 5.0
    assert heat.data[0].colorscale[0] == (0.0, "rgb(0, 0, 4)")  # not "#000004": Streamlit's theme placeholder


def test_probabilities_are_never_displayed_as_a_flat_0_or_1():
    assert format_probability(0.5111) == "0.511"
    assert format_probability(2.13e-5) == "2.13e-05"
    assert format_probability(1 - 4e-6) == "1 − 4.00e-06"
    assert format_probability(0.0) == "0.00e+00"
