"""Part of the Chain rule page (pages/chain_rule.py): the ordering pitfall on two trained models - one name
factored left to right and right to left, and every held-out name under both. Not a page itself."""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.figures.chain_rule import ordering_scatter
from core.lessons.chain_rule import to_unit
from core.lessons.ordering import FORWARD, REVERSED, HeldoutComparison, OrderedScore, heldout_comparison, order_pair
from core.lessons.states import PROMPT_CHARS
from pages.chain_rule_ledger import fmt, text_with_examples
from pages.charts import chart_with_table
from pages.common import model_or_error, shared_model, show_error

ORDER_EXAMPLES = ["emma", "noelle", "finian", "xavier", "christopher"]  # noelle, finian: held-out names (a dot)


@st.cache_resource(show_spinner="Scoring the 1,000 held-out names in both orders…")
def cached_comparison() -> HeldoutComparison:
    """Deterministic for the shipped weights: computed once per server, shared read-only."""
    return heldout_comparison(shared_model(FORWARD), shared_model(REVERSED))


def factor_table(col, s: OrderedScore, unit: str, key: str) -> None:
    col.dataframe(
        {
            "factor": [f.label for f in s.factors],
            "p": [f.prob for f in s.factors],
            f"−log p ({unit})": [to_unit(f.neglog, unit) for f in s.factors],
        },
        hide_index=True,
        column_config={"p": st.column_config.NumberColumn(format="%.4f")},
        key=key,
    )


def ordering_section(unit: str) -> None:
    st.subheader("The order does change what a model learns")
    st.markdown(
        "Section 2's joint is exact, so every order gives it back. A **learned** model only approximates its "
        "conditionals, and some are easier to learn in one direction than in the other. **names** reads a "
        "name left to right; **names-reversed** is the same transformer trained on the same names, split "
        "and budget, written right to left. Each defines its own joint p(name) through its own "
        "factorisation; both were trained to approximate the same distribution of names, so their totals "
        "agree closely — but not exactly."
    )
    forward, backward = model_or_error(FORWARD), model_or_error(REVERSED)
    if forward is None or backward is None:
        st.info("The ordering comparison needs both names models; the rest of the page works without them.")
        return
    name = text_with_examples(
        "A name to factor both ways", "cr_order_name", "cr_order_examples", ORDER_EXAMPLES, PROMPT_CHARS
    )
    try:
        pair = order_pair(forward, backward, name)
    except ChainRuleError as e:
        show_error("", e, icon="🚫")
        return
    left, right = st.columns(2, gap="large")
    for col, s, title in ((left, pair.forward, "left to right"), (right, pair.reversed, "right to left")):
        col.markdown(f"**{s.model}** reads “{escape_markdown(s.reads)}” ({title})")
        col.metric(f"−log p(name) under {s.model} ({unit})", fmt(to_unit(s.nll, unit)))
        factor_table(col, s, unit, f"cr_order_factors_{s.model}")
    diff = to_unit(pair.difference, unit)
    st.markdown(
        f"Two models, two factorisations: **{fmt(to_unit(pair.forward.nll, unit))}** vs "
        f"**{fmt(to_unit(pair.reversed.nll, unit))} {unit}**, a difference of {diff:+.3f} {unit} "
        f"(the reversed model finds “{escape_markdown(name)}” {'less' if diff > 0 else 'more'} likely). "
        "Exact conditionals would give the same number both ways; the gap is what the two models learned "
        "differently."
    )
    comparison = cached_comparison()
    st.markdown("**Over the 1,000 held-out names** (names neither model trained on):")
    m1, m2, m3 = st.columns(3)
    m1.metric(f"{FORWARD}: held-out ({unit}/char)", f"{to_unit(comparison.forward_per_token, unit):.4f}")
    m2.metric(f"{REVERSED}: held-out ({unit}/char)", f"{to_unit(comparison.reversed_per_token, unit):.4f}")
    m3.metric(
        f"difference ({unit}/char)",
        f"{to_unit(comparison.gap_per_token, unit):+.4f}",
        help="reversed minus forward, pooled over every letter and end token of the held-out names",
    )
    chart_with_table(ordering_scatter(comparison, pair.forward.reads, unit), "cr_order_scatter")
    st.caption(
        f"Each dot is one held-out name: its −log p under the left-to-right model (x) and the right-to-left model "
        f"(y); the dashed line is where they agree. Correlation {comparison.correlation:.3f}; on average the two "
        f"totals differ by {to_unit(comparison.mean_abs_difference, unit):.2f} {unit} per name, yet pooled over "
        f"all names they differ by {abs(to_unit(comparison.gap_per_token, unit)):.4f} {unit} per character. "
        + (
            "The order barely changes how well this model family fits names as a whole, but it does change "
            "which names each one finds likely."
            if abs(comparison.gap_per_token) < 0.03
            else "Here the order changes how well the model fits names as a whole."
        )
        + ("" if pair.forward.reads in comparison.names else " (Your name is not a held-out name: it has no dot.)")
    )
