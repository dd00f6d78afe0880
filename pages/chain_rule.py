"""Chain rule: factor a joint into conditionals, read its NLL two ways, and any text's likelihood ledger.

Thin page: its state is ``core.lessons.states.ChainRuleState`` (every control bound to the link); the
sections live in ``pages/chain_rule_exact.py`` (1, 2), ``chain_rule_ordering.py``, ``chain_rule_ledger.py``
(3), ``chain_rule_compare.py`` (4) and
``chain_rule_uses.py`` (5); ``core.lessons`` computes, ``core.figures`` draws. Presenter view (``cr_presenter``)
keeps sections 1-3 with a bigger worked example and skips the rest: other networks, 4, 5 and Check yourself.
"""

from __future__ import annotations

import streamlit as st

from core.lessons import questions
from core.lessons.chain_rule import UNITS
from core.lessons.states import ChainRuleState
from pages.chain_rule_compare import models_section, prompts_section
from pages.chain_rule_draws import draws_section
from pages.chain_rule_exact import joint_section, worked_section
from pages.chain_rule_families import families_section
from pages.chain_rule_ledger import ledger_section
from pages.chain_rule_ordering import ordering_section
from pages.chain_rule_uses import uses_section
from pages.common import opening, presenter_toggle
from pages.navigation import next_lesson, require_app
from pages.quiz_panel import check_yourself, quiz_rng
from pages.state import LinkedPage, bound

require_app()  # a page script Streamlit ran without app.py reruns through it

page = LinkedPage(ChainRuleState, "chain_rule")
st.title("Chain rule")
page.show_notes()
presenter = presenter_toggle("cr_presenter")
opening(
    "Any joint distribution over a sequence factors **exactly** into conditionals, one per position, "
    "each conditioned only on what came before. Taking logs turns the product into a sum, so the "
    "negative log-likelihood (NLL) of a sequence is a ledger of per-position costs. "
    "The chain rule itself is exact; an autoregressive model's only approximation is in the "
    "**learned conditionals**.",
    presenter,
)
st.latex(
    r"p(x_1,\dots,x_n)=\prod_{i=1}^{n} p(x_i \mid x_{<i}) \qquad -\log p(x_1,\dots,x_n)=\sum_{i=1}^{n} -\log p(x_i \mid x_{<i})"
)
unit = st.segmented_control(
    "Units for −log p",
    UNITS,
    default="nats",
    required=True,
    help="nats use the natural log; bits use log base 2 (1 bit = ln 2 ≈ 0.693 nats).",
    **bound("cr_unit"),
)
worked_section(unit, presenter)
draws_section(joint_section())
ledger = ledger_section(unit)  # trained models come in here ...
if not presenter:
    families_section(unit)
ordering_section(unit)  # ... so the order's effect on a learned model follows them
if presenter:  # presenter view skips sections 4-5 (two models, two prompts, uses), other networks and the quiz
    next_lesson("chain_rule")
    page.settle()
    st.stop()
models_section()
prompts_section()
uses_section(unit)
check_yourself(
    "chain_rule",
    [
        questions.chain_rule_nll(quiz_rng("chain_rule", 1)),
        questions.chain_rule_ordering(quiz_rng("chain_rule", 2)),
        questions.chain_rule_surprise(quiz_rng("chain_rule", 3), ledger),
    ],
)
next_lesson("chain_rule")
page.settle()
