"""The Training page's controls: the data and model settings, and the Train / Pause / Stop buttons.

Every setting is a widget bound to the link (``core.lessons.states.TrainingState``); while a run
trains, the settings are disabled. The buttons start, pause and stop a job of the server's runner
(``core.jobs.JobRunner``).
"""

from __future__ import annotations

import functools
import string

import streamlit as st

from core.errors import ChainRuleError
from core.jobs import JobRunner
from core.lessons.states import TRAINING_KINDS, TRAINING_RATES, TRAINING_STEPS
from core.text.corpora import CORPORA
from core.text.live_training import NAMES_BLOCK, decode_upload, parameter_count, train_live
from core.text.vocab import text_vocab
from core.validation import MAX_SEED
from pages.common import show_error
from pages.state import bound, get, pop, put, text_box

MAX_UPLOAD_BYTES = 200_000
FAMILY_NOTES = {
    "transformer": "layers, width (16 per head) and context as set.",
    "mlp": "it reads the last 5 characters; its hidden layer is 4 × the width.",
    "gru": "layers of GRU cells, a state as wide as the width.",
    "wavenet": "one dilated convolution per layer (dilations 1, 2, 4, 8): it reads the last 2^layers characters.",
}


def user_text() -> str | None:
    """The pasted or uploaded text, or None after saying what is wrong with it."""
    upload = st.file_uploader(  # the dropzone states its own limit (1 MB); this page takes at most 200 KB of it
        "…or upload a .txt file (UTF-8, at most 200 KB; a larger file is refused with a message)",
        type=["txt"], key="training_upload", max_upload_size=1,
    )  # fmt: skip
    if upload is not None:
        try:
            return decode_upload(upload.getvalue(), MAX_UPLOAD_BYTES)
        except ChainRuleError as e:
            show_error("", e, icon="📄")
            return None
    # not in the link: up to 200 KB, far longer than an address can carry
    return text_box(st.text_area, "Paste your text", "training_text", MAX_UPLOAD_BYTES, linked=False, height=120)


def data_and_model(settings_box, busy: bool) -> tuple[str, str | None, dict]:
    """The Data and Model boxes side by side in ``settings_box``: (source, its text or None, the run's
    settings as ``train_live`` takes them)."""
    data_col, model_col = settings_box.columns(2)
    with data_col.container(border=True):
        st.markdown("**Data**")
        source = st.segmented_control("Data", ["names", "shakespeare", "your text"], default="names", required=True,
                                      label_visibility="collapsed", disabled=busy, **bound("training_source"))  # fmt: skip
        text = source if source != "your text" else user_text()
        st.caption(CORPORA.get(source, "The vocabulary is the text's characters; the last 10% is held out."))
    with model_col.container(border=True):
        st.markdown("**Model**")
        kind = st.radio("Model", list(TRAINING_KINDS), horizontal=True, disabled=busy, label_visibility="collapsed",
                        format_func=TRAINING_KINDS.get, **bound("training_kind"))  # fmt: skip
        a, b, c = st.columns(3)
        n_layer = a.select_slider("Layers", [1, 2, 3, 4], value=2, disabled=busy or kind in ("bigram", "mlp"),
                                  **bound("training_layers"))  # fmt: skip
        n_embd = b.select_slider("Width", [32, 64, 96, 128], value=64, disabled=busy or kind == "bigram",
                                 **bound("training_width"))  # fmt: skip
        block = c.select_slider("Context", [8, 16, 32, 64], value=32,
                                disabled=busy or kind == "bigram" or source == "names", **bound("training_block"))  # fmt: skip
        if source == "names":
            block = NAMES_BLOCK
        causal = st.checkbox("Causal mask", value=True, disabled=busy or kind in ("bigram", "mlp", "gru"),
                             **bound("training_causal"), help="Uncheck to train the pitfall: every position may read "
                             "the future (a transformer without its mask, a WaveNet with centred kernels). A window "
                             "and a recurrence are causal by construction.")  # fmt: skip
        d, e, f = st.columns(3)
        steps = d.select_slider("Steps", TRAINING_STEPS, value=600, disabled=busy or kind == "bigram",
                                **bound("training_steps"))  # fmt: skip
        lr = e.select_slider("Learning rate", TRAINING_RATES, value=3e-3, disabled=busy or kind == "bigram",
                             **bound("training_lr"))  # fmt: skip
        seed = int(f.number_input(f"Seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, disabled=busy,
                                  **bound("training_seed")))  # fmt: skip
        if kind != "bigram":
            params = parameter_count(kind, text_vocab(string.printable), block, n_layer, n_embd)
            st.caption(
                f"About **{params:,}** parameters (counted for the 100 printable characters; the real vocabulary "
                f"depends on the data): {FAMILY_NOTES[kind]} Budget 2 minutes on this server."
            )
        else:
            st.caption("Counts every (previous, next) pair once: the limit a one-character context can reach.")
    settings = dict(
        kind=kind, n_layer=n_layer, n_embd=n_embd, block_size=block, causal=causal, steps=steps, lr=lr, seed=seed
    )
    return source, text, settings


def run_buttons(controls, runner: JobRunner, owner: str, source: str, text: str | None, settings: dict) -> None:
    """Train / Pause (or Resume) / Stop in ``controls``, and below them what keeps Train from starting."""
    job = get("training_job")
    busy = job is not None and not job.finished

    def start() -> None:
        try:
            put("training_job", runner.submit(owner, functools.partial(train_live, text, **settings)))  # in the worker
            put("training_settings", dict(settings, data=source))
        except ChainRuleError as e:
            put("training_error", str(e))

    buttons = controls.columns([1, 1, 1, 3])
    buttons[0].button("Train", key="training_start", type="primary", icon="🏋️", on_click=start,
                      disabled=busy or not text, width="stretch")  # fmt: skip
    if busy and job.state == "paused":
        buttons[1].button("Resume", key="training_resume", on_click=job.resume, icon="▶️", width="stretch")
    else:
        buttons[1].button("Pause", key="training_pause", on_click=job.pause if busy else None, icon="⏸️",
                          disabled=not busy or job.state != "running", width="stretch")  # fmt: skip
    buttons[2].button(
        "Stop", key="training_stop", on_click=job.stop if busy else None, icon="⏹️", disabled=not busy, width="stretch"
    )
    if get("training_error"):
        with controls:
            show_error("", ChainRuleError(pop("training_error")))
    if not text and not busy:
        controls.caption(
            "**Train** waits for a text: paste one or upload a .txt file (or choose names or Shakespeare)."
        )
