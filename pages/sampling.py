"""Live sampling: draw a text token by token and watch temperature, top-k and top-p reshape each step.

Every token comes from ``core.text.language_model.sample_step`` and this session's own torch.Generator, seeded
from the seed, so pressing "Next token" (or Play) without touching anything gives exactly what
``core.generate`` gives. Moving a slider redraws the current step without drawing again. The
settings live in the URL, so a link reproduces the demo. Panels: ``pages/sampling_panels.py``, ``pages/sampling_history.py`` and ``pages/sampling_kv.py``.
"""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.lessons.settings import (
    DEFAULTS,
    MAX_TOKENS,
    PROMPT_MAX_CHARS,
    QUERY_KEYS,
    SAMPLING_MODELS,
    TEMPERATURE_MAX,
    TOP_P_MIN,
    PageSettings,
    clamp_tokens,
    fit_top_k,
    parse_query_params,
    to_query_params,
    top_k_choices,
)
from core.text.language_model import TEXT_MODELS, context_ids
from core.validation import MAX_SEED
from pages.common import model_or_error
from pages.sampling_kv import kv_section
from pages.sampling_lab import lab_sections, more_knobs, restore_from_link, write_text_to_url
from pages.sampling_panels import live_panel, on_speed, play, start_over

SPEEDS = [1, 2, 4, 6, 8, 10, 15, 20]  # auto-play, tokens per second

state = st.session_state

# Once per session the URL decides the settings; from then on the widgets own them.
if "sampling_url_notes" not in state:
    state.sampling_last, state.sampling_url_notes = parse_query_params(st.query_params.to_dict())
for name in QUERY_KEYS:  # Streamlit drops widget values while another page is shown: restore the last ones
    state.setdefault(f"sampling_{name}", getattr(state.sampling_last, name))
state.setdefault("sampling_speed", 4)  # auto-play, tokens per second
state.setdefault("sampling_presenter", False)

st.title(
    "🎲 Live sampling",
    help="Each step: the model's next-token distribution → reshaped by the knobs → one token drawn → next context.",
)
link_notes = st.container()  # filled once the link's text was restored (that needs the model), or before a stop


def show_link_notes() -> None:
    """The link's notes, once per run, in their place at the top (also when the page stops early)."""
    if state.sampling_url_notes and not state.get("_sampling_notes_shown"):
        state["_sampling_notes_shown"] = True
        with link_notes:
            st.warning("  \n".join(escape_markdown(n) for n in state.sampling_url_notes), icon="🔗")
            st.button("Dismiss", key="sampling_dismiss_notes", on_click=lambda: state.update(sampling_url_notes=[]))


state["_sampling_notes_shown"] = False

with st.sidebar:
    st.header("Sampling settings")
    mine = ("my-model",) if "my_model" in state else ()  # trained on the Training page, this session only
    if state.get("sampling_model") not in SAMPLING_MODELS + mine:
        state.sampling_model = SAMPLING_MODELS[0]
    model = st.selectbox("Model", SAMPLING_MODELS + mine, key="sampling_model")
    st.caption(
        TEXT_MODELS.get(
            model, f"your model from the Training page ({state.get('my_model') and state.my_model.card['data']})"
        )
    )
lm = state.my_model if model == "my-model" else model_or_error(model)
notes: list[str] = []  # this run's adjustments, shown above the demo
if lm is not None:
    top_k_fitted, note = fit_top_k(state.sampling_top_k, lm.vocab.size, model)
    if note:  # e.g. top-k = 50 kept from shakespeare, then names (27 symbols) chosen
        state.sampling_top_k = top_k_fitted
        notes.append(note)
top_k_options = top_k_choices(lm.vocab.size if lm is not None else max(state.sampling_top_k, 1), state.sampling_top_k)

with st.sidebar:
    prompt = st.text_area(
        "Prompt",
        key="sampling_prompt",
        max_chars=PROMPT_MAX_CHARS,
        height=80,
        help="The text to continue (Ctrl+Enter applies it). Empty: start from the start token.",
    )
    if not prompt:
        st.caption("Empty prompt: generation starts from the start token alone.")
    temperature = st.slider(
        "Temperature", 0.0, TEMPERATURE_MAX, step=0.01, key="sampling_temperature", help="0 = greedy"
    )
    if temperature == 0:
        st.caption("Temperature 0 is greedy: always the most probable token (ties: the lower id), whatever the seed.")
    top_k = st.select_slider(
        "Top-k",
        top_k_options,
        format_func=lambda k: "off" if k == 0 else str(k),
        key="sampling_top_k",
        help="Keep only the k most probable tokens.",
    )
    top_p = st.slider(
        "Top-p", TOP_P_MIN, 1.0, step=0.01, key="sampling_top_p", help="Keep the fewest tokens whose mass reaches p."
    )
    more = more_knobs()  # min-p, typical, penalties, the order of the stages
    seed = int(
        st.number_input(f"Seed (0 to {MAX_SEED:,})", min_value=0, max_value=MAX_SEED, step=1, key="sampling_seed")
    )
    tokens_asked = int(
        st.number_input(f"Number of tokens (1 to {MAX_TOKENS})", min_value=1, step=1, key="sampling_tokens")
    )
    st.select_slider("Auto-play speed (tokens per second)", SPEEDS, key="sampling_speed", on_change=on_speed)
    st.toggle("Presenter view", key="sampling_presenter", help="Bigger text and chart; the secondary panels hidden.")

limit, note = clamp_tokens(tokens_asked)
notes += [note] if note else []
settings = PageSettings(model, prompt, temperature, top_k, top_p, seed, limit, **more)
state.sampling_last = settings
# The URL carries every setting that differs from its default: the address bar is a shareable link.
wanted, default = to_query_params(settings), to_query_params(DEFAULTS)
for key, value in wanted.items():
    if value != default[key] and st.query_params.get(key) != value:
        st.query_params[key] = value
    elif value == default[key] and key in st.query_params:
        del st.query_params[key]

for note in notes:
    st.info(escape_markdown(note), icon="✂️")
if lm is None:
    show_link_notes()
    st.stop()
try:
    prompt_ids = context_ids(lm, prompt)
except ChainRuleError as e:
    st.error(f"The prompt cannot be used with **{model}**. {escape_markdown(str(e))}", icon="⚠️")
    show_link_notes()
    st.stop()

sampling = settings.sampling()
run_key = (model, tuple(prompt_ids), seed)
if "sampling" not in state or state.sampling.run_key != run_key:
    # a new model, prompt or seed starts a new text with a freshly seeded generator
    start_over(prompt_ids, seed, run_key)
    restore_from_link(lm, sampling)  # once per session: the text a reloaded page or a shared link carries
write_text_to_url()
show_link_notes()

presenter = state.sampling_presenter
panel = live_panel(lm, sampling, limit, presenter)
lab_sections(lm, prompt, prompt_ids, sampling, seed, limit, presenter)
if not presenter:
    kv_section(lm, prompt, prompt_ids, sampling, seed)
play(panel, lm, sampling, limit, presenter)  # last: while auto-play lasts, it replaces the panel's parts in place
