"""Training: watch next-token prediction learn, live, on the names, Shakespeare, or your own text.

The job runs in the server's background-jobs worker process (core.jobs.JobRunner over core.workers,
one runner per server, a bounded number of jobs at once, the rest queued); this page starts it and a fragment on a timer draws its events: the
loss curves against the bigram and uniform limits, seeded samples, a held-out example's ledger.
The finished (or stopped) model belongs to this browser session only: "Use on Live sampling" puts
it in the session, and the weights and card download in the shipped format. Presenter view
(``training_presenter``) draws the loss curves bigger and skips the batch's loss ledger and Check yourself.
Parts: ``pages/training_controls.py`` (the settings and the buttons), ``pages/training_live.py`` (the run's
view) and ``pages/training_ledger.py`` (a batch's loss ledger).
"""

from __future__ import annotations

import os
import uuid

import streamlit as st

from core.jobs import JobRunner
from core.lessons import questions
from core.lessons.states import TrainingState
from pages.common import opening, presenter_toggle
from pages.navigation import next_lesson, require_app
from pages.quiz_panel import check_yourself, quiz_rng
from pages.state import LinkedPage, get, remember
from pages.training_controls import data_and_model, run_buttons
from pages.training_ledger import loss_ledger_section
from pages.training_live import live_view

require_app()  # a page script Streamlit ran without app.py reruns through it

SLOTS_ENV = "CHAIN_RULE_LAB_TRAINING_SLOTS"  # jobs that may train at once on this server (default 1)


@st.cache_resource
def job_runner() -> JobRunner:
    """One runner per server process: the bound on simultaneous jobs holds across every session."""
    return JobRunner(slots=max(1, int(os.environ.get(SLOTS_ENV, "1") or 1)), budget_s=120.0)


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
source, text, settings = data_and_model(settings_box, busy)  # pages/training_controls.py
run_buttons(controls, runner, owner, source, text, settings)
live_view(runner, presenter, busy)  # pages/training_live.py
if presenter:
    next_lesson("training")
    page.settle()
    st.stop()
ledger = loss_ledger_section(source, text)
check_yourself("training", [None if ledger is None else questions.training_loss(quiz_rng("training", 1), ledger.costs)])
next_lesson("training")
page.settle()
