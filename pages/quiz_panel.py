"""The "Check yourself" section every lesson page ends with: predict, check, read the worked answer.

Not a page itself. A page passes the questions its state gives (core.lessons.questions, seeded by
``quiz_rng``); this module draws them, checks answers with core.lessons.quiz.check, keeps the
session's score, and shows a teacher's key. The seed is in the URL (``?quiz=N``), so a teacher can
hand out the same questions; "New questions" moves to the next seed.
"""

from __future__ import annotations

import hashlib
import random
import re

import streamlit as st

from core.display import escape_markdown, plain_text
from core.errors import InputError
from core.lessons.page_state import whole_number
from core.lessons.quiz import Question, check
from core.validation import MAX_SEED
from pages.state import get, put, remember, set_link_value
from pages.state import link_values as link


def quiz_seed() -> int:
    """This session's question seed: from ``?quiz=`` the first time (a bad value means 0), then the session's."""

    def from_link() -> int:
        n = whole_number((link("quiz") or ["0"])[-1])
        return n if n is not None and 0 <= n <= MAX_SEED else 0

    return remember("quiz_seed", from_link)


def quiz_rng(page: str, index: int) -> random.Random:
    """The random stream of question ``index`` on ``page`` for this seed (independent of the others)."""
    return random.Random(f"{page}:{index}:{quiz_seed()}")


def _fingerprint(q: Question) -> str:
    return hashlib.sha256(f"{q.key}|{q.text}|{q.choices}".encode()).hexdigest()[:12]


def _next_seed() -> None:
    put("quiz_seed", (quiz_seed() + 1) % (MAX_SEED + 1))
    set_link_value("quiz", str(get("quiz_seed")))


def _on_check(page: str, q: Question, widget: str) -> None:
    fp = _fingerprint(q)
    try:
        verdict = check(q, get(widget))
    except InputError as e:
        put(f"quiz_verdict_{fp}", ("error", str(e)))
        return
    put(f"quiz_verdict_{fp}", ("right" if verdict.correct else "wrong", verdict.message))
    remember("quiz_score", dict).setdefault(page, {})[fp] = verdict.correct


_ONLY_MATH = re.compile(r"(\s*\$[^$]+\$\s*)+")  # formulas and spaces, no word


def _choice_label(q: Question, i: int) -> str:
    """A choice as the radio shows it; a choice that is only a formula gets a letter first, because a
    screen reader (and axe) finds no name in KaTeX's drawing: "(b) $p(x_1)...$"."""
    choice = q.choices[i]
    return f"({chr(ord('a') + i)}) {choice}" if _ONLY_MATH.fullmatch(choice) else choice


def _answer_widget(q: Question, widget: str) -> None:
    if q.kind == "number":
        st.text_input(f"Your answer{f' ({q.unit})' if q.unit else ''}", key=widget, placeholder="a number, e.g. 2.53")
    elif q.kind == "choice":
        st.radio(
            "Your answer", range(len(q.choices)), format_func=lambda i: _choice_label(q, i), index=None, key=widget
        )
    else:
        st.multiselect(  # its options are drawn as plain text, not markdown
            "Your answer (pick all that apply)", range(len(q.choices)), format_func=lambda i: plain_text(q.choices[i]),
            key=widget,
        )  # fmt: skip


def ask(page: str, n: int, q: Question) -> None:
    """One predict-then-check question: its text, an answer box, Check, the verdict and the worked answer."""
    fp = _fingerprint(q)
    widget = f"quiz_answer_{page}_{fp}"  # a new question gets a fresh, empty answer box
    with st.container(border=True, key=f"quiz_{page}_{n}"):
        st.markdown(f"**{n}.** {q.text}")
        _answer_widget(q, widget)
        st.button("Check", key=f"quiz_check_{page}_{n}", on_click=_on_check, args=(page, q, widget))
        kind, message = get(f"quiz_verdict_{fp}", (None, ""))
        if kind == "right":
            st.success(message, icon="✅")
        elif kind == "wrong":
            st.error(message, icon="❌")
        elif kind == "error":
            st.warning(escape_markdown(message), icon="✏️")


def check_yourself(page: str, questions: list[Question | None]) -> None:
    """Draw the page's questions (None entries are skipped), each with Check, the verdict and the worked answer."""
    questions = [q for q in questions if q is not None]
    st.header("Check yourself", divider="gray")
    st.caption(
        "Predict, then check. The answers are computed from the model and the maths right now, so they follow "
        f"your text and settings. Question set {quiz_seed()} (in the link as ?quiz={quiz_seed()})."
    )
    for n, q in enumerate(questions, start=1):
        ask(page, n, q)
    scores = get("quiz_score", {}).get(page, {})
    left, right = st.columns([1, 2], vertical_alignment="center")
    left.button("New questions", key=f"quiz_new_{page}", on_click=_next_seed, icon="🔁")
    right.caption(f"This session on this page: **{sum(scores.values())} of {len(scores)}** checked answers right.")
    if st.toggle("Teacher key", key=f"quiz_key_{page}", help="Every question of this set with its answer."):
        with st.container(key=f"quiz_key_table_{page}"):  # markdown, whole: a table cut the questions short
            for n, q in enumerate(questions, start=1):
                st.markdown(f"**{n}.** {q.text}  \n**Answer:** {q.answer_text}")
