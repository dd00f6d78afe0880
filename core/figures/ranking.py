"""Figure of the ranking lesson: each candidate's -log p(candidate | prompt) as a bar cut into its tokens.

A plain function: a ``core.lessons.ranking.Ranking`` in, a ``plotly.graph_objects.Figure`` out. The bar
of a candidate is its total cost; each segment is one token's -log p(token | prompt, tokens before),
so a longer candidate visibly pays for every extra token. Mid-tone colours read on both themes.
"""

from __future__ import annotations

import plotly.graph_objects as go

from core.figures.chain_rule import _escape
from core.lessons.chain_rule import to_unit
from core.lessons.ledger import display_token
from core.lessons.ranking import Ranking

SEGMENT_COLOURS = ("#E8804A", "#F2AE72")  # neighbouring tokens alternate, so the cuts show
MAX_LABEL_CHARS = 24  # a candidate's label on the axis is cut after this many characters


def candidate_label(rank: int, text: str) -> str:
    shown = display_token(text)
    shown = shown if len(shown) <= MAX_LABEL_CHARS else shown[: MAX_LABEL_CHARS - 1] + "…"
    return f"{rank}. {_escape(shown)}"


def ranking_bars(ranking: Ranking, unit: str = "nats") -> go.Figure:
    """One horizontal bar per ranked candidate (the most likely on top), cut into its tokens' costs."""
    labels = [candidate_label(i + 1, c.text) for i, c in enumerate(ranking.ranked)]
    xs, bases, ys, texts, hovers, colours = [], [], [], [], [], []
    for label, c in zip(labels, ranking.ranked, strict=True):
        start = 0.0
        for j, (token, cost) in enumerate(c.costs):
            width = to_unit(cost, unit)
            xs.append(width)
            bases.append(start)
            ys.append(label)
            shown = _escape(display_token(token))
            texts.append(shown)
            hovers.append(f"<b>{shown}</b> (token {j + 1} of {label})<br>−log p = {width:.3f} {unit}")
            colours.append(SEGMENT_COLOURS[j % 2])
            start += width
    fig = go.Figure(
        go.Bar(
            x=xs,
            base=bases,
            y=ys,
            orientation="h",
            text=texts,
            textposition="inside",
            insidetextanchor="middle",
            textfont=dict(size=14, color="#1b1b1b"),
            marker=dict(color=colours, line=dict(color="#ffffff", width=1)),
            hovertext=hovers,
            hoverinfo="text",
            meta=dict(label="candidate"),  # its numbers table's first column
            name="one token's −log p",
        )
    )
    totals = [to_unit(-c.logp, unit) for c in ranking.ranked]
    fig.add_trace(  # the total at the end of each bar
        go.Scatter(
            x=totals,
            y=labels,
            mode="text",
            text=[f"  {t:.2f}" for t in totals],
            textposition="middle right",
            textfont=dict(size=14),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    longest = max(totals, default=1.0)
    fig.update_layout(
        barmode="overlay",
        xaxis=dict(title=dict(text=f"−log p(candidate | prompt), {unit}"), range=[0, longest * 1.15 + 0.1]),
        yaxis=dict(categoryorder="array", categoryarray=labels[::-1], tickfont=dict(size=15)),
        uniformtext=dict(minsize=10, mode="hide"),
        showlegend=False,
        margin=dict(l=10, r=20, t=20, b=50),
        height=90 + 48 * max(1, len(labels)),
        bargap=0.3,
    )
    return fig
