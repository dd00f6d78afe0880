"""The drift figure and strips, inspected without a browser: each row shows the numbers of core.lessons.drift."""

from __future__ import annotations

import math

import plotly.graph_objects as go

import core
from core.figures.sampling import (
    DRIFT_CONTEXT_SHOWN,
    drift_figure,
    drift_strips,
    tile_band,
    tile_text,
    token_strip_markdown,
)
from core.lessons.drift import Continuation, Drift, drift
from core.text.language_model import context_ids
from core.text.vocab import names_vocab

NAMES = names_vocab()


def made_up() -> tuple[Drift, list[int]]:
    """A drift by hand: A 'ann.' (ended), B 'zo' forced at the fork, a 3-letter context."""
    ids = lambda text: tuple(NAMES.stoi[c] for c in text)  # noqa: E731
    a = Continuation(ids("ann") + (NAMES.eos_id,), (-0.5, -1.5, -0.1, -2.5), True)
    b = Continuation(ids("zo"), (-6.0, -0.9), False)
    context = [NAMES.bos_id, *ids("mar")]
    return Drift(fork=len(context), drawn=a, forced=b, kl=(0.0, 1.25)), context


def test_strips_are_the_two_continuations_with_their_p():
    d, _ = made_up()
    a, b = drift_strips(NAMES, d)
    assert [t.text for t in a] == ["a", "n", "n", "."] and [t.text for t in b] == ["z", "o"]
    assert [t.p_model for t in a] == [math.exp(lp) for lp in d.drawn.logprobs]
    assert [t.forced for t in b] == [True, False] and not any(t.forced for t in a)
    assert "**z**" in token_strip_markdown(b, None)  # the forced token is bold


def test_figure_rows_show_the_drift_numbers():
    d, context = made_up()
    fig = drift_figure(NAMES, d, context)
    go.Figure(fig.to_dict())  # plotly's validation: raises on a bad property
    heat, log_a, log_b, kl = fig.data
    assert list(heat.y) == ["B (forced)", "A (drawn)"]  # drawn bottom to top: A above B
    shown = context[-DRIFT_CONTEXT_SHOWN:]
    assert list(heat.x) == list(range(d.fork - len(shown), d.fork + 4))
    assert list(heat.text[1]) == [tile_text(NAMES, i) for i in shown + list(d.drawn.token_ids)]
    assert list(heat.text[0]) == [tile_text(NAMES, i) for i in shown + list(d.forced.token_ids)] + ["", ""]
    bands = {"orange": 0, "gray": 1, "blue": 2}
    assert list(heat.z[0])[-2:] == [None, None]  # B ended sooner: empty cells
    assert list(heat.z[1]) == [3] * 3 + [bands[tile_band(math.exp(lp))] for lp in d.drawn.logprobs]  # 3: context
    assert list(log_a.y) == list(d.drawn.logprobs) and list(log_a.x) == [4, 5, 6, 7]
    assert list(log_b.y) == list(d.forced.logprobs) and list(log_b.x) == [4, 5]
    assert list(kl.y) == list(d.kl) and list(kl.x) == [4, 5]
    short = drift_figure(NAMES, d, [NAMES.bos_id, NAMES.stoi["m"]]).data[0]
    assert list(short.x)[0] == d.fork - 1 and list(short.text[1])[0] == "m"  # the start token is not shown
    fork = fig.layout.shapes[0]
    assert (fork.x0, fork.x1) == (d.fork - 0.5, d.fork + 0.5)


def test_figure_of_a_real_drift(shakespeare_lm):
    context = context_ids(shakespeare_lm, "KING:\n")
    d = drift(shakespeare_lm, context, core.SamplingSettings(0.9), 3, 40, shakespeare_lm.vocab.stoi["Z"])
    fig = drift_figure(shakespeare_lm.vocab, d, context)
    go.Figure(fig.to_dict())
    heat, _, _, kl = fig.data
    assert len(heat.x) == 40 + DRIFT_CONTEXT_SHOWN and list(kl.y) == list(d.kl)
    assert heat.text[0][DRIFT_CONTEXT_SHOWN] == "Z"  # B's forced token sits in the fork's column
    assert all(len(t) <= 1 for row in heat.text for t in row)  # 43 cells: one character each
