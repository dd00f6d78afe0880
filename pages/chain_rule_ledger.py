"""Section 3 of the Chain rule page (pages/chain_rule.py): the likelihood ledger of any text under a trained
model, and what the page's text boxes share (examples one click away, the cached ledger). Not a page itself."""

from __future__ import annotations

import math

import streamlit as st

from core.display import escape_markdown, scientific_from_log10
from core.errors import ChainRuleError
from core.exports import ledger_csv
from core.figures.chain_rule import ledger_bars
from core.lessons.chain_rule import to_unit
from core.lessons.ledger import LEDGER_EXAMPLES, LLM_MAX_TOKENS, Ledger, build_ledger, changed_note, context_note
from core.lessons.ledger import display_token as shown_token
from core.lessons.states import LEDGER_MODELS, TEXT_MAX_CHARS, ChainRuleState
from core.text.language_model import LLM_MODELS, TEXT_MODELS
from pages.chain_rule_uses import ANCHOR as USES_ANCHOR
from pages.charts import chart_with_table
from pages.common import model_or_error, shared_model, show_error
from pages.state import bound, get, put, text_box
from pages.training_ledger import training_link

DEFAULTS = ChainRuleState()


@st.cache_data(max_entries=64, show_spinner="Scoring the text…")
def cached_ledger(name: str, text: str, prompt: str | None = None) -> Ledger:
    """The ledger of ``text`` under the shared model ``name``: deterministic, so computed once per server."""
    return build_ledger(shared_model(name), text, prompt, LLM_MAX_TOKENS if name in LLM_MODELS else None)


def fmt(value: float, digits: int = 3) -> str:
    """A number of nats or bits for display; ∞ for an impossible event."""
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def use_example(pill_key: str, text_key: str) -> None:
    """Pill callback: copy the clicked example into the text box, then clear the pill (acts as a button)."""
    choice = get(pill_key)
    if choice is not None:
        put(text_key, choice)
    put(pill_key, None)


def text_with_examples(label: str, text_key: str, pill_key: str, examples: list[str], limit: int = TEXT_MAX_CHARS):
    """A text box bound to the link, with example texts one click away."""
    text = text_box(st.text_input, label, text_key, limit, value=getattr(DEFAULTS, text_key))
    st.pills(
        "Examples (click to use)",
        examples,
        key=pill_key,
        on_change=use_example,
        args=(pill_key, text_key),
        format_func=lambda s: s if len(s) <= 30 else s[:27] + "…",
    )
    return text


def ledger_table(ledger: Ledger, unit: str) -> None:
    number = st.column_config.NumberColumn(format="%.4f")
    st.dataframe(
        {
            "i": [r.position for r in ledger.rows],
            "token": [shown_token(r.token) for r in ledger.rows],
            "p(xᵢ | x<ᵢ)": [r.prob for r in ledger.rows],
            f"−log p ({unit})": [to_unit(r.neglog, unit) for r in ledger.rows],
            f"running total ({unit})": [to_unit(r.running, unit) for r in ledger.rows],
            "context read": [r.context_length for r in ledger.rows],
            "5 most likely here": [
                "  ".join(f"{shown_token(t)} {p:.2f}" for t, p in r.alternatives) for r in ledger.rows
            ],
        },
        hide_index=True,
        column_config={"p(xᵢ | x<ᵢ)": number, f"−log p ({unit})": number, f"running total ({unit})": number},
        key="cr_ledger_table",
    )


def ledger_section(unit: str) -> Ledger | None:
    """Section 3; returns the ledger on screen (the quiz asks about it), or None."""
    st.header("3. The ledger for real text", divider="gray")
    st.markdown(
        "A trained model supplies every conditional p(xᵢ | x<ᵢ). Its likelihood of a text is the product of "
        "them; the ledger lists each token's cost −log p and the running total. The names models also "
        "pay for the end of the name (shown as “.”)."
    )
    st.caption(f"What is this exact number for? [Section 5](#{USES_ANCHOR}) ranks candidate continuations with it.")
    model_name = st.segmented_control(
        "Model", LEDGER_MODELS, default="names", required=True, **bound("cr_ledger_model")
    )
    st.caption(f"**{model_name}**: {TEXT_MODELS[model_name]}.")
    text = text_with_examples("Text to score", "cr_ledger_text", "cr_ledger_examples", LEDGER_EXAMPLES[model_name])
    lm = model_or_error(model_name)
    if lm is None:
        return None
    try:
        ledger = cached_ledger(model_name, text)
    except ChainRuleError as e:
        show_error("", e, icon="🚫")
        return None
    top = st.columns(3)
    top[0].metric("joint p(text)", scientific_from_log10(ledger.joint_log10), help="the product of every p(xᵢ | x<ᵢ)")
    top[1].metric("log10 p(text)", f"{ledger.joint_log10:.4f}")
    top[2].metric("perplexity", f"{ledger.perplexity:.3f}", help="exp(NLL in nats / number of tokens)")
    bottom = st.columns(3)
    bottom[0].metric("NLL (nats)", f"{ledger.nll:.4f}", help="−ln p(text): the ledger's total")
    bottom[1].metric("NLL (bits)", f"{ledger.bits:.4f}", help="−log₂ p(text)")
    bottom[2].metric("bits per token", f"{ledger.bits_per_token:.4f}", help=f"{ledger.n_tokens} tokens scored")
    st.caption("The ledger's average cost per token is what training makes small: the next-token cross-entropy, "
               "averaged over positions, is the Training page's loss.")  # fmt: skip
    training_link()
    if changed := changed_note(model_name, text, lm.vocab.normalize(text)):
        st.caption(escape_markdown(changed))
    if note := context_note(ledger):
        st.info(note, icon="🪟")
    chart_with_table(ledger_bars(ledger, unit), "cr_ledger_chart", table=False)  # its table follows
    ledger_table(ledger, unit)
    st.download_button(
        "Download the ledger (CSV)",
        ledger_csv(ledger),
        file_name=f"ledger-{ledger.model}.csv",
        mime="text/csv",
        icon="⬇️",
        key="cr_ledger_csv",
    )
    return ledger
