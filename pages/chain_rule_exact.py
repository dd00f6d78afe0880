"""Sections 1 and 2 of the Chain rule page (pages/chain_rule.py): the worked example B-A-C, and an exact
joint over 27 sequences factored in any order. Not a page itself: a module, compiled once."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.figures.chain_rule import worked_waterfall
from core.figures.presenter import for_projector
from core.lessons.chain_rule import (
    ORDERINGS,
    WORKED_LABELS,
    WORKED_SEQUENCE,
    max_abs_difference,
    ordering_formula,
    random_joint,
    sequence_factors,
    sequence_table,
    sequence_text,
    to_unit,
    worked_example,
)
from core.lessons.states import SEQUENCES, ChainRuleState, order_label
from core.validation import MAX_SEED
from pages.chain_rule_ledger import fmt
from pages.charts import chart_with_table
from pages.state import bound, get, put

DEFAULTS = ChainRuleState()


def worked_section(unit: str, presenter: bool = False) -> None:
    st.header("1. A worked example", divider="gray")
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.markdown(
            f"Three symbols A, B, C and the sequence **{'-'.join(WORKED_SEQUENCE)}**. "
            "Set each conditional (a probability, from 0 to 1); the joint is their product and the NLL is the "
            "sum of their −log."
        )
        factors = [
            st.number_input(
                label,
                0.0,
                1.0,
                getattr(DEFAULTS, f"cr_factor_{i}"),
                0.05,
                format="%.3f",
                help="A probability: from 0 to 1.",
                **bound(f"cr_factor_{i}"),
            )  # fmt: skip
            for i, label in enumerate(WORKED_LABELS)
        ]
    example = worked_example(factors)
    with right:
        m1, m2, m3 = st.columns(3)
        m1.metric("joint p(B, A, C)", f"{example.joint:.4g}", help="p(B) · p(A | B) · p(C | B, A)")
        m2.metric(f"−log joint ({unit})", fmt(to_unit(example.nll_of_joint, unit)), help="−log of the product")
        m3.metric(f"Σ −log terms ({unit})", fmt(to_unit(example.nll_sum, unit)), help="sum of the per-factor terms")
        terms = " + ".join(fmt(to_unit(v, unit)) for v in example.neglogs)
        st.markdown(
            f"**Two ways, one number:** −log({' · '.join(f'{p:g}' for p in example.factors)}) = "
            f"{terms} = **{fmt(to_unit(example.nll_sum, unit))} {unit}**"
        )
        if example.zero_factors:
            st.warning(
                f"{', '.join(example.zero_factors)} = 0: the sequence is impossible, so the joint is 0 and "
                f"−log 0 = ∞ — no finite number of {unit} pays for an event the model calls impossible.",
                icon="♾️",
            )
        fig = worked_waterfall(example, unit)
        chart_with_table(for_projector(fig) if presenter else fig, "cr_waterfall")


def new_distribution() -> None:
    put("cr_joint_seed", (get("cr_joint_seed", 0) + 1) % (MAX_SEED + 1))


def joint_section() -> np.ndarray:
    """Draws section 2 and returns its joint (the draws below sample from it)."""
    st.header("2. The order does not change the joint", divider="gray")
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown(
            "An exact joint over 3 positions × 3 symbols: all 27 sequence probabilities, drawn at random. Pick any "
            "order in which to reveal the positions: its conditionals are derived from the joint by summing out "
            "(marginalising) the positions not yet seen, and their product gives the joint back — whatever the order."
        )
        o_col, s_col = st.columns(2)
        order = o_col.selectbox("Order of the positions", ORDERINGS, format_func=order_label, **bound("cr_order"))
        sequence = s_col.selectbox(
            "Sequence (x1 x2 x3)", SEQUENCES, index=SEQUENCES.index(DEFAULTS.cr_sequence), format_func=sequence_text,
            **bound("cr_sequence"),
        )  # fmt: skip
        d_col, b_col = st.columns([1, 1], vertical_alignment="bottom")
        seed = d_col.number_input("Distribution #", 0, MAX_SEED, 0, 1, help="The numpy seed of the joint.",
                                  **bound("cr_joint_seed"))  # fmt: skip
        b_col.button("New distribution", on_click=new_distribution, key="cr_new_joint", icon="🎲")
    joint = random_joint(int(seed))
    with right:
        st.latex(ordering_formula(order))
        chain = sequence_factors(joint, order, sequence)
        st.dataframe(
            {"factor": [f.label for f in chain], "value": [f.prob for f in chain]},
            hide_index=True,
            column_config={"value": st.column_config.NumberColumn(format="%.6g")},
            key="cr_factor_table",
        )
    c1, c2, c3 = st.columns(3)
    c1.metric(f"product of the factors for {sequence_text(sequence)}", f"{math.prod(f.prob for f in chain):.6g}")
    c2.metric(f"joint p({sequence_text(sequence)}) read from the table", f"{joint[sequence]:.6g}")
    c3.metric(
        f"max |product − joint|, all {joint.size}",
        f"{max_abs_difference(joint, order):.1e}",
        help="Computed over every sequence for this order; it is not exactly 0 only because of float rounding.",
    )
    with st.expander(f"All {joint.size} sequences for this order"):
        rows = sequence_table(joint, order)
        number = st.column_config.NumberColumn
        st.dataframe(
            {
                "sequence": [r.sequence for r in rows],
                "joint": [r.joint for r in rows],
                "product of conditionals": [r.product for r in rows],
                "|difference|": [r.difference for r in rows],
            },
            hide_index=True,
            column_config={
                "joint": number(format="%.6g"),
                "product of conditionals": number(format="%.6g"),
                "|difference|": number(format="%.1e"),
            },
            key="cr_all_sequences",
        )
    return joint
