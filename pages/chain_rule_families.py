"""Part of the Chain rule page (pages/chain_rule.py): the same names learned by five networks - what each
conditional reads, how big each is, how well each predicts held-out names, and one name's ledger under
each. Not a page itself."""

from __future__ import annotations

import streamlit as st

from core.errors import ChainRuleError
from core.figures.chain_rule import family_ledger_figure
from core.lessons.chain_rule import to_unit
from core.lessons.families import FAMILIES, FAMILY_NAMES, FamilyRow, family_rows, side_by_side
from core.lessons.states import PROMPT_CHARS
from pages.chain_rule_ledger import fmt, text_with_examples
from pages.charts import chart_with_table
from pages.common import model_or_error, shared_model, show_error

FAMILY_EXAMPLES = ["christopher", "emma", "maximilian", "zqxj"]


@st.cache_resource(show_spinner="Scoring the 1,000 held-out names under every network…")
def cached_rows(names: tuple[str, ...]) -> list[FamilyRow]:
    """Deterministic for the shipped weights: computed once per server, shared read-only."""
    return family_rows([shared_model(n) for n in names])


def families_section(unit: str) -> None:
    st.subheader("Same data, other networks")
    st.markdown(
        "A transformer is one way to learn the conditionals. The same 31,000 names were learned by a count "
        "table, an MLP that reads a fixed window, a WaveNet of dilated causal convolutions and a recurrent GRU. "
        "Every one factors p(name) by the chain rule; they differ in **what each conditional may read**, so "
        "each defines its own joint — each an approximation of the same data."
    )
    models = [m for m in (model_or_error(n) for n in FAMILIES) if m is not None]
    if len(models) < 2:
        st.info("The comparison needs at least two of the networks; the rest of the page works without it.")
        return
    rows = cached_rows(tuple(m.name for m in models))
    st.dataframe(
        {
            "network": [f"{FAMILY_NAMES.get(r.model, r.model)} ({r.model})" for r in rows],
            "each conditional reads": [r.reads for r in rows],
            "parameters": [r.parameters for r in rows],
            f"held-out −log p ({unit}/char)": [to_unit(r.heldout_nll, unit) for r in rows],
        },
        hide_index=True,
        column_config={f"held-out −log p ({unit}/char)": st.column_config.NumberColumn(format="%.4f")},
        key="cr_family_table",
    )
    st.caption(
        "Held-out: the 1,000 names none of them trained on, each scored as the ledger scores it (start, "
        "letters, end), every token pooled; recomputed from the weights on this server."
    )
    name = text_with_examples("A name for every network", "cr_family_name", "cr_family_examples", FAMILY_EXAMPLES,
                              PROMPT_CHARS)  # fmt: skip
    try:
        ledgers = side_by_side(models, name)
    except ChainRuleError as e:
        show_error("", e, icon="🚫")
        return
    cols = st.columns(len(models))
    for col, m in zip(cols, models, strict=True):
        col.metric(f"{FAMILY_NAMES.get(m.name, m.name)}", f"{fmt(to_unit(ledgers.totals[m.name], unit), 2)} {unit}",
                   help=f"−log p(“{name}”) under {m.name}")  # fmt: skip
    chart_with_table(family_ledger_figure(ledgers.tokens, ledgers.costs, unit), "cr_family_chart")
    st.caption(
        "Each group of bars is one factor p(xᵢ | x<ᵢ) of the same name under each network; the total above is "
        "their sum. Past its window the MLP cannot see the name's beginning; the bigram sees one letter."
    )
