"""Check yourself: a question, the student's answer, and the verdict with the worked answer.

A ``Question`` is data: its text, what kind of answer it takes (a number, one choice, or several
choices), the right answer and the explanation, all computed by a generator in
``core.lessons.questions`` from the page's state at that moment. ``check`` compares an answer with
it; ``parse_number`` turns what a student typed into a number or says, in words, what is wrong.
Nothing here touches streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InputError

KINDS = ("number", "choice", "multi")
MAX_ANSWER = 1e9  # larger typed numbers are refused, not compared


@dataclass(frozen=True)
class Question:
    key: str  # which generator made it, e.g. "chain_rule.nll"
    text: str  # the question, markdown
    kind: str  # one of KINDS
    answer: float | int | frozenset[int]  # number | index into choices | set of indices into choices
    explanation: str  # the worked answer, markdown, with the same numbers the page shows
    choices: tuple[str, ...] = ()
    tolerance: float = 0.0  # numbers: |answer - typed| <= tolerance counts as right
    unit: str = ""  # numbers: shown beside the answer box

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "choice" and not 0 <= int(self.answer) < len(self.choices):
            raise ValueError("the answer must index one of the choices")
        if self.kind == "multi" and not set(self.answer) <= set(range(len(self.choices))):
            raise ValueError("the answers must index the choices")

    @property
    def answer_text(self) -> str:
        """The right answer in words, for the verdict and the teacher's key."""
        if self.kind == "number":
            shown = f"{self.answer:g}" if float(self.answer).is_integer() else f"{self.answer:.4g}"
            return (
                shown + (f" {self.unit}" if self.unit else "") + (f" (± {self.tolerance:g})" if self.tolerance else "")
            )
        if self.kind == "choice":
            return self.choices[int(self.answer)]
        return ", ".join(self.choices[i] for i in sorted(self.answer)) or "none of them"


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str  # "Right." / "Not quite: the answer is …", then the explanation


def parse_number(text: str) -> float:
    """A typed answer as a float; InputError in words for empty, non-numeric, infinite or huge input."""
    cleaned = (text or "").strip().replace("−", "-").replace(" ", "")
    if not cleaned:
        raise InputError("Type a number first, for example 2.53 (a dot for decimals).")
    try:
        x = float(cleaned)
    except ValueError:
        raise InputError(
            f"{text.strip()[:30]!r} is not a number: type digits such as 2.53 (a dot for decimals)."
        ) from None
    if not math.isfinite(x) or abs(x) > MAX_ANSWER:
        raise InputError(f"{text.strip()[:30]!r} is too large: every answer here is between -1e9 and 1e9.")
    return x


def check(question: Question, response) -> Verdict:
    """Compare ``response`` (typed text, a choice index, or a collection of indices) with the answer.

    InputError (the message to show) when there is nothing to check: an empty or unreadable number,
    no choice made.
    """
    if question.kind == "number":
        correct = abs(parse_number(response) - float(question.answer)) <= question.tolerance + 1e-12
    elif question.kind == "choice":
        if response is None:
            raise InputError("Pick one of the answers first.")
        correct = int(response) == int(question.answer)
    else:
        correct = frozenset(response or ()) == question.answer
    head = "**Right.**" if correct else f"**Not quite.** The answer is **{question.answer_text}**."
    return Verdict(correct, f"{head} {question.explanation}")
