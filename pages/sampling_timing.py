"""The Live sampling page's timing line: time to the first token, each later token's time, and the page's pace.

Not a page itself: a module of pages/sampling.py, filled into one slot of the live panel
(``pages.sampling_panels.LivePanel.timing``) once per run and once per auto-played token.
The numbers are the session's own record (``core.lessons.stream_timing``).
"""

from __future__ import annotations

import math

import streamlit as st

from core.figures.sampling import step_times_figure
from core.lessons.sampling_session import SamplingSession
from core.lessons.stream_timing import stream_timing, timing_line
from core.text.language_model import TextModel
from pages.charts import chart_with_table

LESSON = (
    "The first token needs one pass over the whole prompt (it fills the key/value cache); every later "
    "token needs one more forward pass, over that token alone. So the latency to the last token is the "
    "first one's plus one step per later token: the model sets it, not the page."
)


def timing_slot(slot, lm: TextModel, s: SamplingSession, first: bool) -> None:
    """One caption (measured), and when paused a small chart of each step's time in an expander.

    ``first``: the run's own drawing (auto-play's redraws replace it in place, without keys or the chart).
    """
    timing = stream_timing(s.history)
    with_chart = first and not s.clock.playing
    with slot.container(key="sampling_timing" if first else None):
        if timing is None:
            st.caption(
                "⏱️ Timing: draw a token (Next token, Play or Finish) to measure the time to the first token "
                "and to each later one. Forced tokens and tokens restored from a link are not timed."
            )
            return
        served = hasattr(lm.net, "next_logits")
        where = (
            " SmolLM2 runs in a worker process: each time is the round trip from this page to it and back "
            "(its compute, the pipe, and any wait for its batch of other sessions' steps)."
            if served
            else " Each time is the step's forward pass plus sampling, measured in this process."
        )
        refed = (
            f" {timing.refed} later step(s) fed more than one token: the cache caught up after a rewind."
            if timing.refed and lm.net.supports_cache
            else ""
        )
        st.caption(f"⏱️ **Measured:** {timing_line(timing, s.clock.speed)}.{where}{refed}")
        if not with_chart:
            return
        with st.expander("Where the time goes: each step's time, and the latency to each token"):
            st.markdown(LESSON)
            chart_with_table(step_times_figure(timing), "sampling_timing_chart", folded=False)
            st.caption(
                f"Latency to the last token = first token + the sum of the later steps = {timing.first_ms:.1f} ms + "
                f"{math.fsum(timing.later_ms):.1f} ms = **{timing.latency_to_last_ms:.1f} ms** "
                "of compute (auto-play's waits and the page's redraws come on top)."
            )
