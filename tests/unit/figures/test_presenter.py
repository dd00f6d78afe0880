"""``for_projector``: every text of a figure grows, nothing shrinks, the figure fits a 720 px screen,
and the caller's figure is left as it was. Checked on the real main figures of the lesson pages."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core.figures.attention import mask_figure
from core.figures.chain_rule import worked_waterfall
from core.figures.presenter import PROJECTOR_FONT, PROJECTOR_HEIGHT, SMALLEST, for_projector
from core.lessons.chain_rule import worked_example


def toy() -> go.Figure:
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2], text=["1", "2"], textfont=dict(size=10)))
    fig.add_annotation(text="small", x=0, y=1, font=dict(size=9))
    fig.update_layout(title="t", height=300, xaxis=dict(tickfont=dict(size=11)), yaxis2=dict(overlaying="y"))
    return fig


def texts(fig: go.Figure) -> list[float]:
    """Every font size the figure sets explicitly (an independent walk over its JSON)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if (
                    k in ("font", "tickfont", "textfont")
                    and isinstance(v, dict)
                    and isinstance(v.get("size"), int | float)
                ):
                    found.append(v["size"])
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(fig.to_plotly_json())
    return found


def test_every_set_size_grows_by_the_font_ratio_and_none_is_below_the_floor():
    before = toy()
    after = for_projector(before)
    ratio = PROJECTOR_FONT / 12
    assert after.data[0].textfont.size == round(10 * ratio)
    assert after.layout.annotations[0].font.size == max(SMALLEST, round(9 * ratio))
    assert after.layout.xaxis.tickfont.size == round(11 * ratio)
    assert after.layout.yaxis2.tickfont.size == round(12 * ratio)  # an unset size starts from plotly's 12
    assert after.layout.font.size == PROJECTOR_FONT
    assert min(texts(after)) >= SMALLEST
    assert after.layout.height == PROJECTOR_HEIGHT
    assert after.layout.xaxis.automargin and after.layout.yaxis.automargin


def test_the_callers_figure_is_not_changed():
    before = toy()
    saved = before.to_plotly_json()
    for_projector(before)
    assert before.to_plotly_json() == saved


@pytest.mark.parametrize(
    "make",
    [
        lambda: worked_waterfall(worked_example([0.5, 0.25, 0.8])),
        lambda: mask_figure(np.tril(np.ones((5, 5), dtype=bool)), list("abcde"), "mask"),
    ],
    ids=["waterfall", "mask"],
)
def test_real_figures_get_bigger_everywhere(make):
    before, after = make(), for_projector(make())
    assert min(texts(after)) >= SMALLEST
    old, new = texts(before), texts(after)
    assert len(new) >= len(old)
    assert after.layout.font.size > (before.layout.font.size or 12)
    assert after.layout.height == PROJECTOR_HEIGHT


def test_a_smaller_height_is_kept():
    assert for_projector(toy(), height=400).layout.height == 400


def test_no_colour_bar_appears_and_a_legend_under_the_plot_moves_to_its_right():
    fig = go.Figure([go.Heatmap(z=[[0, 1]], showscale=False), go.Scatter(x=[0], y=[0], marker=dict(size=5))])
    fig.update_layout(legend=dict(orientation="h", y=-0.02, yanchor="top"))
    after = for_projector(fig).to_plotly_json()
    assert all("colorbar" not in t and "colorbar" not in t.get("marker", {}) for t in after["data"])
    assert after["layout"]["legend"]["orientation"] == "v" and after["layout"]["legend"]["x"] > 1


def test_a_figure_is_made_projector_size_once_and_can_keep_its_height():
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    fig.update_layout(height=300, xaxis_tickfont_size=12)
    once = for_projector(fig, height=None)
    assert once.layout.height == 300 and once.layout.xaxis.tickfont.size == 18
    twice = for_projector(once)
    assert twice.layout.xaxis.tickfont.size == 18 and twice.layout.height == 300  # unchanged the second time
    assert fig.layout.xaxis.tickfont.size == 12  # the caller's figure is not touched


def test_a_bottom_legend_stays_put_beside_a_colour_bar():
    from core.figures.pixelcnn import receptive_field_figure

    growth = np.zeros((28, 28), int)
    growth[10:13, 9:14] = 1
    blind = np.zeros((28, 28), bool)
    blind[11, 14] = True
    fig = receptive_field_figure(growth, 12, 12, blind, "rf")
    big = for_projector(fig)
    assert big.layout.legend.orientation == "h" and big.layout.legend.yref == "container"  # the right is the bar's
