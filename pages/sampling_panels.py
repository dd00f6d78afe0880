"""Panels and button actions of the Live sampling page (pages/sampling.py).

Not a page itself: a module, so that Streamlit compiles it once rather than on every rerun. All
per-session data of the demo lives in one object, the session value "sampling" (``pages.state``): a
core.lessons.sampling_session.SamplingSession (the history with its branches, the session's
torch.Generator, the auto-play clock, the logits memo and the last error).

Every token is drawn by ``SamplingSession.next``, the one generation step, which calls core.text.language_model.sample_step
exactly as core.generate does (same context, same settings, same generator stream).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from core.display import escape_markdown
from core.figures.sampling import (
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
    SamplingSession,
    SamplingSettings,
    describe_settings,
    kept_count,
    predictable_ids,
    stages_at,
)
from core.lessons.settings import MAX_SPEED
from core.text.language_model import TextModel
from pages.charts import numbers_of
from pages.common import chart_config, show_error
from pages.sampling_history import history_section, session
from pages.sampling_lab import draw_many_controls, draws_for_chart
from pages.sampling_timing import timing_slot
from pages.state import get, put

SHOW_CHART_UP_TO = 4  # auto-play speeds (tokens/s) at which each step's chart is still drawn
POLL_S = 0.05  # auto-play checks for a click this often (seconds)


# ---------------------------------------------------------------------------------------------
# Actions (button callbacks run before the script, so the page draws the new state at once)


def start_over(prompt_ids: list[int], seed: int, run_key: tuple | None, speed: float) -> None:
    """A fresh text and a generator seeded from the seed: the next draws repeat core.generate."""
    put("sampling", SamplingSession.start(prompt_ids, seed, run_key))
    session().clock.speed = speed


def on_play() -> None:
    session().toggle_play(time.monotonic())


def on_speed() -> None:
    session().set_speed(get("speed"), time.monotonic())


# ---------------------------------------------------------------------------------------------
# The live panel: controls, then placeholders that auto-play replaces in place


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


SHORTCUTS = {"play": "P", "next": "N", "back": "B", "resample": "S", "finish": "F", "restart": "0"}
SHORTCUTS_HELP = (
    "Keyboard: P play/pause · N next token · B back one step · S resample · F finish · 0 start over · D draw N times."
)


def live_panel(lm: TextModel, sampling: SamplingSettings, limit: int, presenter: bool = False) -> LivePanel:
    """Controls, the growing text, the current step's distribution and (when paused) the history.

    Every control here reruns the whole page (no fragment): a rerun request interrupts auto-play's
    loop at once, so Pause and every slider act within one tick.
    """
    s = session()
    h = s.history
    can_draw = s.can_draw(limit)
    playing = s.clock.playing
    n = len(h)
    buttons = [  # (key, label, callback, args, enabled, extra)
        ("play", "Pause" if playing else "Play", on_play, (), can_draw or playing,
         dict(type="primary", icon="⏸️" if playing else "▶️", help="Draw tokens one after another at the speed set in the sidebar.")),
        ("next", "Next token", s.next, (lm, sampling), can_draw and not playing, dict(type="primary")),
        ("back", "Back", s.back, (), n > 0 and not playing,
         dict(help="Remove the last token (it is kept under Earlier branches).")),
        ("resample", "Resample", s.resample, (lm, sampling), n > 0 and not playing,
         dict(help="Draw the current step again under the current settings.")),
        ("finish", f"Finish ({limit})", s.finish, (lm, sampling, limit), can_draw,
         dict(help=f"Draw tokens until there are {limit} or the text ends.")),
        ("restart", "Start over", s.start_over, (), True,
         dict(help="Empty the text and re-seed the generator: the same seed gives the same text again.")),
    ]  # fmt: skip
    for col, (key, label, callback, args, enabled, extra) in zip(
        st.columns([1.25, 1.3, 0.95, 1.3, 1.2, 1.25]),
        buttons,
        strict=True,  # "⏸️ Pause P" was cut at 1.05
    ):
        col.button(
            label,
            key=f"sampling_{key}",
            on_click=callback,
            args=args,
            disabled=not enabled,
            width="stretch",
            shortcut=SHORTCUTS[key],
            **extra,
        )
    if s.last_error:
        show_error(escape_markdown(s.last_error), icon="🚫")
    panel = LivePanel()
    draw_step(panel, lm, sampling, limit, presenter=presenter)
    if playing:
        panel.draws.empty()
        panel.history.caption("The history and branching controls appear on Pause.")
    else:
        with panel.draws.container():
            draw_many_controls(lm, sampling)
        if presenter:
            panel.history.caption(SHORTCUTS_HELP)
        else:
            with panel.history.container():
                history_section(lm, sampling, h)
                st.caption(SHORTCUTS_HELP)
    return panel


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
        strip = token_strip_markdown(history_strip(h, lm.vocab))
        panel.strip.markdown(f"### {strip}" if presenter else strip, anchors=False)  # a heading's size, no link icon
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


def play(panel: LivePanel, lm: TextModel, sampling: SamplingSettings, limit: int, presenter: bool = False) -> None:
    """Auto-play: draw each token when the clock says it is due and replace the panel's slots in place.

    Runs at the end of the page script, for as long as playing lasts. It sleeps in short slices
    and touches a placeholder after each one and before each draw: those are points where
    Streamlit checks for a pending rerun, so a click anywhere (Pause, a slider) stops the loop
    within POLL_S, and no token is drawn after the click has arrived.
    """
    s = session()
    if not s.clock.playing:
        return
    heartbeat = st.empty()
    while s.clock.playing:
        heartbeat.empty()  # a rerun point: a pending click stops this run here, before drawing
        if s.play_tick(lm, sampling, limit, time.monotonic()):
            draw_step(panel, lm, sampling, limit, first=False, presenter=presenter)
        if not s.clock.playing:
            break
        wait = s.clock.next_due_at(len(s.history)) - time.monotonic()
        time.sleep(min(max(wait, 0.0), POLL_S))
    st.rerun()  # the text ended or reached its length: redraw the controls stopped
