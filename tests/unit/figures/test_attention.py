"""The attention heatmaps' token labels: every one when they fit, every step-th when they would collide."""

from __future__ import annotations

import numpy as np
import pytest

from core.figures.attention import MAX_TICK_LABELS, mask_figure


@pytest.mark.parametrize("T", [4, MAX_TICK_LABELS, MAX_TICK_LABELS + 1, 28, 64])
def test_tick_labels_are_thinned_past_the_limit_and_every_cell_keeps_its_hover(T):
    labels = [chr(ord("a") + i % 26) for i in range(T)]
    fig = mask_figure(np.tril(np.ones((T, T), dtype=bool)), labels, "mask")
    shown = [t for t in fig.layout.xaxis.ticktext if t]
    assert len(shown) <= MAX_TICK_LABELS
    assert shown[0] == "a" and list(fig.layout.xaxis.tickvals) == list(range(T))
    if T <= MAX_TICK_LABELS:
        assert list(fig.layout.xaxis.ticktext) == labels
    assert fig.layout.yaxis.ticktext == fig.layout.xaxis.ticktext
    hover = fig.data[0].customdata
    assert f"column {T - 1} '{labels[-1]}'" in hover[T - 1][T - 1]
