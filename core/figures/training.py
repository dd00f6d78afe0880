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
