"""A chart with its numbers one click away: the plotly chart, then an expander holding the same
numbers as tables (core.figures.tables reads them from the figure, so they cannot disagree)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.figures.presenter import for_projector
from core.figures.tables import figure_tables
from pages.common import chart_config, presenting

TABLE_LABEL = "Numbers as a table"


def chart_with_table(
    fig: go.Figure,
    key: str,
    where=st,
    name: str | None = None,
    folded: bool = True,
    table: bool = True,
    **chart_kwargs,
) -> None:
    """Draw ``fig`` in ``where`` (the page, a column, a container) with an expander of its numbers below.

    ``chart_kwargs`` go to ``st.plotly_chart`` (e.g. ``width="stretch"``); the toolbar is
    ``chart_config(name or key)`` (``name`` names the PNG download). A chart already inside an expander
    passes ``folded=False``: its tables follow it under a caption, not in an expander within an expander.
    In presenter view its text is projector-size, at its own height (a page's main figure, which the page made
    projector-size and height already, stays as it is).
    """
    if presenting() and "xaxis2" not in fig.layout:  # a grid of panels keeps its sizes: bigger text overran them
        fig = for_projector(fig, height=None)
    where.plotly_chart(fig, key=key, config=chart_config(name or key), **chart_kwargs)
    if table:  # False: the page shows the same numbers in a table of its own, right below
        numbers_of(fig, where, folded)


def numbers_of(fig: go.Figure, where=st, folded: bool = True) -> None:
    """``fig``'s numbers in ``where``: in the "Numbers as a table" expander, or (``folded=False``) under a
    caption of that name. On its own for a chart whose table sits a row below it (a control row between)."""
    tables = figure_tables(fig)
    if not tables:
        return
    if not folded:
        where.caption(TABLE_LABEL)
        show_tables(tables, where)
        return
    with where.expander(TABLE_LABEL):
        show_tables(tables)


def show_tables(tables: list[tuple[str, dict[str, list]]], where=st) -> None:
    """Each table as a dataframe, under its title when there are several."""
    for title, columns in tables:
        if len(tables) > 1:
            where.caption(title)
        where.dataframe(arrow_ready(columns), hide_index=True)


def arrow_ready(columns: dict[str, list]) -> dict[str, list]:
    """A column that mixes numbers and words (a masked cell's name among weights) as text throughout, as
    Streamlit would show it anyway, without its logged fallback from Arrow's one type per column."""
    return {name: [_text(v) for v in values] if _mixed(values) else values for name, values in columns.items()}


def _mixed(values: list) -> bool:
    kinds = {type(v) for v in values if v is not None}
    return str in kinds and len(kinds) > 1


def _text(value) -> str | None:
    return None if value is None else str(value)
