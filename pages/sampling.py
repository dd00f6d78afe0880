"""Live sampling: draw a text token by token and watch temperature, top-k and top-p reshape each step.

Every token comes from ``core.text.language_model.sample_step`` and this session's own torch.Generator, seeded
from the seed, so pressing "Next token" (or Play) without touching anything gives exactly what
``core.generate`` gives. Moving a slider redraws the current step without drawing again. The page's
state is ``core.lessons.states.SamplingState``, every field a widget bound to the link; the drawn text
travels in the link too (by hand: only the model can turn ids back into text: ``pages/sampling_link.py``).
The sidebar: ``pages/sampling_sidebar.py``. Panels: ``pages/sampling_panels.py`` (a step's slots:
``pages/sampling_step.py``; its timing line: ``pages/sampling_timing.py``; Draw N times: ``pages/sampling_draws.py``),
``pages/sampling_history.py``, ``pages/sampling_lab.py`` and ``pages/sampling_kv.py``.
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.lessons.states import SamplingState
from core.text.language_model import DEFAULT_SETTINGS, context_ids
from pages.common import opening, presenter_toggle, show_error
from pages.navigation import next_lesson, require_app
from pages.sampling_drift import drift_section
from pages.sampling_kv import kv_section, state_section
from pages.sampling_lab import lab_sections
from pages.sampling_link import restore_from_link, share_link, write_text_to_url
from pages.sampling_panels import live_panel, play, session, start_over
from pages.sampling_sidebar import fitted_top_k, knobs, model_choice
from pages.state import LinkedPage, get, pop

require_app()  # a page script Streamlit ran without app.py reruns through it


page = LinkedPage(SamplingState, "sampling")
heading, toggle = st.columns([3, 1], vertical_alignment="bottom")  # the toggle beside the title: one row less
heading.title(
    "🎲 Live sampling",
    help="Each step: the model's next-token distribution → reshaped by the knobs → one token drawn → next context. "
    "Keys: the letter on each button; after moving a slider, click an empty spot first (while a slider or a box "
    "has the focus, Streamlit sends the keys to it).",
)
with toggle:
    presenting = presenter_toggle("presenter")  # in the main area: reachable while presenter view folds the sidebar
opening(
    "A model writes **one token at a time**: each step's distribution, reshaped by the knobs, then one draw.",
    presenting,
)
link_notes = st.container()  # the link's notes, drawn last (restoring the link's text may add one)

model, lm = model_choice(page)  # the sidebar's first box (pages/sampling_sidebar.py)
top_k, fitted_notes = fitted_top_k(page, lm, model)  # this run's adjustments, shown above the demo
prompt = knobs(model, lm, top_k)  # the prompt and the rest of the sidebar

settings = page.read()
page.settle()  # a link the widgets read otherwise than the rules: corrected by one more run
sampling, limit = settings.sampling(), settings.tokens
with st.sidebar:
    if sampling != DEFAULT_SETTINGS:
        st.caption("These settings change every conditional before the draw: the text comes from another joint than "
                   "the model's own, which it follows only at temperature 1 with nothing cut or penalised.")  # fmt: skip
fitted_notes += [pop("_tokens_note")] if get("_tokens_note") else []
for note in fitted_notes:
    st.info(escape_markdown(note), icon="✂️")


def finish_notes() -> None:
    with link_notes:
        page.show_notes()


if lm is None:
    finish_notes()
    st.stop()
try:
    prompt_ids = context_ids(lm, prompt)
except ChainRuleError as e:
    show_error(f"The prompt cannot be used with **{model}**.", e)
    finish_notes()
    st.stop()

run_key = (model, tuple(prompt_ids), settings.seed)
if session() is None or session().run_key != run_key:
    # a new model, prompt or seed starts a new text with a freshly seeded generator
    start_over(prompt_ids, settings.seed, run_key, settings.speed)
    if page.arrived:
        restore_from_link(lm, sampling, page)  # the text a reloaded page or a shared link carries
link = share_link(settings, write_text_to_url())
finish_notes()

presenter = settings.presenter
panel = live_panel(lm, sampling, limit, presenter)
if not presenter:
    drift_section(lm, sampling, settings.seed, settings.drift_tokens)  # right after the history and its forcing
lab_sections(lm, prompt_ids, settings, link)
if not presenter:
    kv_section(prompt, sampling, settings.seed)
    state_section()
next_lesson("sampling")
play(panel, lm, sampling, limit, presenter)  # last: while auto-play lasts, it replaces the panel's parts in place
