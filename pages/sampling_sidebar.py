"""Live sampling's sidebar: the model, the prompt and every knob that reshapes a step, each bound to the link.

The page reads the settings back as one ``core.lessons.states.SamplingState`` (``LinkedPage.read``); these
functions only draw the widgets, in the order the sidebar shows them, and fit what the chosen model cannot take.
"""

from __future__ import annotations

import streamlit as st

from core.lessons.settings import (
    CLASSROOM_PROMPTS,
    MAX_TOKENS,
    ORDER_NAMES,
    PENALTY_RANGE,
    PROMPT_MAX_CHARS,
    REPETITION_RANGE,
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
from core.text.language_model import TEXT_MODELS, TextModel
from core.validation import MAX_SEED
from pages.common import model_or_error
from pages.sampling_panels import on_speed
from pages.state import LinkedPage, bound, get, put, text_box

KNOBS = ("min_p", "typical_p", "repetition", "presence", "frequency", "order")


def clamp_typed() -> None:
    """More tokens typed than the page draws: the box takes the maximum, and says so."""
    tokens, note = clamp_tokens(get("tokens"))
    put("tokens", tokens)
    put("_tokens_note", note)


def model_choice(page: LinkedPage) -> tuple[str, TextModel | None]:
    """The sidebar's heading and Model box: (the model's name, the model, or None after saying why it cannot load)."""
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
    return model, lm


def fitted_top_k(page: LinkedPage, lm: TextModel | None, model: str) -> tuple[int, list[str]]:
    """The link's top-k, fitted to the model's vocabulary before the widget exists: (top-k, the notes to show)."""
    fitted_notes: list[str] = []  # this run's adjustments, shown above the demo
    top_k = page.value("top_k")
    if lm is not None:
        fitted, note = fit_top_k(top_k, lm.vocab.size, model)
        if note:  # e.g. top-k = 50 kept from shakespeare, then names (27 symbols) chosen
            page.expect("top_k", fitted)
            put("top_k", fitted)  # before the widget exists: it shows the fitted value
            top_k = fitted
            fitted_notes.append(note)
    return top_k, fitted_notes


def knobs(model: str, lm: TextModel | None, top_k: int) -> str:
    """The rest of the sidebar: the prompt, then the knobs of a step, the seed, the length and the speed.
    Returns the prompt."""
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
        temperature = st.slider(
            "Temperature", 0.0, TEMPERATURE_MAX, 1.0, 0.01, help="0 = greedy", **bound("temperature")
        )
        if temperature == 0:
            st.caption(
                "Temperature 0 is greedy: always the most probable token (ties: the lower id), whatever the seed."
            )
        st.select_slider(
            "Top-k",
            top_k_choices(lm.vocab.size if lm is not None else max(top_k, 1), top_k),
            value=0,
            format_func=lambda k: "off" if k == 0 else str(k),
            help="Keep only the k most probable tokens.",
            **bound("top_k"),
        )
        st.slider(
            "Top-p", TOP_P_MIN, 1.0, 1.0, 0.01, help="Keep the fewest tokens whose mass reaches p.", **bound("top_p")
        )
        more_knobs()  # min-p, typical, penalties, the order of the stages
        st.number_input(f"Seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, 1, **bound("seed"))
        st.number_input(
            f"Number of tokens (1 to {MAX_TOKENS})", 1, None, 20, 1, on_change=clamp_typed, **bound("tokens")
        )
        st.select_slider("Auto-play speed (tokens per second; max: no waiting)", SPEEDS, value=4,
                         format_func=speed_label, on_change=on_speed, **bound("speed"))  # fmt: skip
    return prompt


def more_knobs() -> None:
    """min-p, typical, the penalties and the order, in an expander (open when any is on)."""
    on = SamplingState(**{k: get(k) for k in KNOBS if get(k) is not None}).sampling().has_extras
    with st.expander("More ways to draw", expanded=on):
        st.slider(
            "Min-p", 0.0, 1.0, 0.0, 0.01, help="Keep tokens with p ≥ min-p × the top p. 0 = off.", **bound("min_p")
        )
        st.slider(
            "Typical-p",
            TOP_P_MIN,
            1.0,
            1.0,
            0.01,
            help="Keep the tokens whose surprise −log p is closest to the entropy, up to this mass. 1 = off. "
            "It can drop the most likely token.",
            **bound("typical_p"),
        )
        st.slider(
            "Repetition penalty",
            *REPETITION_RANGE,
            1.0,
            0.05,
            help="CTRL: a token already in the text has its logit divided by θ (if positive) or multiplied "
            "by θ (if negative). 1 = off; above 1 discourages repeats.",
            **bound("repetition"),
        )
        st.slider(
            "Presence penalty",
            *PENALTY_RANGE,
            0.0,
            0.1,
            help="OpenAI: subtract this from the logit of every token already in the text. 0 = off.",
            **bound("presence"),
        )
        st.slider(
            "Frequency penalty",
            *PENALTY_RANGE,
            0.0,
            0.1,
            help="OpenAI: subtract this times the token's count in the text. 0 = off.",
            **bound("frequency"),
        )
        st.radio(
            "Order of the stages",
            list(ORDER_NAMES),
            captions=list(ORDER_NAMES.values()),
            horizontal=True,
            help="Penalties always come first. Hugging Face then applies temperature before top-k / top-p / "
            "min-p / typical; llama.cpp truncates first and applies temperature last.",
            **bound("order"),
        )
