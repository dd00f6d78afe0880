"""Training: watch next-token prediction learn, live, on the names, Shakespeare, or your own text.

The job runs in the server's background-jobs worker process (core.jobs.JobRunner over core.workers,
one runner per server, a bounded number of jobs at once, the rest queued); this page starts it and a fragment on a timer draws its events: the
loss curves against the bigram and uniform limits, seeded samples, a held-out example's ledger.
The finished (or stopped) model belongs to this browser session only: "Use on Live sampling" puts
it in the session, and the weights and card download in the shipped format. Presenter view
(``training_presenter``) draws the loss curves bigger and skips the batch's loss ledger and Check yourself.
"""

from __future__ import annotations

import functools
import os
import string
import tempfile
import uuid
from pathlib import Path

import streamlit as st
import torch

from core.checkpoint import save_checkpoint
from core.errors import ChainRuleError
from core.figures.presenter import for_projector
from core.figures.training import loss_curves, loss_figure
from core.jobs import JobRunner
from core.lessons import questions
from core.lessons.states import TRAINING_KINDS, TRAINING_RATES, TRAINING_STEPS, TrainingState
from core.lessons.training_run import COST_LEGEND, cost_strip, run_progress
from core.text.corpora import CORPORA
from core.text.live_training import NAMES_BLOCK, build_net, decode_upload, train_live
from core.text.vocab import text_vocab
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.common import next_lesson, opening, presenter_toggle, require_app, show_error
from pages.quiz_panel import check_yourself, quiz_rng
from pages.state import LinkedPage, bound, get, pop, put, remember, text_box
from pages.training_ledger import loss_ledger_section

require_app()  # a page script Streamlit ran without app.py reruns through it

MAX_UPLOAD_BYTES = 200_000
FAMILY_NOTES = {
    "transformer": "layers, width (16 per head) and context as set.",
    "mlp": "it reads the last 5 characters; its hidden layer is 4 × the width.",
    "gru": "layers of GRU cells, a state as wide as the width.",
    "wavenet": "one dilated convolution per layer (dilations 1, 2, 4, 8): it reads the last 2^layers characters.",
}
SLOTS_ENV = "CHAIN_RULE_LAB_TRAINING_SLOTS"  # jobs that may train at once on this server (default 1)


@st.cache_resource
def job_runner() -> JobRunner:
    """One runner per server process: the bound on simultaneous jobs holds across every session."""
    return JobRunner(slots=max(1, int(os.environ.get(SLOTS_ENV, "1") or 1)), budget_s=120.0)


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


st.title("🏋️ Training", help="The whole training story: minimise the average −log p of each next character.")
page = LinkedPage(TrainingState, "training")
page.show_notes()
presenter = presenter_toggle("training_presenter")
opening(
    "Every autoregressive model is trained on one objective: the average **−log p** of each next character "
    "given the ones before it. Train a tiny model here and watch that number fall past two reference lines "
    "(a uniform guess, and a bigram that reads one character back; neither is a floor: a model that reads more "
    "context goes lower) while its samples turn from noise into text.",
    presenter,
)
owner = remember("training_owner", lambda: uuid.uuid4().hex)
runner = job_runner()
job = get("training_job")
busy = job is not None and not job.finished

controls = st.container()  # Train / Pause / Stop, above the settings (filled below, once they are read)
settings_box = st.expander("Data and model", expanded=job is None)  # folded away once a run exists
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
    block = c.select_slider("Context", [8, 16, 32, 64], value=32, disabled=busy or kind == "bigram" or source == "names",
                            **bound("training_block"))  # fmt: skip
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
    seed = int(f.number_input(f"Seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, disabled=busy, **bound("training_seed")))
    if kind != "bigram":
        with torch.device("meta"):  # shapes only: no memory, no initialisation on every rerun
            params = build_net(kind, text_vocab(string.printable), block, n_layer, n_embd).num_params()
        st.caption(
            f"About **{params:,}** parameters (counted for the 100 printable characters; the real vocabulary depends on the "
            f"data): {FAMILY_NOTES[kind]} Budget 2 minutes on this server."
        )
    else:
        st.caption("Counts every (previous, next) pair once: the limit a one-character context can reach.")


def start() -> None:
    settings = dict(
        kind=kind, n_layer=n_layer, n_embd=n_embd, block_size=block, causal=causal, steps=steps, lr=lr, seed=seed
    )
    try:
        put("training_job", runner.submit(owner, functools.partial(train_live, text, **settings)))  # runs in the worker
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
    controls.caption("**Train** waits for a text: paste one or upload a .txt file (or choose names or Shakespeare).")


@st.fragment(run_every=0.5 if busy else None)
def live() -> None:
    job = get("training_job")
    if job is None:
        st.info("Choose the data and a model, then press **Train**"
                + (": with “your text”, paste a text or upload a .txt file first." if get("training_source") == "your text"
                   else "."), icon="👆")  # fmt: skip
        return
    job.touch()
    settings = get("training_settings")
    position = runner.position(job)
    if job.state == "queued":
        st.info(f"Waiting for a free training slot: {position} job(s) ahead of yours on this server.", icon="⏳")
        return
    if job.state == "failed":
        show_error("", ChainRuleError(job.message))
        return
    events = list(job.events)
    if not events:
        st.caption("Preparing the data…")
        return
    last, reference = events[-1], events[0].reference
    progress = run_progress(events, 1 if settings["kind"] == "bigram" else settings["steps"])
    total = progress.total
    held = [e for e in events if e.heldout_loss is not None]
    st.progress(min(progress.step / max(total, 1), 1.0), text=f"Step {progress.step_text}")  # a metric cut it
    m = st.columns([1, 1.2, 1, 0.8])
    m[0].metric("Steps per second", f"{progress.rate:.1f}", help="Including the evaluations and samples.")
    m[1].metric("Held-out −log p", f"{held[-1].heldout_loss:.3f} nats" if held else "–",
                help="Nats per character, each prediction reading only the characters before it.")  # fmt: skip
    m[2].metric("Time left", f"{progress.seconds_left:.0f} s" if not job.finished else job.state)
    unit = m[3].radio("Unit", ["nats", "bits"], key="training_unit", help="per character", persist_state="session")
    curves = loss_figure(loss_curves(events, reference, unit), total)
    chart_with_table(for_projector(curves) if presenter else curves, "training_curve_fig")
    if held:
        st.markdown(f"**Samples at step {held[-1].step}** (seeds 0–{len(held[-1].samples) - 1}, the same every time):")
        st.code("\n".join(held[-1].samples) or " ", language=None)
        st.markdown(f"**A held-out example**, each character coloured by its cost −log p ({COST_LEGEND}):")
        st.markdown(cost_strip(held[-1].probe))
    if not settings.get("causal", True) and held:
        st.warning(
            "No causal mask: during training each position could read the very character it had to predict, so the "
            f"training loss ({last.train_loss:.2f}) falls far below what is possible. Scored honestly — each prediction "
            f"seeing only the past, as when sampling — the held-out loss is {held[-1].heldout_loss:.2f}, and the samples "
            "break: the model learned to copy, not to predict.",
            icon="🙈",
        )
    if job.finished:
        if get("training_seen_finish") != job.id:  # once: redraw the whole page (buttons, no timer)
            put("training_seen_finish", job.id)
            st.rerun()
        finished(job, settings)


def checkpoint_files(model, settings: dict) -> tuple[bytes, str]:
    """The weights and the card as ``save_checkpoint`` writes them (the shipped format)."""
    with tempfile.TemporaryDirectory() as tmp:
        weights = save_checkpoint(model.net.state_dict(), dict(model.card, settings=settings), Path(tmp), "my-model")
        return weights.read_bytes(), weights.with_suffix(".json").read_text()


def finished(job, settings) -> None:
    model = next((e.snapshot for e in reversed(job.events) if e.snapshot is not None), None)
    note = "" if job.state == "done" or job.message == "Stopped." else f" {job.message}"
    if model is None:
        st.info(f"The run stopped before its first evaluation: there is no model to keep.{note}", icon="⏹️")
        return
    steps_done = model.card["metrics"]["steps"]
    st.success(
        f"**{job.state.capitalize()}** after {steps_done} steps.{note} Held-out −log p **{model.card['metrics']['heldout_nll']:.3f}** "
        f"nats per character; {sum(p.numel() for p in model.net.parameters()):,} parameters.",
        icon="🏁",
    )
    left, right = st.columns(2)
    if left.button("Use this model on Live sampling", key="training_use", icon="🎲"):
        put("my_model", model)
        left.caption("Added for this browser session: choose **my-model** on the Live sampling page.")
    if get("training_files", (None,))[0] != job.id:  # written once per run, not on every rerun
        put("training_files", (job.id, *checkpoint_files(model, settings)))
    _, blob, card = get("training_files")
    right.download_button("Download the weights (.safetensors)", blob, "my-model.safetensors", key="training_dl_w")
    right.download_button(
        "Download the card (.json)", card, "my-model.json", mime="application/json", key="training_dl_c"
    )


live()
if presenter:
    next_lesson("training")
    page.settle()
    st.stop()
ledger = loss_ledger_section(source, text)
check_yourself("training", [None if ledger is None else questions.training_loss(quiz_rng("training", 1), ledger.costs)])
next_lesson("training")
page.settle()
