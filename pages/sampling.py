"""Live sampling: draw a text token by token and watch temperature, top-k and top-p reshape each step.

Every token comes from ``core.text.language_model.sample_step`` and this session's own torch.Generator, seeded
from the seed, so pressing "Next token" (or Play) without touching anything gives exactly what
``core.generate`` gives. Moving a slider redraws the current step without drawing again. The page's
state is ``core.lessons.states.SamplingState``, every field a widget bound to the link; the drawn text
travels in the link too (by hand: only the model can turn ids back into text). Panels:
``pages/sampling_panels.py`` (its timing line: ``pages/sampling_timing.py``), ``pages/sampling_history.py``,
``pages/sampling_lab.py`` and ``pages/sampling_kv.py``.
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.lessons.settings import (
    CLASSROOM_PROMPTS,
    MAX_TOKENS,
    PROMPT_MAX_CHARS,
    SAMPLING_MODELS,
    SPEEDS,
    TEMPERATURE_MAX,
    TOP_P_MIN,
    clamp_tokens,
    fit_top_k,
    speed_label,
    top_k_choices,
)
from core.lessons.states import SamplingState
from core.text.language_model import DEFAULT_SETTINGS, TEXT_MODELS, context_ids
from core.validation import MAX_SEED
from pages.common import model_or_error, next_lesson, opening, presenter_toggle, require_app, show_error
from pages.sampling_drift import drift_section
from pages.sampling_kv import kv_section, state_section
from pages.sampling_lab import lab_sections, more_knobs, restore_from_link, share_link, write_text_to_url
from pages.sampling_panels import live_panel, on_speed, play, session, start_over
from pages.state import LinkedPage, bound, get, pop, put, text_box

require_app()  # a page script Streamlit ran without app.py reruns through it


def clamp_typed() -> None:
    """More tokens typed than the page draws: the box takes the maximum, and says so."""
    tokens, note = clamp_tokens(get("tokens"))
    put("tokens", tokens)
    put("_tokens_note", note)


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

with st.sidebar:
    st.header("Sampling settings")
    my_model = get("my_model")  # trained on the Training page, this session only
    models = SAMPLING_MODELS + (("my-model",) if my_model is not None else ())
    if page.value("model") not in models:  # a link to a model trained in another browser session
        page.expect("model", "names", "Ignored model='my-model' in the link: a model trained on the Training page "
                    "lives only in the browser session that trained it. Using the default 'names'.")  # fmt: skip
    model = st.selectbox("Model", models, **bound("model"))
    st.caption(TEXT_MODELS.get(model, f"your model from the Training page ({my_model and my_model.card['data']})"))
    if model == "smollm2":
        st.caption("A general model trained on web text: what it writes is not filtered, and can be odd or upsetting "
                   "in a class. A prompt steers it; temperature 0 is its most predictable.")  # fmt: skip
lm = my_model if model == "my-model" else model_or_error(model)
fitted_notes: list[str] = []  # this run's adjustments, shown above the demo
top_k = page.value("top_k")
if lm is not None:
    fitted, note = fit_top_k(top_k, lm.vocab.size, model)
    if note:  # e.g. top-k = 50 kept from shakespeare, then names (27 symbols) chosen
        page.expect("top_k", fitted)
        put("top_k", fitted)  # before the widget exists: it shows the fitted value
        top_k = fitted
        fitted_notes.append(note)

with st.sidebar:
    prompt = text_box(
        st.text_area,
        "Prompt",
        "prompt",
        PROMPT_MAX_CHARS,
        height=80,
        help="The text to continue (Ctrl+Enter applies it). Empty: start from the start token.",
    )
    if model in CLASSROOM_PROMPTS:  # a click puts the prompt in the box above (and the link)
        st.pills("Prompts for a class", CLASSROOM_PROMPTS[model], format_func=lambda p: p.replace("\n", " ⏎ "),
                 key="sampling_prompt_pick", on_change=lambda: put("prompt", get("sampling_prompt_pick") or prompt))  # fmt: skip
    if not prompt:
        st.caption("Empty prompt: generation starts from the start token alone.")
    temperature = st.slider("Temperature", 0.0, TEMPERATURE_MAX, 1.0, 0.01, help="0 = greedy", **bound("temperature"))
    if temperature == 0:
        st.caption("Temperature 0 is greedy: always the most probable token (ties: the lower id), whatever the seed.")
    st.select_slider(
        "Top-k",
        top_k_choices(lm.vocab.size if lm is not None else max(top_k, 1), top_k),
        value=0,
        format_func=lambda k: "off" if k == 0 else str(k),
        help="Keep only the k most probable tokens.",
        **bound("top_k"),
    )
    st.slider("Top-p", TOP_P_MIN, 1.0, 1.0, 0.01, help="Keep the fewest tokens whose mass reaches p.", **bound("top_p"))
    more_knobs()  # min-p, typical, penalties, the order of the stages
    st.number_input(f"Seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1, **bound("seed"))
    st.number_input(f"Number of tokens (1 to {MAX_TOKENS})", 1, None, 20, 1, on_change=clamp_typed, **bound("tokens"))
    st.select_slider("Auto-play speed (tokens per second; max: no waiting)", SPEEDS, value=4,
                     format_func=speed_label, on_change=on_speed, **bound("speed"))  # fmt: skip

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
