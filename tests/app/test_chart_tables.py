"""Issue 31: every chart has its numbers one click away. Each page is run through AppTest and every plotly
chart it sends must be followed, in its own container, by the "Numbers as a table" expander (or, inside an
expander already, by that caption and its tables); the tables of the charts redrawn in place show the
numbers of the frame on screen, checked against the chart's own arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from pages.charts import TABLE_LABEL
from pages.common import shared_model
from tests.app.helpers import arr, chart, click, open_script, run

torch.set_num_threads(1)
PAGES = Path(__file__).resolve().parents[2] / "pages"
TIMEOUT = 120
# charts whose numbers are already on screen: the very next element is the table (the ledger's dataframe)
TABLE_ON_SCREEN = ("cr_ledger_chart",)
# charts whose table follows one row of their own controls (Draw N times stays right under the live chart)
TABLE_AFTER_A_ROW = ("sampling_distribution",)


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


def charts_without_table(at: AppTest) -> list[str]:
    """The ids of the plotly charts not followed by their numbers, anywhere on the page."""
    return [element.proto.id for element, table in _charts(at) if table is None]


def tables_after(at: AppTest, key: str) -> list:
    """The dataframes (as pandas) of the table that follows the chart with widget key ``key``."""
    for element, table in _charts(at):
        if element.proto.id.endswith(f"-{key}"):
            assert table is not None and table.type in ("expandable", "expander"), f"{key!r} has no table expander"
            return [e.value for e in _elements(table) if e.type in ("dataframe", "arrow_data_frame")]
    raise AssertionError(f"no chart with key {key!r}")


def _charts(at: AppTest) -> list[tuple]:
    """Every plotly chart of the page, each with the element holding its numbers (None if there is none)."""
    found, blocks = [], [at.main]
    while blocks:
        elements = _elements(blocks.pop())
        for i, element in enumerate(elements):
            if getattr(element, "children", None):
                blocks.append(element)
            if element.type == "plotly_chart":
                found.append((element, _table(element, elements[i + 1 :])))
    return found


def _elements(block) -> list:
    return [block.children[k] for k in sorted(block.children)]


def _table(chart_element, following: list):
    """The chart's table among the elements after it: the next one (a row later for TABLE_AFTER_A_ROW), seen
    through a plain container; an expander or caption named TABLE_LABEL, or the dataframe of TABLE_ON_SCREEN."""
    chart_id = chart_element.proto.id
    skip = 1 if chart_id.endswith(TABLE_AFTER_A_ROW) else 0
    if len(following) <= skip:
        return None
    after = following[skip]
    while after.type == "flex_container" and getattr(after, "children", None):  # a placeholder's container
        after = _elements(after)[0]
    if chart_id.endswith(TABLE_ON_SCREEN):
        return after if after.type in ("dataframe", "arrow_data_frame") else None
    if after.type in ("expandable", "expander") and after.label == TABLE_LABEL and getattr(after, "children", None):
        return after
    return after if after.type == "caption" and after.value == TABLE_LABEL else None


def test_the_check_finds_a_chart_drawn_without_its_table():
    at = AppTest.from_string(
        "import plotly.graph_objects as go\n"
        "import streamlit as st\n"
        "from pages.charts import chart_with_table\n"
        "fig = go.Figure(go.Bar(x=['a', 'b'], y=[1.0, 2.0]))\n"
        "st.plotly_chart(fig, key='bare')\n"
        "chart_with_table(fig, 'tabled')\n"
        "with st.expander('more'):\n"
        "    chart_with_table(fig, 'inline', folded=False)\n"
        "    st.plotly_chart(fig, key='bare_inside')\n"
    )
    run(at)
    assert [i.rsplit("-", 1)[-1] for i in charts_without_table(at)] == ["bare", "bare_inside"]


@pytest.mark.parametrize("page", ["chain_rule", "attention", "sampling", "training", "pixelcnn", "tour"])
def test_every_chart_of_a_page_in_its_default_state_has_its_table(page):
    at = open_script(str(PAGES / f"{page}.py"), TIMEOUT)
    assert at.get("plotly_chart"), f"{page} drew no chart: the check would prove nothing"
    assert charts_without_table(at) == []


def test_the_attention_grid_has_a_table_per_head():
    at = open_script(str(PAGES / "attention.py"), TIMEOUT)
    panels = [t for t in chart(at, "attention_grid_fig")["data"] if t.get("name", "").startswith("layer")]
    tables = tables_after(at, "attention_grid_fig")
    assert len(tables) == len(panels) > 1
    for panel, table in zip(panels, tables, strict=True):
        weights = arr(panel["z"])  # NaN where the mask hides the future: the table names the mask there
        cells = table.drop(columns="row").to_numpy()
        np.testing.assert_allclose(cells[~np.isnan(weights)].astype(float), weights[~np.isnan(weights)])


def test_the_ranking_chart_has_its_table_with_each_tokens_cost():
    at = open_script(str(PAGES / "chain_rule.py"), TIMEOUT)
    at.segmented_control(key="cr_rank_model").set_value("names")
    run(at)
    assert charts_without_table(at) == []
    spec = chart(at, "cr_rank_chart")
    bars, totals = tables_after(at, "cr_rank_chart")
    np.testing.assert_allclose(bars.iloc[:, -1].to_numpy(float), arr(spec["data"][0]["x"]))  # one row per segment
    assert list(bars["text"]) == spec["data"][0]["text"]  # the token written on each segment
    np.testing.assert_allclose(totals.iloc[:, -1].to_numpy(float), arr(spec["data"][1]["x"]))


def test_the_caching_and_timing_charts_have_their_tables():
    at = open_script(str(PAGES / "sampling.py"), TIMEOUT, model="names", kv_model="names", prompt="ma", seed=19)
    click(at, "sampling_kv_run")
    click(at, "sampling_next")
    click(at, "sampling_next")
    for key in ("sampling_kv_chart", "sampling_kv_totals", "sampling_timing_chart"):
        assert chart(at, key)
    assert charts_without_table(at) == []


def test_the_live_distribution_table_is_the_step_on_screen():
    at = open_script(str(PAGES / "sampling.py"), TIMEOUT, model="names", prompt="ma", seed=3)
    for _ in range(2):
        click(at, "sampling_next")
        spec = chart(at, "sampling_distribution")
        (table,) = tables_after(at, "sampling_distribution")
        np.testing.assert_allclose(table["probability"].to_numpy(float), arr(spec["data"][0]["y"]))
        assert list(table["token"]) == spec["layout"]["xaxis"]["ticktext"]  # the names model's tokens: plain letters


def test_the_pixel_animation_table_shows_the_pixels_drawn_so_far():
    at = open_script(str(PAGES / "pixelcnn.py"), TIMEOUT)
    at.button(key="pcnn_anim_row").click().run()
    at.button(key="pcnn_anim_step1").click().run()
    step = at.session_state["pcnn_anim_step"]
    codes = arr(chart(at, "pcnn_anim_fig")["data"][0]["z"]).astype(int)  # 0/1 drawn, 2 not drawn yet
    (table,) = tables_after(at, "pcnn_anim_fig")
    cells = table.drop(columns="row").to_numpy()
    assert (cells != "").sum() == step
    np.testing.assert_array_equal(cells[codes < 2].astype(int), codes[codes < 2])
    assert set(cells[codes == 2]) == {""}
