"""A chart with its numbers one click away: the plotly chart, then an expander holding the same
numbers as tables (core.figures.tables reads them from the figure, so they cannot disagree)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.figures.tables import figure_tables
from pages.common import chart_config

TABLE_LABEL = "Numbers as a table"


def chart_with_table(fig: go.Figure, key: str, where=st, name: str | None = None, **chart_kwargs) -> None:
    """Draw ``fig`` in ``where`` (the page, a column, a container) with an expander of its numbers below.

    ``chart_kwargs`` go to ``st.plotly_chart`` (e.g. ``width="stretch"``); the toolbar is
    ``chart_config(name or key)`` (``name`` names the PNG download).
    """
    where.plotly_chart(fig, key=key, config=chart_config(name or key), **chart_kwargs)
    tables = figure_tables(fig)
    if not tables:
        return
    with where.expander(TABLE_LABEL):
        for title, columns in tables:
            if len(tables) > 1:
                st.caption(title)
            st.dataframe(columns, hide_index=True)
