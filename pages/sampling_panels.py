"""The live panel and button actions of the Live sampling page (pages/sampling.py).

Not a page itself: a module, so that Streamlit compiles it once rather than on every rerun. All
per-session data of the demo lives in one object, the session value "sampling" (``pages.state``): a
core.lessons.sampling_session.SamplingSession (the history with its branches, the session's
torch.Generator, the auto-play clock, the logits memo and the last error).

Every token is drawn by ``SamplingSession.next``, the one generation step, which calls core.text.language_model.sample_step
exactly as core.generate does (same context, same settings, same generator stream). The slots a step
fills, and how it fills them, are in ``pages/sampling_step.py``.
"""

from __future__ import annotations

import time

import streamlit as st

from core.display import escape_markdown
from core.lessons.sampling_session import SamplingSession, SamplingSettings
from core.text.language_model import TextModel
from pages.common import show_error
from pages.sampling_draws import draw_many_controls
from pages.sampling_history import history_section, session
from pages.sampling_step import LivePanel, draw_step
from pages.state import get, put

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
