"""Small multiples of attention heads: every head of a small model, one layer's heads of the LLM,
and a per-head summary, in the conventions of ``core.figures.attention`` (row 0 at the top,
masked cells grey, the chosen head outlined in orange).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.figures.attention import (
    HIGHLIGHT_COLOUR,
    TICK_FONT,
    VALUE_SCALE,
    _axis_style,
    _cell_text,
    _masked_trace,
)


def attention_grid(
    weights: np.ndarray,
    labels: list[str],
    allowed: np.ndarray | None = None,
    selected: tuple[int, int] | None = None,
    show_ticks: bool = True,
) -> go.Figure:
    """Small multiples of every head: (n_layer, n_head, T, T) weights, one row of panels per layer."""
    n_layer, n_head = weights.shape[:2]
    panels = [
        (f"layer {layer + 1} · head {head + 1}", f"layer {layer + 1} head {head + 1} weight", weights[layer, head])
        for layer in range(n_layer)
        for head in range(n_head)
    ]
    chosen = None if selected is None else selected[0] * n_head + selected[1]
    return _panel_grid(panels, n_head, labels, allowed, chosen, show_ticks, panel_height=170)


def layer_heads_grid(
    layer_weights: np.ndarray,
    labels: list[str],
    layer: int,
    kv_groups: list[list[int]],
    allowed: np.ndarray | None = None,
    selected_head: int | None = None,
    show_ticks: bool = True,
) -> go.Figure:
    """The heads of one layer, (n_head, T, T), one row of panels per key/value group (0-based ``layer``).

    With SmolLM2's 9 heads in 3 groups this is a 3x3 grid whose rows are the heads that share keys.
    """
    panels = []
    for g, heads in enumerate(kv_groups):
        for h in heads:
            title = f"head {h + 1} · kv {g + 1}"
            panels.append((title, f"layer {layer + 1} head {h + 1} weight", layer_weights[h]))
    order = [h for heads in kv_groups for h in heads]
    chosen = None if selected_head is None else order.index(selected_head)
    n_cols = max(len(heads) for heads in kv_groups)
    return _panel_grid(panels, n_cols, labels, allowed, chosen, show_ticks, panel_height=230)


def _panel_grid(
    panels: list[tuple[str, str, np.ndarray]],
    n_cols: int,
    labels: list[str],
    allowed: np.ndarray | None,
    selected: int | None,
    show_ticks: bool,
    panel_height: int,
) -> go.Figure:
    """(title, hover name, (T, T) weights) panels in rows of ``n_cols``; panel ``selected`` outlined.

    Panel k (0-based) draws on axes x{k+1}, y{k+1}. The layout is written in one piece rather than
    through ``make_subplots`` and per-panel updates, which took ~0.3 s.
    """
    T = len(labels)
    n_rows = -(-len(panels) // n_cols)
    h_gap, v_gap = 0.02, 0.05 * 4 / max(n_rows, 4)  # the same gap in pixels, whatever the number of rows
    width = (1 - h_gap * (n_cols - 1)) / n_cols
    height = (1 - v_gap * (n_rows - 1)) / n_rows
    masked = _masked_trace(allowed, labels) if allowed is not None and not allowed.all() else None
    axis = _axis_style(labels, show_ticks) | dict(tickfont=dict(size=13))
    traces, layout, titles = [], {}, []
    for index, (title, what, w) in enumerate(panels):
        row, col = divmod(index, n_cols)
        k = index + 1
        suffix = "" if k == 1 else str(k)
        z = w.copy()
        if allowed is not None:
            z[~allowed] = np.nan
        on_axes = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        traces.append(
            go.Heatmap(
                z=z,
                x=list(range(T)),
                y=list(range(T)),
                zmin=0.0,
                zmax=1.0,
                colorscale=VALUE_SCALE,
                showscale=k == 1,
                colorbar=dict(title=dict(text="weight"), tickfont=TICK_FONT),
                customdata=_cell_text(labels, what, w, ".4f"),
                hovertemplate="%{customdata}<extra></extra>",
                hoverongaps=False,
                name=title,  # the panel's table is titled by it (core.figures.tables)
                **on_axes,
            )
        )
        if masked is not None:
            traces.append(go.Heatmap(masked, **on_axes))
        x0 = col * (width + h_gap)
        y1 = 1 - row * (height + v_gap)  # first row at the top
        # token labels only along the outer edges, so they never run into the next panel's title
        layout[f"xaxis{suffix}"] = axis | dict(
            domain=[max(0.0, x0), min(1.0, x0 + width)],
            anchor=f"y{suffix}",
            showticklabels=index + n_cols >= len(panels),
        )
        if not layout[f"xaxis{suffix}"]["showticklabels"]:
            layout[f"xaxis{suffix}"]["ticks"] = ""  # no tick marks under a panel that has a title below it
        layout[f"yaxis{suffix}"] = axis | dict(
            domain=[max(0.0, y1 - height), min(1.0, y1)],
            anchor=f"x{suffix}",
            autorange="reversed",
            showticklabels=col == 0,
            ticks=axis["ticks"] if col == 0 else "",  # tick marks of inner panels would touch their neighbour
        )
        titles.append(
            dict(
                text=title,
                x=x0 + width / 2,
                y=y1,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=14),
            )
        )
    shapes = []
    if selected is not None:
        suffix = "" if selected == 0 else str(selected + 1)
        # outline the selected panel in paper coordinates of its axes
        shapes.append(
            dict(
                type="rect",
                xref=f"x{suffix} domain",
                yref=f"y{suffix} domain",
                x0=-0.02,
                x1=1.02,
                y0=-0.02,
                y1=1.02,
                line=dict(color=HIGHLIGHT_COLOUR, width=4),
                name="selected head",
            )
        )
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            annotations=titles,
            shapes=shapes,
            height=panel_height * n_rows + 80,
            margin=dict(l=10, r=10, t=40, b=10),
        ),
    )


def head_summary_heatmap(
    values: np.ndarray,
    title: str,
    unit: str,
    fmt: str = ".3f",
    selected: tuple[int, int] | None = None,
    group_size: int | None = None,
    height: int = 640,
) -> go.Figure:
    """One number per head, (n_layer, n_head): layer 1 at the top, head 1 on the left.

    ``selected`` (0-based layer, head) is outlined; ``group_size`` draws a thin line between the
    key/value groups of heads.
    """
    n_layer, n_head = values.shape
    layers, heads = list(range(1, n_layer + 1)), list(range(1, n_head + 1))
    hover = np.array(
        [
            [f"layer {i + 1}, head {h + 1}<br>{unit} = {values[i, h]:{fmt}}" for h in range(n_head)]
            for i in range(n_layer)
        ],
        dtype=object,
    )
    fig = go.Figure(
        go.Heatmap(
            z=values.astype(float),
            x=heads,
            y=layers,
            colorscale=VALUE_SCALE,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            colorbar=dict(title=dict(text=unit), tickfont=TICK_FONT),
            xgap=1,
            ygap=1,
            name=unit,
        )
    )
    shapes = []
    if group_size is not None:
        for g in range(group_size, n_head, group_size):
            shapes.append(
                dict(type="line", x0=g + 0.5, x1=g + 0.5, y0=0.5, y1=n_layer + 0.5, line=dict(color="white", width=3))
            )
    if selected is not None:
        layer, head = selected
        shapes.append(
            dict(
                type="rect",
                x0=head + 0.5,
                x1=head + 1.5,
                y0=layer + 0.5,
                y1=layer + 1.5,
                line=dict(color=HIGHLIGHT_COLOUR, width=3),
                name="selected head",
            )
        )
    head_ticks = [f"head {h}" for h in heads]
    fig.update_xaxes(tickmode="array", tickvals=heads, ticktext=head_ticks, tickfont=dict(size=13), side="top")
    fig.update_yaxes(
        title_text="layer", tickmode="array", tickvals=layers, tickfont=dict(size=12), autorange="reversed"
    )
    fig.update_layout(title=dict(text=title), height=height, shapes=shapes, margin=dict(l=10, r=10, t=90, b=10))
    return fig
