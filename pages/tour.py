"""Tour: the lesson in order, one short step at a time (``core.lessons.tour``), with Back / Next (and the
← / → keys), a progress bar, the step in the link (``?tour_step=5``: kept on reload), one live element
(``pages/tour_live.py``), a button that opens the page where the step is shown in full, in the right
state, and where it fits a predict-then-check question. Presenter view (``tour_presenter``) folds the sidebar
and skips the question and the keys' caption."""

from __future__ import annotations

import streamlit as st

from core.lessons import questions
from core.lessons.states import TOUR_STEPS, TourState
from core.lessons.tour import STEPS
from core.text.language_model import context_ids, logits_for_context
from pages.common import model_or_error, presenter_toggle
from pages.navigation import page_link, require_app
from pages.quiz_panel import ask, quiz_rng
from pages.state import LinkedPage, bound, get, put
from pages.tour_live import LIVE

require_app()  # a page script Streamlit ran without app.py reruns through it


def go(delta: int) -> None:
    put("tour_step", min(max(get("tour_step", 1) + delta, 1), TOUR_STEPS))


def question(name: str, n: int):
    rng = quiz_rng("tour", n)
    if name == "sampling_greedy":
        lm = model_or_error("names")
        if lm is None:
            return None
        return questions.sampling_greedy(rng, logits_for_context(lm, context_ids(lm, "em")), lm.vocab.token_text)
    return getattr(questions, name)(rng)


page = LinkedPage(TourState, "tour")
page.show_notes()
k = page.value("tour_step")
back, progress, forward = st.columns([1, 6, 1], vertical_alignment="center")
back.button("Back", key="tour_back", on_click=go, args=(-1,), disabled=k == 1, shortcut="left", width="stretch")
progress.progress(k / TOUR_STEPS, text=f"**Tour: the chain rule, step by step** · step {k} of {TOUR_STEPS}")
forward.button("Next", key="tour_next", on_click=go, args=(1,), disabled=k == TOUR_STEPS, shortcut="right",
               type="primary", width="stretch")  # fmt: skip
st.segmented_control(
    "Step", range(1, TOUR_STEPS + 1), default=1, required=True, label_visibility="collapsed", width="stretch",
    help="Jump to a step: " + "; ".join(f"{i}. {s.title}" for i, s in enumerate(STEPS, 1)), **bound("tour_step"),
)  # fmt: skip
presenter = presenter_toggle("tour_presenter")
state = page.read()
step = STEPS[state.tour_step - 1]

st.title(f"Tour {state.tour_step}. {step.title}", anchor=False)  # h1: the page names itself "Tour"
st.markdown(step.words)
if step.live:
    with st.container(border=True, key="tour_live"):
        LIVE[step.live](presenter)
if step.scene is not None:
    page_link(f"pages/{step.scene.page}.py", f"Open {step.scene.title}", icon="▶️",
                 help=step.scene.shows or None, query_params=step.scene.query())  # fmt: skip
elif state.tour_step == TOUR_STEPS:
    page_link("pages/remember.py", "Open What to remember", icon="📌")
if not presenter and step.question and (q := question(step.question, state.tour_step)) is not None:
    st.markdown("**Predict, then check**")
    ask("tour", state.tour_step, q)
if not presenter:
    st.caption("Keys: ← back, → next (when no box or slider has the focus).")
page.settle()
