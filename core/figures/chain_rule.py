"""Figures of the chain-rule lesson: the running -log p of the worked example and a text's ledger.

Plain functions: data from ``core.lessons.chain_rule`` in, ``plotly.graph_objects.Figure`` out.
Colours are mid-tones that read on both the light and the dark Streamlit theme.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from core.lessons.chain_rule import WorkedExample, to_unit
from core.lessons.ledger import Ledger, display_token
from core.lessons.ordering import HeldoutComparison

TERM_COLOUR = "#E8804A"  # one -log p term
TOTAL_COLOUR = "#4C8BD6"  # the whole NLL
RUNNING_COLOUR = "#9B6FD0"  # running total line on the ledger
INFINITE_COLOUR = "#D64545"  # a factor of 0: -log p = ∞
MAX_TICK_LABELS = 40  # above this many tokens the x axis shows positions, not every token


def _escape(text: str) -> str:
    """Plotly hover text is HTML-like: show '<', '>' and '&' literally (tokens such as <s>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fmt(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3f}"


def worked_waterfall(example: WorkedExample, unit: str = "nats") -> go.Figure:
    """A waterfall of -log p: one rising step per factor, then the total NLL.

    A factor of 0 contributes -log 0 = ∞, and from there on the running total is ∞ too, which no
    waterfall can draw. Then each factor's own -log p is drawn as a separate bar instead, the
    infinite ones (and the total) reaching past the top of the axis, labelled ∞.
    """
    hover = [
        f"{label} = {p:.4g}<br>−log p = {_fmt(to_unit(term, unit))} {unit}"
        f"<br>running total = {_fmt(to_unit(run, unit))} {unit}"
        for label, p, term, run in zip(example.labels, example.factors, example.neglogs, example.running, strict=True)
    ]
    total = to_unit(example.nll_sum, unit)
    hover.append(f"−log p(sequence) = {_fmt(total)} {unit}<br>joint p = {example.joint:.4g}")
    x = [f"−log {label}" for label in example.labels] + ["total −log p"]
    finite_terms = [to_unit(v, unit) for v in example.neglogs if math.isfinite(v)]
    if math.isfinite(example.nll_sum):
        trace = go.Waterfall(
            x=x,
            y=[to_unit(v, unit) for v in example.neglogs] + [total],
            measure=["relative"] * len(example.factors) + ["total"],
            meta=dict(label="term"),  # its numbers table's first column
            text=[_fmt(to_unit(v, unit)) for v in example.neglogs] + [_fmt(total)],
            increasing=dict(marker=dict(color=TERM_COLOUR)),
            totals=dict(marker=dict(color=TOTAL_COLOUR)),
            connector=dict(line=dict(color="rgba(128,128,128,0.7)", dash="dot")),
        )
        top = total * 1.25 + 0.3
        title = f"Running −log p, in {unit}"
        position = "outside"
    else:
        top = max(finite_terms + [1.0]) * 1.6
        infinite_labels = {i: "∞ (p = 0)" for i, v in enumerate(example.neglogs) if not math.isfinite(v)}
        infinite_labels[len(example.neglogs)] = "∞"  # the total
        trace = go.Bar(
            x=x,
            y=[to_unit(v, unit) if math.isfinite(v) else top * 1.5 for v in example.neglogs] + [top * 1.5],
            text=[_fmt(to_unit(v, unit)) if math.isfinite(v) else "" for v in example.neglogs] + [""],
            meta=dict(values=[to_unit(v, unit) for v in example.neglogs] + [total], label="term"),  # ∞ in the table
            marker=dict(
                color=[TERM_COLOUR if math.isfinite(v) else INFINITE_COLOUR for v in example.neglogs] + [TOTAL_COLOUR]
            ),
        )
        top = top * 1.1  # the infinite bars run off the top of the axis
        position = "outside"
        title = f"−log p of each factor, in {unit}: one is ∞, so the total is ∞"
    trace.update(
        textposition=position,
        textfont=dict(size=16),
        hovertext=hover,
        hoverinfo="text",
        showlegend=False,
    )
    fig = go.Figure(trace)
    if not math.isfinite(example.nll_sum):
        for i, label in infinite_labels.items():  # written on the bar, just below the top of the plot
            fig.add_annotation(
                x=x[i],
                y=1,
                yref="paper",
                yanchor="top",
                text=label,
                showarrow=False,
                font=dict(size=18, color="white"),
            )
    fig.update_layout(
        title=dict(text=title, font=dict(size=16)),
        yaxis=dict(title=dict(text=unit), range=[0, top]),
        xaxis=dict(tickfont=dict(size=14)),
        margin=dict(l=60, r=20, t=50, b=50),
        height=360,
    )
    return fig


def ledger_bars(ledger: Ledger, unit: str = "nats") -> go.Figure:
    """One bar of -log p(x_i | x_<i) per token and the running total as a line on its own axis.

    Hovering a bar lists the five most likely tokens at that position with their probabilities.
    """
    positions = [r.position for r in ledger.rows]
    hover = []
    for r in ledger.rows:
        alternatives = "<br>".join(
            f"  {_escape(display_token(tok))!s}: {p:.3f}" + ("  ◀" if tok == r.token else "")
            for tok, p in r.alternatives
        )
        hover.append(
            f"<b>#{r.position} {_escape(display_token(r.token))}</b>"
            f"<br>p = {r.prob:.4g}, −log p = {_fmt(to_unit(r.neglog, unit))} {unit}"
            f"<br>running total = {_fmt(to_unit(r.running, unit))} {unit}"
            f"<br>context read: {r.context_length} token{'s' if r.context_length != 1 else ''}"
            f"<br>most likely here:<br>{alternatives}"
        )
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=positions,
            y=[to_unit(r.neglog, unit) for r in ledger.rows],
            name=f"−log p(xᵢ | x&lt;ᵢ), {unit}",
            marker=dict(color=TERM_COLOUR),
            hovertext=hover,
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=positions,
            y=[to_unit(r.running, unit) for r in ledger.rows],
            name=f"running total, {unit}",
            mode="lines+markers" if len(positions) <= MAX_TICK_LABELS else "lines",
            line=dict(color=RUNNING_COLOUR, width=2),
            yaxis="y2",
            hoverinfo="skip",
        )
    )
    xaxis = dict(title=dict(text="position i (token)"))
    if len(positions) <= MAX_TICK_LABELS:
        xaxis.update(
            tickmode="array",
            tickvals=positions,
            ticktext=[_escape(display_token(r.token)) for r in ledger.rows],
            tickfont=dict(size=15),
        )
    fig.update_layout(
        xaxis=xaxis,
        yaxis=dict(title=dict(text=f"−log p, {unit}"), rangemode="tozero"),
        yaxis2=dict(
            title=dict(text=f"running total, {unit}"),
            overlaying="y",
            side="right",
            rangemode="tozero",
            tickmode="auto",  # its own round ticks, not synced to the bars' axis
            showgrid=False,
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        hoverlabel=dict(font=dict(family="monospace", size=13)),
        margin=dict(l=60, r=60, t=40, b=50),
        height=380,
        bargap=0.15,
    )
    return fig


def ordering_scatter(comparison: HeldoutComparison, highlight: str | None = None, unit: str = "nats") -> go.Figure:
    """One dot per held-out name: -log p(name) left to right (x) against right to left (y).

    The diagonal is where the two learned factorisations agree; the exact joint would put every
    dot on it. ``highlight`` (a held-out name) is drawn larger, in the total colour.
    """
    fwd = [to_unit(v, unit) for v in comparison.forward]
    rev = [to_unit(v, unit) for v in comparison.reversed]
    hover = [
        f"<b>{_escape(n)}</b><br>left to right: {a:.2f} {unit}<br>right to left: {b:.2f} {unit}"
        for n, a, b in zip(comparison.names, fwd, rev, strict=True)
    ]
    lo, hi = min(fwd + rev), max(fwd + rev)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            line=dict(color="#888888", dash="dash", width=2),
            name="same −log p in both orders",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=fwd,
            y=rev,
            mode="markers",
            marker=dict(color=TERM_COLOUR, size=6, opacity=0.55),
            name=f"{len(fwd):,} held-out names",
            text=[_escape(n) for n in comparison.names],  # not drawn (markers only): names the rows of its table
            meta=dict(text="name"),
            hovertext=hover,
            hoverinfo="text",
        )
    )
    if highlight in comparison.names:
        i = comparison.names.index(highlight)
        fig.add_trace(
            go.Scatter(
                x=[fwd[i]],
                y=[rev[i]],
                mode="markers+text",
                marker=dict(color=TOTAL_COLOUR, size=14, line=dict(width=2, color="#ffffff")),
                text=[_escape(highlight)],
                textposition="top center",
                textfont=dict(size=16),
                name=_escape(highlight),
                hovertext=[hover[i]],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        xaxis=dict(title=dict(text=f"−log p(name), names (left to right), {unit}"), tickfont=dict(size=14)),
        yaxis=dict(title=dict(text=f"−log p(name), names-reversed, {unit}"), tickfont=dict(size=14)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        margin=dict(l=60, r=20, t=40, b=50),
        height=420,
    )
    return fig


FAMILY_COLOURS = ["#999999", "#E69F00", "#009E73", "#CC79A7", "#0072B2"]  # Okabe-Ito, colour-blind safe


def family_ledger_figure(tokens: list[str], costs: dict[str, list[float]], unit: str = "nats") -> go.Figure:
    """One name's ledger under several networks: per token, one bar per model (its −log p)."""
    fig = go.Figure()
    labels = [f"{i + 1}: {_escape(display_token(t)) if t != '.' else 'end'}" for i, t in enumerate(tokens)]
    for colour, (model, values) in zip(FAMILY_COLOURS * 2, costs.items(), strict=False):
        shown = [to_unit(v, unit) for v in values]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=shown,
                name=_escape(model),
                marker_color=colour,
                hovertemplate=f"{_escape(model)}<br>%{{x}}: %{{y:.3f}} {unit}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        xaxis=dict(title=dict(text="token (position: token)"), tickfont=dict(size=15)),
        yaxis=dict(title=dict(text=f"−log p(token | tokens before), {unit}"), tickfont=dict(size=14)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        margin=dict(l=60, r=20, t=40, b=60),
        height=400,
    )
    return fig


DRAWN_COLOUR = "#E8804A"  # frequencies of the draws
IMPLIED_COLOUR = "#3BA889"  # the joint a sampling rule really draws from


def joint_draws_figure(
    labels: list[str], joint: list[float], drawn: list[float], implied: list[float] | None = None
) -> go.Figure:
    """All sequences of the exact joint: p(sequence) as bars, the draws' frequencies as bars beside them,
    and (a rule applied to each conditional) the joint the draws really follow as markers."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=labels, y=joint, name="p(x1, x2, x3): the joint", marker_color=TOTAL_COLOUR,
               hovertemplate="%{x}: p = %{y:.4f}<extra></extra>")
    )  # fmt: skip
    fig.add_trace(
        go.Bar(x=labels, y=drawn, name="fraction of the draws", marker_color=DRAWN_COLOUR,
               hovertemplate="%{x}: drawn %{y:.4f}<extra></extra>")
    )  # fmt: skip
    if implied is not None:
        fig.add_trace(
            go.Scatter(x=labels, y=implied, mode="markers", name="product of the changed conditionals",
                       marker=dict(color=IMPLIED_COLOUR, size=11, symbol="diamond"),
                       hovertemplate="%{x}: q = %{y:.4f}<extra></extra>")
        )  # fmt: skip
    return _draws_layout(
        fig,
        dict(title=dict(text="sequence x1 x2 x3"), tickfont=dict(size=13), tickangle=-90),
        dict(title=dict(text="probability"), tickfont=dict(size=14), rangemode="tozero"),
        barmode="group",
    )


def _draws_layout(fig: go.Figure, xaxis: dict, yaxis: dict, **more) -> go.Figure:
    """The draws' figures: legend in a row above the plot, 360 px tall."""
    legend = dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14))
    fig.update_layout(xaxis=xaxis, yaxis=yaxis, legend=legend, margin=dict(l=60, r=20, t=40, b=70), height=360, **more)
    return fig


def convergence_figure(ns: list[int], tv: list[float], expected: list[float]) -> go.Figure:
    """Total variation between the first n draws and the joint they are drawn from, against n (log-log),
    beside the distance n exact draws are expected to show (a line of slope −1/2)."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=ns, y=tv, mode="lines+markers", name="the draws so far", line=dict(color=DRAWN_COLOUR, width=3),
                   hovertemplate="n = %{x:,}: TV = %{y:.4f}<extra></extra>")
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=ns, y=expected, mode="lines", name="expected for exact draws (∝ 1/√n)",
                   line=dict(color=TOTAL_COLOUR, width=2, dash="dash"),
                   hovertemplate="n = %{x:,}: expected %{y:.4f}<extra></extra>")
    )  # fmt: skip
    return _draws_layout(
        fig,
        dict(title=dict(text="number of draws n"), type="log", dtick=1, tickfont=dict(size=14)),
        dict(title=dict(text="total variation"), type="log", dtick=1, tickformat=".3~g", tickfont=dict(size=14)),
    )
