"""One step of the Live sampling page on screen: the panel's slots and how a step fills them.

The slots (``LivePanel``) are made once per run in a fixed order; ``draw_step`` fills them from the session's
state, once per run and then once per auto-played token: the text as tiles, the totals, and ``step_view``'s
distribution of the current step under the current knobs. Not a page itself: a module of pages/sampling.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.display import escape_markdown
from core.figures.sampling import (
    PRESENTER_STRIP_CHARS,
    SHAKESPEARE_TOP,
    STAGE_LABELS,
    STRIP_LEGEND,
    distribution_figure,
    distribution_view,
    history_strip,
    token_name,
    token_strip_markdown,
)
from core.lessons.sampling_session import (
    History,
    SamplingSettings,
    describe_settings,
    kept_count,
    predictable_ids,
    stages_at,
)
from core.lessons.settings import MAX_SPEED
from core.text.language_model import TextModel
from pages.charts import numbers_of
from pages.common import chart_config
from pages.sampling_draws import draws_for_chart
from pages.sampling_history import session
from pages.sampling_timing import timing_slot

SHOW_CHART_UP_TO = 4  # auto-play speeds (tokens/s) at which each step's chart is still drawn


@dataclass
class LivePanel:
    """The slots a step changes, created once per run in a fixed order, each holding one element.

    Every run (paused or playing, slow or fast) creates the same slots, and auto-play replaces
    their content in place: no element is ever left over from an earlier run, so nothing on the
    page is marked stale (greyed out) while the loop runs.
    """

    def __init__(self):
        self.title = st.empty()  # "Step n: token drawn · kept", and whether the text ended
        with st.container(key="sampling_strip"):
            self.strip = st.empty()  # the text's tail as coloured tiles
        self.chart = st.empty()  # the distribution (a note instead while auto-play is fast)
        self.draws = st.empty()  # "Draw N times" (paused only)
        self.numbers = st.empty()  # its numbers, after the draws: "Draw N times" stays right under the chart
        self.strip_caption = st.empty()
        self.metrics = [col.empty() for col in st.columns(3)]  # tokens drawn, log p, perplexity
        self.note = st.empty()  # a redrawn step, a single survivor
        self.stages = st.empty()  # survivors and mass kept at each stage
        self.timing = st.empty()  # time to the first token, each later token's, the page's pace (sampling_timing)
        self.history = st.empty()  # history and branching (paused) or a one-line note (playing)


def draw_step(
    panel: LivePanel, lm: TextModel, sampling: SamplingSettings, limit: int, first: bool = True, presenter: bool = False
) -> None:
    """Fill the panel's slots from the session's state: once per run (``first``), then once per auto-played token."""
    s = session()
    h = s.history
    n = len(h)
    if h.finished:
        status = " · **the text ended**"
    elif n >= limit:
        status = f" · **all {n} drawn**"
    else:
        status = ""
    if h.entries or len(h.prompt_ids) > 1:
        strip = history_strip(h, lm.vocab)
        strip = (
            token_strip_markdown(strip, PRESENTER_STRIP_CHARS, heading=True, max_lines=1)
            if presenter
            else token_strip_markdown(strip)
        )
        panel.strip.markdown(strip, anchors=False)  # presenter view: a heading's size, without its link icon
        panel.strip_caption.caption(STRIP_LEGEND + " Bold: forced. The numbers are in the history table.")
    else:
        panel.strip.empty()
        panel.strip_caption.empty()
    panel.metrics[0].metric("Tokens drawn", f"{n} of {limit}")
    panel.metrics[1].metric(
        "log p(generated)", f"{h.logprob:.2f}" if n else "–", help="Sum of log p(token | context) in nats, at T = 1."
    )
    panel.metrics[2].metric(
        "Perplexity", f"{h.perplexity:.2f}" if n else "–", help="exp(−log p / number of drawn tokens)."
    )
    timing_slot(panel.timing, lm, s, first)
    if s.clock.playing and (s.clock.speed == MAX_SPEED or s.clock.speed > SHOW_CHART_UP_TO):
        # fast auto-play: the text and the totals only (a chart per token would throttle the browser)
        panel.title.markdown(f"**{n} of {limit}** tokens drawn")
        panel.chart.caption(f"Above {SHOW_CHART_UP_TO} tokens/s the distribution chart waits for Pause.")
        panel.numbers.empty()
        panel.note.empty()
        panel.stages.empty()
        return
    step_view(panel, lm, sampling, h, "sampling_distribution" if first else None, status, presenter)


def step_view(
    panel: LivePanel,
    lm: TextModel,
    sampling: SamplingSettings,
    h: History,
    chart_key: str | None,
    status: str = "",
    presenter: bool = False,
) -> None:
    """The current step: its distribution, reshaped by the current knobs (no new draw)."""
    s = session()
    n = len(h)
    if n:
        entry = h.entries[-1]
        # the frozen distribution of the current step, reshaped by the current knobs (no new draw)
        same = entry.settings == sampling
        context = h.context_of(n - 1)
        kept = entry.step.stages if same else None  # after a rewind the step's stages are recomputed
        stages = kept if kept is not None else stages_at(lm, context, sampling, s.step_logits(lm, context))
        sampled = entry.step.token_id
        how = "forced" if entry.forced else "drawn"
        title = f"**Step {n}:** {escape_markdown(token_name(lm.vocab, sampled))} {how}"
    else:
        same, stages, sampled = True, stages_at(lm, h.ids, sampling, s.step_logits(lm, h.ids)), None
        title = "**Step 1**, before the draw"
    n_predictable = len(predictable_ids(lm))
    top_n = SHAKESPEARE_TOP if n_predictable > SHAKESPEARE_TOP + 10 else None
    draws = None if s.clock.playing else draws_for_chart(lm, sampling)
    view = distribution_view(stages, lm.vocab, sampled, top_n, counts=draws[1] if draws else None)
    survivors = kept_count(stages)
    panel.title.markdown(
        f"{title} · **{survivors:,} of {n_predictable:,}** candidates kept · "
        f"**{stages.kept_mass:.1%}** of the mass kept{status}"
    )
    figure = distribution_figure(view, lm.vocab, height=370 if presenter else None, draws=draws[0] if draws else 0)
    panel.chart.plotly_chart(figure, key=chart_key, config=chart_config(f"{lm.name}-step{max(n, 1)}-distribution"))
    numbers_of(figure, panel.numbers.container())  # redrawn with the chart: the table is the step on screen
    if len(stages.stages) > 2:
        panel.stages.caption(
            "Stages, in the order applied: "
            + " → ".join(f"{STAGE_LABELS[name]}: **{c:,}** kept ({m:.1%})" for name, c, m in stages.survivors())
        )
    else:
        panel.stages.empty()
    if not same:
        panel.note.info(
            f"Step {n} redrawn under the current settings; it was {how} under {describe_settings(entry.settings)}. "
            + ("" if stages.final[sampled] > 0 else "Its token would not survive these settings. ")
            + "**Resample** draws it again.",
            icon="🎛️",
        )
    elif survivors == 1 and sampling.top_p is not None and sampling.temperature > 0:
        panel.note.caption("Only one candidate survives: top-p always keeps at least the most probable token.")
    else:
        panel.note.empty()
