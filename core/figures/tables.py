"""Any chart's numbers as plain tables: what a screen reader, or a student copying values, reads
instead of the picture.

``figure_tables(fig)`` reads the data a plotly figure draws — each heatmap's grid, each bar, line or
waterfall trace's points — and returns one ``(title, columns)`` per trace, ``columns`` a dict of
equal-length lists that ``st.dataframe`` shows as it is. Nothing is recomputed: the table holds
exactly the numbers the chart was drawn from.

A figure says more than plotly draws through three plain trace attributes: a heatmap of category codes
names its cells by its per-cell ``text`` (written in the cells or not), a trace's per-point ``text`` that
is words (a bar's token, a dot's name) labels its points, and ``meta={"values": [...]}`` holds the true
values of points drawn as stand-ins (a bar for ∞ reaching past the top of the axis).
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go


def _labels(values, n: int, axis, keep_numbers: bool = False) -> list:
    """Tick labels of n cells: the trace's own x or y, read through the axis' tickvals -> ticktext
    when the figure names its ticks that way; positions 0..n-1 when the trace gives none. Numbers stay
    numbers with ``keep_numbers`` (a curve's steps), else every label is text (a table's column names)."""
    if values is None:
        values = list(range(n))
    names = {}
    if axis is not None and axis.tickvals is not None and axis.ticktext is not None:
        names = {v: t for v, t in zip(axis.tickvals, axis.ticktext, strict=False) if t != ""}
    return [
        v if keep_numbers and v not in names and isinstance(v, int | float) else html.unescape(str(names.get(v, v)))
        for v in (x.item() if isinstance(x, np.generic) else x for x in list(values)[:n])
    ]


def _unique(names: list[str]) -> list[str]:
    """Column names a table can hold: repeated labels (a token seen twice) get their position."""
    if len(set(names)) == len(names):
        return names
    return [f"{i}: {name}" for i, name in enumerate(names)]


def _number(v):
    """A cell as a plain float (None where the chart leaves a gap)."""
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def _axis(fig: go.Figure, trace, letter: str):
    ref = getattr(trace, f"{letter}axis", None) or letter
    return fig.layout[f"{letter}axis{ref[1:]}"] if ref[1:] else fig.layout[f"{letter}axis"]


def _heatmap(fig: go.Figure, layers: list) -> dict[str, list]:
    """Heatmap traces drawn over the same cells as one grid. A layer of varying numbers gives its
    numbers; a layer of one constant value only marks cells (a mask's grey "future" cells), so it
    gives its name. Where layers overlap, the first one drawn that has a number there wins."""
    first = layers[0]
    z0 = np.asarray(first.z, dtype=float)  # (rows, columns)
    grid = np.full(z0.shape, None, dtype=object)
    for trace in layers:
        z = np.asarray(trace.z, dtype=float)
        drawn = ~np.isnan(z)
        marker = len(np.unique(z[drawn])) <= 1 and len(layers) > 1
        text = _cell_text(trace, z)
        for i, j in zip(*np.nonzero(drawn & (grid == None)), strict=True):  # noqa: E711 (element-wise)
            grid[i, j] = html.unescape(str(trace.name)) if marker else text[i][j] if text else float(z[i, j])
    rows = _labels(first.y, z0.shape[0], _axis(fig, first, "y"))
    cols = _unique(_labels(first.x, z0.shape[1], _axis(fig, first, "x")))
    order = range(len(rows)) if _reversed(_axis(fig, first, "y")) else range(len(rows) - 1, -1, -1)
    columns: dict[str, list] = {"row": [rows[i] for i in order]}  # top row of the picture first
    for j, name in enumerate(cols):
        columns[name if name != "row" else "row (column)"] = [grid[i, j] for i in order]
    return columns


def _cell_text(trace, z: np.ndarray) -> list | None:
    """Each cell's own text when the colours are only category codes (whole numbers standing for
    "allowed" / "blocked", "ink" / "not drawn yet"): then the text, written in the cell or given for the
    table alone, is what the cell says, not its code."""
    if trace.text is None or isinstance(trace.text, str):
        return None
    text = np.asarray(trace.text, dtype=object)
    drawn = z[~np.isnan(z)]
    if text.shape != z.shape or not np.all(drawn == np.round(drawn)):
        return None
    return [[html.unescape(str(t)) for t in row] for row in text]


def _reversed(axis) -> bool:
    """True when the axis runs downwards (row 0 at the top), as the lesson's grids and heatmaps draw it."""
    if axis is None:
        return False
    if axis.autorange == "reversed":
        return True
    return axis.range is not None and axis.range[0] > axis.range[1]


def _is_number(v) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _words(trace, n: int) -> list[str] | None:
    """The points' own text when it is words (a segment's token, a dot's name), one per point; None when
    there is none or it only writes the values out (those are in the value column already)."""
    text = trace.text
    if text is None or isinstance(text, str) or len(text) != n:
        return None
    words = [html.unescape(str(t)) for t in text]
    if all(_is_number(t) or not t.strip() for t in words):
        return None
    return words


def _points(fig: go.Figure, trace) -> dict[str, list] | None:
    """(position, value) pairs of a bar, line or waterfall trace; None when it has no numbers (a legend
    entry drawn at x = y = None). Values sit on the numeric axis: y unless the bars are horizontal or the
    positions are text on the y axis (a label at the end of each horizontal bar)."""
    x = list(trace.x) if trace.x is not None else None
    y = list(trace.y) if trace.y is not None else None
    horizontal = getattr(trace, "orientation", None) == "h" or (
        y is not None and x is not None and not any(_is_number(v) for v in y) and any(_is_number(v) for v in x)
    )
    values, where = (x, y) if horizontal else (y, x)
    if isinstance(trace.meta, dict) and "values" in trace.meta:
        values = list(trace.meta["values"])  # what stand-in points (∞ past the top) really are
    if not any(_is_number(v) for v in values or []):
        return None
    n = len(values)
    labels = _labels(where, n, _axis(fig, trace, "y" if horizontal else "x"), keep_numbers=True)
    value_axis = _axis(fig, trace, "x" if horizontal else "y")
    label_axis = _axis(fig, trace, "y" if horizontal else "x")
    value_name = (value_axis.title.text if value_axis is not None and value_axis.title.text else None) or "value"
    meta = trace.meta if isinstance(trace.meta, dict) else {}
    label_name = (
        (label_axis.title.text if label_axis is not None and label_axis.title.text else None)
        or meta.get("label")  # what the positions are, named by a figure whose axis has no title
        or ("position" if all(_is_number(v) for v in labels) else "label")
    )
    if label_name == value_name:
        value_name += " (value)"
    columns = {label_name: labels}
    if (words := _words(trace, n)) is not None:
        word_name = meta.get("text", "text")  # what the written words are (a dot's name)
        if all(_is_number(v) for v in labels):  # dots placed by two numbers: the row's name first
            columns = {word_name: words, label_name: labels}
        else:  # a label per position, then the words written on it
            columns[word_name if word_name != label_name else f"{word_name} (written)"] = words
    columns[value_name] = [_number(v) for v in values]
    return columns


def figure_tables(fig: go.Figure) -> list[tuple[str, dict[str, list]]]:
    """One (title, columns) per chart with numbers: heatmaps as grids (a row per y label, a column per
    x label; layers over the same cells merged), bars / lines / waterfalls as (position, value) pairs.
    A grid of several heatmap panels (subplots) gives one table per panel, titled by its trace's name.
    Traces without numbers (images, text-only annotations, legend-only entries) are left out."""
    tables = []
    grids: dict[tuple, list] = {}  # heatmap layers by (axes, shape)
    for trace in fig.data:
        if trace.type == "heatmap" and trace.z is not None:
            shape = np.asarray(trace.z, dtype=float).shape
            grids.setdefault((trace.xaxis, trace.yaxis, shape), []).append(trace)
    figure_title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else None
    for i, trace in enumerate(fig.data):
        title = html.unescape(str(trace.name or figure_title or f"chart {i + 1}"))
        if trace.type == "heatmap" and trace.z is not None:
            layers = grids[(trace.xaxis, trace.yaxis, np.asarray(trace.z, dtype=float).shape)]
            if trace is layers[0]:
                panel = trace.name if len(grids) > 1 and trace.name else figure_title or title
                tables.append((html.unescape(str(panel)), _heatmap(fig, layers)))
        elif trace.type in ("bar", "waterfall") or (
            trace.type == "scatter" and trace.x is not None and trace.y is not None
        ):
            if (columns := _points(fig, trace)) is not None:
                tables.append((title, columns))
    return tables
