"""Chain rule: factor a joint into conditionals, read its NLL two ways, and any text's likelihood ledger.

Thin page: widgets in, ``core.lessons.chain_rule`` computes, ``core.figures.chain_rule`` draws.
"""

from __future__ import annotations

import math

import streamlit as st

from core.display import escape_markdown, scientific_from_log10
from core.errors import ChainRuleError
from core.exports import ledger_csv
from core.figures.chain_rule import ledger_bars, worked_waterfall
from core.lessons import questions
from core.lessons.chain_rule import (
    ORDERINGS,
    SYMBOLS,
    WORKED_FACTORS,
    WORKED_LABELS,
    WORKED_SEQUENCE,
    all_sequences,
    max_abs_difference,
    ordering_formula,
    position_name,
    product_of_conditionals,
    random_joint,
    sequence_factors,
    sequence_text,
    to_unit,
    worked_example,
)
from core.lessons.ledger import (
    LEDGER_EXAMPLES,
    changed_note,
    context_note,
    display_token,
)
from core.text.language_model import TEXT_MODELS
from pages.chain_rule_compare import cached_ledger, fmt, models_section, prompts_section, text_with_examples
from pages.chain_rule_ordering import ordering_section
from pages.common import chart_config, model_or_error
from pages.quiz_panel import check_yourself, quiz_rng

LEDGER_MODELS = ["names", "names-bigram", "shakespeare", "smollm2"]


# ---------------------------------------------------------------------------------------------
st.title("Chain rule")
st.markdown(
    "Any joint distribution over a sequence factors **exactly** into conditionals, one per position, "
    "each conditioned only on what came before. Taking logs turns the product into a sum, so the "
    "negative log-likelihood (NLL) of a sequence is a ledger of per-position costs. "
    "The chain rule itself is exact; an autoregressive model's only approximation is in the "
    "**learned conditionals**."
)
st.latex(
    r"p(x_1,\dots,x_n)=\prod_{i=1}^{n} p(x_i \mid x_{<i}) \qquad -\log p(x_1,\dots,x_n)=\sum_{i=1}^{n} -\log p(x_i \mid x_{<i})"
)
unit = st.segmented_control(
    "Units for −log p",
    ["nats", "bits"],
    default="nats",
    required=True,
    key="cr_unit",
    help="nats use the natural log; bits use log base 2 (1 bit = ln 2 ≈ 0.693 nats).",
)

# ---------------------------------------------------------------------------------------------
st.header("1. A worked example", divider="gray")
left, right = st.columns([1, 2], gap="large")
with left:
    st.markdown(
        f"Three symbols A, B, C and the sequence **{'-'.join(WORKED_SEQUENCE)}**. "
        "Set each conditional; the joint is their product and the NLL is the sum of their −log."
    )
    factors = [
        st.number_input(label, 0.0, 1.0, default, 0.05, format="%.3f", key=f"cr_factor_{i}")
        for i, (label, default) in enumerate(zip(WORKED_LABELS, WORKED_FACTORS, strict=True))
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
    st.plotly_chart(worked_waterfall(example, unit), key="cr_waterfall", config=chart_config("cr_waterfall"))

# ---------------------------------------------------------------------------------------------
st.header("2. The order does not change the joint", divider="gray")
if "cr_joint_seed" not in st.session_state:
    st.session_state["cr_joint_seed"] = 0


def new_distribution() -> None:
    st.session_state["cr_joint_seed"] += 1


joint = random_joint(st.session_state["cr_joint_seed"])
left, right = st.columns([1, 1], gap="large")
with left:
    st.markdown(
        f"An exact joint over {joint.ndim} positions × {len(SYMBOLS)} symbols: all {joint.size} sequence "
        "probabilities, drawn at random. Pick any order in which to reveal the positions: its conditionals "
        "are derived from the joint by summing out (marginalising) the positions not yet seen, and their "
        "product gives the joint back — whatever the order."
    )
    o_col, s_col = st.columns(2)
    order = o_col.selectbox(
        "Order of the positions",
        ORDERINGS,
        format_func=lambda o: " → ".join(position_name(p) for p in o),
        key="cr_order",
    )
    sequence = s_col.selectbox(
        "Sequence (x1 x2 x3)", all_sequences(), index=11, format_func=sequence_text, key="cr_sequence"
    )
    st.button("New distribution", on_click=new_distribution, key="cr_new_joint", icon="🎲")
    st.caption(f"Distribution #{st.session_state['cr_joint_seed']} (numpy seed).")
with right:
    st.latex(ordering_formula(order))
    chain = sequence_factors(joint, order, sequence)
    product = math.prod(f.prob for f in chain)
    st.dataframe(
        {"factor": [f.label for f in chain], "value": [f.prob for f in chain]},
        hide_index=True,
        column_config={"value": st.column_config.NumberColumn(format="%.6g")},
        key="cr_factor_table",
    )
c1, c2, c3 = st.columns(3)
c1.metric(f"product of the factors for {sequence_text(sequence)}", f"{product:.6g}")
c2.metric(f"joint p({sequence_text(sequence)}) read from the table", f"{joint[sequence]:.6g}")
c3.metric(
    f"max |product − joint|, all {joint.size}",
    f"{max_abs_difference(joint, order):.1e}",
    help="Computed over every sequence for this order; it is not exactly 0 only because of float rounding.",
)
with st.expander(f"All {joint.size} sequences for this order"):
    products = product_of_conditionals(joint, order)
    seqs = all_sequences()
    st.dataframe(
        {
            "sequence": [sequence_text(s) for s in seqs],
            "joint": [float(joint[s]) for s in seqs],
            "product of conditionals": [float(products[s]) for s in seqs],
            "|difference|": [abs(float(products[s] - joint[s])) for s in seqs],
        },
        hide_index=True,
        column_config={
            "joint": st.column_config.NumberColumn(format="%.6g"),
            "product of conditionals": st.column_config.NumberColumn(format="%.6g"),
            "|difference|": st.column_config.NumberColumn(format="%.1e"),
        },
        key="cr_all_sequences",
    )

ordering_section(unit)

# ---------------------------------------------------------------------------------------------
st.header("3. The ledger for real text", divider="gray")
st.markdown(
    "A trained model supplies every conditional p(xᵢ | x<ᵢ). Its likelihood of a text is the product of "
    "them; the ledger lists each token's cost −log p and the running total. The names models also "
    "pay for the end of the name (shown as “.”)."
)
model_name = st.segmented_control("Model", LEDGER_MODELS, default="names", required=True, key="cr_ledger_model")
st.caption(f"**{model_name}**: {TEXT_MODELS[model_name]}.")
text = text_with_examples(
    "Text to score", "cr_ledger_text", "cr_ledger_examples", LEDGER_EXAMPLES[model_name], default="emma"
)
lm = model_or_error(model_name)
ledger = None
if lm is not None:
    try:
        ledger = cached_ledger(model_name, text)
    except ChainRuleError as e:
        st.error(escape_markdown(str(e)), icon="🚫")
        ledger = None
    if ledger is not None:
        top = st.columns(3)
        top[0].metric(
            "joint p(text)", scientific_from_log10(ledger.joint_log10), help="the product of every p(xᵢ | x<ᵢ)"
        )
        top[1].metric("log10 p(text)", f"{ledger.joint_log10:.4f}")
        top[2].metric("perplexity", f"{ledger.perplexity:.3f}", help="exp(NLL in nats / number of tokens)")
        bottom = st.columns(3)
        bottom[0].metric("NLL (nats)", f"{ledger.nll:.4f}", help="−ln p(text): the ledger's total")
        bottom[1].metric("NLL (bits)", f"{ledger.bits:.4f}", help="−log₂ p(text)")
        bottom[2].metric("bits per token", f"{ledger.bits_per_token:.4f}", help=f"{ledger.n_tokens} tokens scored")
        changed = changed_note(model_name, text, lm.vocab.normalize(text))
        if changed:
            st.caption(escape_markdown(changed))
        note = context_note(ledger)
        if note:
            st.info(note, icon="🪟")
        st.plotly_chart(ledger_bars(ledger, unit), key="cr_ledger_chart", config=chart_config("cr_ledger_chart"))
        st.dataframe(
            {
                "i": [r.position for r in ledger.rows],
                "token": [display_token(r.token) for r in ledger.rows],
                "p(xᵢ | x<ᵢ)": [r.prob for r in ledger.rows],
                f"−log p ({unit})": [to_unit(r.neglog, unit) for r in ledger.rows],
                f"running total ({unit})": [to_unit(r.running, unit) for r in ledger.rows],
                "context read": [r.context_length for r in ledger.rows],
                "5 most likely here": [
                    "  ".join(f"{display_token(t)} {p:.2f}" for t, p in r.alternatives) for r in ledger.rows
                ],
            },
            hide_index=True,
            column_config={
                "p(xᵢ | x<ᵢ)": st.column_config.NumberColumn(format="%.4f"),
                f"−log p ({unit})": st.column_config.NumberColumn(format="%.4f"),
                f"running total ({unit})": st.column_config.NumberColumn(format="%.4f"),
            },
            key="cr_ledger_table",
        )
        st.download_button(
            "Download the ledger (CSV)",
            ledger_csv(ledger),
            file_name=f"ledger-{ledger.model}.csv",
            mime="text/csv",
            icon="⬇️",
            key="cr_ledger_csv",
        )

# ---------------------------------------------------------------------------------------------
models_section(LEDGER_MODELS)
prompts_section()
check_yourself(
    "chain_rule",
    [
        questions.chain_rule_nll(quiz_rng("chain_rule", 1)),
        questions.chain_rule_ordering(quiz_rng("chain_rule", 2)),
        questions.chain_rule_surprise(quiz_rng("chain_rule", 3), ledger),
    ],
)
