"""Figures of the Training page: the loss falling against the step, with the limits it is measured against.

Plain functions; ``loss_curves`` builds the numbers a test can check, ``loss_figure`` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

TRAIN_COLOUR = "#56B4E9"  # sky blue: every step's batch loss
HELDOUT_COLOUR = "#E69F00"  # orange: the honest held-out loss
BIGRAM_COLOUR = "#009E73"  # bluish green, dashed
UNIFORM_COLOUR = "#999999"  # grey, dotted


@dataclass(frozen=True)
class LossCurves:
    steps: list[int]
    train: list[float]  # per step, in the unit
    heldout_steps: list[int]
    heldout: list[float]
    bigram: float | None
    uniform: float | None
    unit: str  # "nats" or "bits" (per character)


def loss_curves(events: list, reference: dict, unit: str = "nats") -> LossCurves:
    """The curves of a run so far from its LiveEvents (core.text.live_training)."""
    k = 1 / math.log(2) if unit == "bits" else 1.0
    held = [e for e in events if e.heldout_loss is not None]
    return LossCurves(
        steps=[e.step for e in events],
        train=[e.train_loss * k for e in events],
        heldout_steps=[e.step for e in held],
        heldout=[e.heldout_loss * k for e in held],
        bigram=reference["bigram"] * k if "bigram" in reference else None,
        uniform=reference["uniform"] * k if "uniform" in reference else None,
        unit=unit,
    )


def loss_figure(c: LossCurves, total_steps: int, height: int = 330) -> go.Figure:
    data = [
        dict(
            type="scatter",
            mode="lines",
            x=c.steps,
            y=c.train,
            name="training batch",
            line=dict(color=TRAIN_COLOUR, width=1.5),
        ),
        dict(
            type="scatter",
            mode="lines+markers",
            x=c.heldout_steps,
            y=c.heldout,
            name="held-out (honest)",
            line=dict(color=HELDOUT_COLOUR, width=3),
            marker=dict(size=8),
        ),
    ]
    for value, name, colour, dash in (
        (c.bigram, "bigram (one-token context)", BIGRAM_COLOUR, "dash"),
        (c.uniform, "uniform (knows nothing)", UNIFORM_COLOUR, "dot"),
    ):
        if value is not None:
            data.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=[0, total_steps],
                    y=[value, value],
                    name=f"{name}: {value:.2f}",
                    line=dict(color=colour, dash=dash, width=2),
                )
            )
    layout = dict(
        xaxis=dict(title=dict(text="training step"), range=[0, total_steps], tickfont=dict(size=14)),
        yaxis=dict(title=dict(text=f"−log p, {c.unit} per character"), rangemode="tozero", tickfont=dict(size=14)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        margin=dict(l=70, r=10, t=60, b=50),
        height=height,
    )
    return go.Figure({"data": data, "layout": layout})


LEDGER_COLOURS = "Viridis"  # sequential and colour-blind safe: dark = cheap, yellow = costly
CELL_TEXT_MAX = 40  # columns up to which each cell shows its token


def loss_ledger_figure(
    matrix,
    tokens: list[list[str]],
    prefixes: list[list[str]] | None = None,
    unit: str = "nats",
    height: int | None = None,
) -> go.Figure:
    """The batch's ledger as a heatmap: row = example, column = position, colour = −log p(next token | prefix).

    ``matrix``: (B, T) costs in nats (a tensor or nested lists; NaN = padding, drawn blank), shown in ``unit``;
    ``tokens``: (B, T) the predicted token of each cell; ``prefixes``: the tokens read just before it (hover).
    """
    k = 1 / math.log(2) if unit == "bits" else 1.0
    rows = matrix.tolist() if hasattr(matrix, "tolist") else matrix
    z = [[None if v is None or math.isnan(v) else v * k for v in row] for row in rows]
    B, T = len(z), len(z[0]) if z else 0
    prefixes = prefixes or [[""] * T for _ in range(B)]
    custom = [[[p, t] for p, t in zip(pr, tr, strict=True)] for pr, tr in zip(prefixes, tokens, strict=True)]
    trace = dict(
        type="heatmap",
        z=z,
        x=list(range(1, T + 1)),
        y=[f"example {b + 1}" for b in range(B)],
        customdata=custom,
        colorscale=LEDGER_COLOURS,
        zmin=0,
        hoverongaps=False,
        colorbar=dict(title=dict(text=f"−log p ({unit})", side="right"), thickness=14),
        hovertemplate=(
            "%{y}, position %{x}<br>reads %{customdata[0]}<br>next token: <b>%{customdata[1]}</b><br>"
            f"−log p = %{{z:.3f}} {unit}<extra></extra>"
        ),
    )
    if T <= CELL_TEXT_MAX:  # few columns: write each predicted token in its cell
        trace.update(text=tokens, texttemplate="%{text}", textfont=dict(size=14))
    layout = dict(
        xaxis=dict(title=dict(text="position in the window (the token predicted)"), tickfont=dict(size=13)),
        yaxis=dict(autorange="reversed", tickfont=dict(size=13)),
        margin=dict(l=90, r=10, t=20, b=50),
        height=height or max(220, 60 + 34 * B),
    )
    return go.Figure({"data": [trace], "layout": layout})
