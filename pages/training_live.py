"""The Training page's live view of a run: a fragment on a timer draws the job's events as they come.

Progress and metrics, the loss curves against the bigram and uniform limits, seeded samples, a
held-out example coloured by cost, the no-mask warning; once the run ends, the model to keep:
"Use on Live sampling" (this browser session only) and the weights and card to download.
"""

from __future__ import annotations

import streamlit as st

from core.checkpoint import checkpoint_files
from core.errors import ChainRuleError
from core.figures.presenter import for_projector
from core.figures.training import loss_curves, loss_figure
from core.jobs import JobRunner
from core.lessons.training_run import COST_LEGEND, cost_strip, run_progress
from pages.charts import chart_with_table
from pages.common import show_error
from pages.state import get, put


def live_view(runner: JobRunner, presenter: bool, busy: bool) -> None:
    """The run's view, redrawn every half second while a job is ``busy`` (a fragment: the rest of the page stays)."""
    st.fragment(run_every=0.5 if busy else None)(live)(runner, presenter)


def live(runner: JobRunner, presenter: bool) -> None:
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


def finished(job, settings) -> None:
    """The finished (or stopped) run's model: its numbers, a button to use it, and its files to download."""
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
        card = dict(model.card, settings=settings)
        put("training_files", (job.id, *checkpoint_files(model.net.state_dict(), card, "my-model")))
    _, blob, card = get("training_files")
    right.download_button("Download the weights (.safetensors)", blob, "my-model.safetensors", key="training_dl_w")
    right.download_button(
        "Download the card (.json)", card, "my-model.json", mime="application/json", key="training_dl_c"
    )
