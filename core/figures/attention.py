"""Figures of the attention lesson: masks, attention weights and dependence as heatmaps.

Every heatmap uses the same convention: row i (y axis, row 0 at the TOP) is the position
predicting, column j (x axis) is the position it reads, tokens as tick labels. Cells the causal
mask forbids are drawn in a neutral grey that no colour of the value scale uses, and the hover
text of every cell gives its exact value.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

# Colours that read on both the light and the dark theme.
MASKED_COLOUR = "#a6a6a6"  # forbidden cells: opaque mid grey, so text on it reads on both themes
HIGHLIGHT_COLOUR = "#ff7f0e"  # the selected query row / head: orange outline
VALUE_SCALE = "Viridis"  # 0 = dark purple, 1 = yellow; never grey
ALLOWED_COLOUR = "#2a9d8f"  # "may read" cells of the mask figure

TICK_FONT = dict(size=15)
X_TITLE = "position read (column j)"
Y_TITLE = "position predicting (row i)"


def _esc(label: str) -> str:
    """A token as plotly text: plotly reads a little HTML, so the start token "<s>" would vanish as a tag."""
    return html.escape(label, quote=False)


MAX_TICK_LABELS = 20  # more token labels than this on a half-width heatmap ran into each other (28 at 1280 px)


def _axis_style(labels: list[str], show_ticks: bool = True) -> dict:
    """Token tick labels on an axis of a (T, T) heatmap: every one up to MAX_TICK_LABELS, else every
    step-th (each cell's hover still names its tokens)."""
    T = len(labels)
    step = -(-T // MAX_TICK_LABELS)
    shown = [_esc(label) if i % step == 0 else "" for i, label in enumerate(labels)]
    return dict(
        tickmode="array",
        tickvals=list(range(T)),
        ticktext=shown if show_ticks else [""] * T,
        ticks=None if show_ticks else "",  # no tick marks where there are no labels
        tickfont=TICK_FONT,
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )


def _axes(fig: go.Figure, labels: list[str], titles: bool = True) -> None:
    """Token tick labels on both axes, row 0 at the top (as a matrix is written)."""
    common = _axis_style(labels)
    fig.update_xaxes(**common, side="bottom", title_text=X_TITLE if titles else None)
    fig.update_yaxes(**common, autorange="reversed", title_text=Y_TITLE if titles else None)


def _cell_text(labels: list[str], what: str, values: np.ndarray, fmt: str) -> np.ndarray:
    """(T, T) hover strings: which query reads which key, and the exact value."""
    T = len(labels)
    return np.array(
        [
            [
                f"row {i} '{_esc(labels[i])}' reads column {j} '{_esc(labels[j])}'<br>{what} = {values[i, j]:{fmt}}"
                for j in range(T)
            ]
            for i in range(T)
        ],
        dtype=object,
    )


def _grey_trace(cells: np.ndarray, hover: np.ndarray, name: str) -> go.Heatmap:
    """Grey where ``cells`` is True, transparent elsewhere; ``hover`` is the (T, T) text of each cell."""
    T = cells.shape[0]
    return go.Heatmap(
        z=np.where(cells, 1.0, np.nan),
        x=list(range(T)),
        y=list(range(T)),
        colorscale=[[0, MASKED_COLOUR], [1, MASKED_COLOUR]],
        showscale=False,
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        name=name,
        hoverongaps=False,
    )


def _masked_trace(allowed: np.ndarray, labels: list[str]) -> go.Heatmap:
    """Grey cells where the mask forbids reading (j > i); transparent elsewhere."""
    T = len(labels)
    hover = np.array(
        [
            [
                f"row {i} '{_esc(labels[i])}' may NOT read column {j} '{_esc(labels[j])}' (the future)<br>weight = 0 exactly"
                for j in range(T)
            ]
            for i in range(T)
        ],
        dtype=object,
    )
    return _grey_trace(~allowed, hover, "masked (future)")


def value_heatmap(
    values: np.ndarray,
    labels: list[str],
    title: str,
    what: str = "weight",
    allowed: np.ndarray | None = None,
    highlight_row: int | None = None,
    zmax: float = 1.0,
    fmt: str = ".4f",
    colorbar_title: str | None = None,
    height: int = 460,
) -> go.Figure:
    """A (T, T) matrix of values in [0, zmax]; cells where ``allowed`` is False are drawn as masked."""
    T = len(labels)
    z = values.astype(float).copy()
    if allowed is not None:
        z[~allowed] = np.nan  # drawn by the grey mask trace instead
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(T)),
            y=list(range(T)),
            zmin=0.0,
            zmax=zmax,
            colorscale=VALUE_SCALE,
            customdata=_cell_text(labels, what, values, fmt),
            hovertemplate="%{customdata}<extra></extra>",
            hoverongaps=False,
            colorbar=dict(title=dict(text=colorbar_title or what), tickfont=TICK_FONT),
            name=what,
        )
    )
    if allowed is not None and not allowed.all():
        fig.add_trace(_masked_trace(allowed, labels))
    if highlight_row is not None:
        fig.add_shape(
            type="rect",
            x0=-0.5,
            x1=T - 0.5,
            y0=highlight_row - 0.5,
            y1=highlight_row + 0.5,
            line=dict(color=HIGHLIGHT_COLOUR, width=3),
            name="selected query",
        )
    _axes(fig, labels)
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=50, b=10))
    return fig


DEPENDENCE_FLOOR = 1e-8  # the log colour scale starts here: smaller non-zero values get its first colour


def dependence_heatmap(values: np.ndarray, labels: list[str], title: str, height: int = 460) -> go.Figure:
    """D[i, j] as measured, coloured by log10 so a dependence of 4e-6 is as visible as one of 0.5;
    cells that came out exactly 0 (no dependence at all) are drawn grey. Hover shows the value itself."""
    T = len(labels)
    zero = values == 0.0  # (T, T) exact zeros of the measurement, not a drawn mask
    fig = value_heatmap(values, labels, title, what="max TV distance", colorbar_title="TV (log)", height=height)
    logs = np.log10(np.clip(values.astype(float), DEPENDENCE_FLOOR, 1.0))  # (T, T) in [-8, 0]
    exponents = list(range(int(np.log10(DEPENDENCE_FLOOR)), 1, 2))  # -8, -6, ..., 0
    fig.data[0].update(
        z=np.where(zero, np.nan, logs),
        zmin=exponents[0],
        zmax=0.0,
        colorbar=dict(
            tickvals=exponents, ticktext=["1" if e == 0 else f"1e{e}" for e in exponents], tickfont=TICK_FONT
        ),
    )
    if zero.any():
        hover = np.array(
            [
                [
                    f"row {i} '{_esc(labels[i])}', column {j} '{_esc(labels[j])}': no replacement of token {j} changes "
                    f"prediction {i} at all<br>max TV distance = 0 exactly"
                    for j in range(T)
                ]
                for i in range(T)
            ],
            dtype=object,
        )
        fig.add_trace(_grey_trace(zero, hover, "exactly 0"))
    return fig


def mask_figure(allowed: np.ndarray, labels: list[str], title: str, height: int = 380) -> go.Figure:
    """The connectivity itself: which position may read which (teal) and which not (grey)."""
    T = len(labels)
    hover = np.array(
        [
            [
                f"row {i} '{_esc(labels[i])}' {'may read' if allowed[i, j] else 'may NOT read'} column {j} '{_esc(labels[j])}'"
                for j in range(T)
            ]
            for i in range(T)
        ],
        dtype=object,
    )
    fig = go.Figure(
        go.Heatmap(
            z=np.where(allowed, 1.0, np.nan),
            x=list(range(T)),
            y=list(range(T)),
            colorscale=[[0, ALLOWED_COLOUR], [1, ALLOWED_COLOUR]],
            showscale=False,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            hoverongaps=False,
            name="may read",
            xgap=1,
            ygap=1,
        )
    )
    if not allowed.all():
        masked = _masked_trace(allowed, labels)
        masked.update(xgap=1, ygap=1)
        fig.add_trace(masked)
    _axes(fig, labels)
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def _format_entry(x: float) -> str:
    if np.isneginf(x):
        return "−∞"
    return f"{x:.2f}"


def toy_matrix_figure(matrix: np.ndarray, labels: list[str], title: str, height: int = 320) -> go.Figure:
    """A small matrix with every number written in its cell; masked cells (−∞, or the 0 it becomes) in grey."""
    T = len(labels)
    finite = np.isfinite(matrix)
    lim = float(np.abs(matrix[finite]).max()) if finite.any() else 1.0
    is_prob = bool(finite.all() and (matrix >= 0).all() and (matrix <= 1).all() and np.allclose(matrix.sum(-1), 1))
    grey = ~finite | (is_prob & (matrix == 0))  # (T, T) the cells the mask decided
    text = np.array([[_format_entry(matrix[i, j]) for j in range(T)] for i in range(T)], dtype=object)
    hover = np.array(
        [
            [
                f"row {i}, column {j}: "
                + (
                    "−∞ (masked: the future)"
                    if not finite[i, j]
                    else "exp(−∞) = 0 exactly"
                    if grey[i, j]
                    else text[i, j]
                )
                for j in range(T)
            ]
            for i in range(T)
        ],
        dtype=object,
    )
    cells = dict(x=list(range(T)), y=list(range(T)), showscale=False, customdata=hover, hoverongaps=False)
    cells.update(texttemplate="%{text}", textfont=dict(size=15), hovertemplate="%{customdata}<extra></extra>")
    fig = go.Figure(
        go.Heatmap(
            z=np.where(grey, np.nan, matrix),
            text=np.where(grey, "", text),  # each cell's number is written by exactly one trace
            zmin=0.0 if is_prob else -lim,
            zmax=1.0 if is_prob else lim,
            colorscale=VALUE_SCALE if is_prob else "RdBu",
            name="value",
            **cells,
        )
    )
    if grey.any():
        fig.add_trace(
            go.Heatmap(
                z=np.where(grey, 1.0, np.nan),
                text=np.where(grey, text, ""),
                colorscale=[[0, MASKED_COLOUR], [1, MASKED_COLOUR]],
                name="masked (future)",
                **dict(cells, textfont=dict(size=15, color="#1a1a1a")),  # dark on mid grey, in either theme
            )
        )
    _axes(fig, labels, titles=False)
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def training_curves_figure(summaries: list, height: int = 420) -> go.Figure:
    """Held-out (solid) and training (dotted) NLL against iteration for each model's card."""
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    fig = go.Figure()
    for k, s in enumerate(summaries):
        if not s.curve:
            continue
        colour = colours[k % len(colours)]
        iters = [p["iter"] for p in s.curve]
        fig.add_trace(
            go.Scatter(
                x=iters,
                y=[p["heldout_nll"] for p in s.curve],
                mode="lines+markers",
                name=f"{s.name}: held-out",
                line=dict(color=colour, width=3),
                hovertemplate=f"{s.name} held-out<br>iteration %{{x}}<br>NLL %{{y:.4f}} nats/token<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=iters,
                y=[p["train_nll"] for p in s.curve],
                mode="lines",
                name=f"{s.name}: training",
                line=dict(color=colour, width=2, dash="dot"),
                hovertemplate=f"{s.name} training<br>iteration %{{x}}<br>NLL %{{y:.4f}} nats/token<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="training iteration", tickfont=TICK_FONT)
    fig.update_yaxes(title_text="NLL (nats per token, teacher-forced)", tickfont=TICK_FONT, rangemode="tozero")
    fig.update_layout(
        title=dict(text="Learning curves from the model cards"),
        height=height,
        legend=dict(font=dict(size=14)),
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return fig
