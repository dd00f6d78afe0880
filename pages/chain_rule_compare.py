"""Parts of the Chain rule page (pages/chain_rule.py): the cached ledger, the text boxes with examples, and
section 4, likelihoods compared - two models on one text, the names-vs-Shakespeare classifier, and two
prompts on one text under the real LLM. Not a page itself: a module, compiled once."""

from __future__ import annotations

import math

import streamlit as st

from core.display import escape_markdown, scientific_from_log10
from core.errors import ChainRuleError
from core.lessons.ledger import (
    CLASSIFIER_EXAMPLES,
    LLM_MAX_TOKENS,
    PROMPT_PAIRS,
    PROMPT_TEXT_EXAMPLES,
    Ledger,
    bits_difference,
    build_ledger,
    candidate,
    cannot_score,
    changed_note,
    classify,
    describe_chars,
)
from core.text.language_model import LLM_MODELS
from pages.common import model_or_error, shared_model

CLASSIFIER_MODELS = ["names", "shakespeare"]
MAX_TEXT_CHARS = 1000  # bounds the work of one rerun (a 1000-char text is ~16 windows of 128)


@st.cache_data(max_entries=64, show_spinner="Scoring the text…")
def cached_ledger(name: str, text: str, prompt: str | None = None) -> Ledger:
    """The ledger of ``text`` under the shared model ``name``: deterministic, so computed once per server."""
    return build_ledger(shared_model(name), text, prompt, LLM_MAX_TOKENS if name in LLM_MODELS else None)


def fmt(value: float, digits: int = 3) -> str:
    """A number of nats or bits for display; ∞ for an impossible event."""
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def use_example(pill_key: str, text_key: str) -> None:
    """Pill callback: copy the clicked example into the text box, then clear the pill (acts as a button)."""
    choice = st.session_state[pill_key]
    if choice is not None:
        st.session_state[text_key] = choice
    st.session_state[pill_key] = None


def text_with_examples(label: str, text_key: str, pill_key: str, examples: list[str], default: str) -> str:
    if text_key not in st.session_state:
        st.session_state[text_key] = default
    text = st.text_input(label, key=text_key, max_chars=MAX_TEXT_CHARS)
    st.pills(
        "Examples (click to use)",
        examples,
        key=pill_key,
        on_change=use_example,
        args=(pill_key, text_key),
        format_func=lambda s: s if len(s) <= 30 else s[:27] + "…",
    )
    return text


def models_section(ledger_models: list[str]) -> None:
    st.header("4. Likelihood scores are meaningful", divider="gray")
    st.markdown(
        "Because the chain rule is exact, a model's NLL of a text is a fair score of how well its learned "
        "conditionals explain it: fewer bits means more likely. Compare two models on one string, or let "
        "the names and Shakespeare models compete to claim it (in bits, whatever the unit above)."
    )
    compare_text = text_with_examples(
        "A string to judge", "cr_compare_text", "cr_compare_examples", CLASSIFIER_EXAMPLES, default="olivia"
    )
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Two models, one text")
        a_col, b_col = st.columns(2)
        model_a = a_col.selectbox("Model A", ledger_models, index=0, key="cr_compare_a")
        model_b = b_col.selectbox(
            "Model B", ledger_models, index=ledger_models.index("shakespeare"), key="cr_compare_b"
        )
        if compare_text == "":
            st.error("The text is empty: type at least one character to compare the models.", icon="🚫")
        else:
            verdicts = []
            for col, name in ((a_col, model_a), (b_col, model_b)):
                with col:
                    model = model_or_error(name)
                if model is not None:
                    verdicts.append(candidate(model, compare_text))
                    v = verdicts[-1]
                    value = "p = 0" if v.ledger is None else f"{fmt(v.bits)} bits"
                    col.metric(name, value, help=f"−log₂ p(text) under {name}")
                    note = changed_note(name, compare_text, v.scored_text) if v.ledger is not None else None
                    if note:
                        col.caption(escape_markdown(note))
            if len(verdicts) == 2:
                compare_verdict(verdicts, compare_text)
    with right:
        st.subheader("Which model wrote it?")
        st.markdown(
            "The model that finds the string more likely per character wins: −log₂ p(text) divided by "
            "the number of characters (the names model's total includes its end-of-name factor)."
        )
        models = [model_or_error(name) for name in CLASSIFIER_MODELS]
        if any(m is None for m in models):
            st.info("The classifier needs both models; the rest of the page works without it.")
        elif compare_text == "":
            st.error("The text is empty: type at least one character to classify.", icon="🚫")
        else:
            result = classify(models, compare_text)
            cols = st.columns(len(result.candidates))
            for col, c in zip(cols, result.candidates, strict=True):
                value = "p = 0" if c.ledger is None else fmt(c.bits_per_char)
                col.metric(f"{c.model} (bits/char)", value, help=f"−log₂ p(text) / characters, {c.model}")
                note = changed_note(c.model, compare_text, c.scored_text) if c.ledger is not None else None
                if note:
                    col.caption(escape_markdown(note))
            impossible = [c for c in result.candidates if c.ledger is None]
            if result.winner is None:
                st.error(
                    "Neither model can produce this text: it has characters outside both vocabularies "
                    f"({escape_markdown(describe_chars(sorted(set().union(*(c.missing_chars for c in impossible)))))}).",
                    icon="🚫",
                )
            elif impossible:
                st.info(
                    f"**{result.winner}** wins by default. "
                    + " ".join(escape_markdown(cannot_score(c)) for c in impossible),
                    icon="🔤",
                )
            else:
                st.success(
                    f"**{result.winner}** finds “{escape_markdown(compare_text)}” more likely, by a margin of "
                    f"**{fmt(result.margin)} bits per character**."
                )


def compare_verdict(verdicts: list, text: str) -> None:
    """One sentence on two models' verdicts: which explains the text better, or which cannot produce it."""
    impossible = [v for v in verdicts if v.ledger is None]
    if len(impossible) == 2:
        missing = sorted(set(impossible[0].missing_chars) | set(impossible[1].missing_chars))
        st.error(
            "Neither model can produce this text: both give it probability 0 "
            f"({escape_markdown(describe_chars(missing))} not in their vocabularies).",
            icon="🚫",
        )
        return
    if impossible:
        (able,) = [v for v in verdicts if v.ledger is not None]
        st.info(
            f"Only **{able.model}** can produce this text. " + escape_markdown(cannot_score(impossible[0])),
            icon="🔤",
        )
        return
    diff = bits_difference(*verdicts)
    if diff == 0:
        st.info("Both models give this text the same probability.")
        return
    better, worse = (verdicts[0], verdicts[1]) if diff > 0 else (verdicts[1], verdicts[0])
    gap = abs(diff)
    # 2**gap overflows a float past ~1024 bits: go through log10 instead
    times = f"2^{gap:.2f} ≈ {scientific_from_log10(gap * math.log10(2))} times"
    st.success(
        f"**{better.model}** explains “{escape_markdown(text)}” better, by **{fmt(gap, 2)} bits**: "
        f"it finds it {times} more likely than **{worse.model}** does."
    )


def prompts_section() -> None:
    st.subheader("Two prompts, one text: a likelihood classifier with a real LLM")
    st.markdown(
        "The same chain rule, with the context changed instead of the model: SmolLM2 scores the text as a "
        "continuation of each prompt, p(text | prompt). The prompt that makes the text more likely wins — "
        "classifying spam by which context finds it more likely, with nothing trained for the task."
    )
    pair_name = st.segmented_control("Prompts", list(PROMPT_PAIRS), default="spam or not", required=True, key="cr_pair")
    p_col, q_col = st.columns(2)
    prompt_a = p_col.text_input("Prompt A", PROMPT_PAIRS[pair_name][0], key=f"cr_prompt_a_{pair_name}", max_chars=200)
    prompt_b = q_col.text_input("Prompt B", PROMPT_PAIRS[pair_name][1], key=f"cr_prompt_b_{pair_name}", max_chars=200)
    pair_text = text_with_examples(
        "Text to classify", "cr_pair_text", "cr_pair_examples", PROMPT_TEXT_EXAMPLES, default=PROMPT_TEXT_EXAMPLES[0]
    )
    on = st.toggle("Score with SmolLM2 (135M parameters: loading takes a few seconds the first time)", key="cr_pair_on")
    if on and model_or_error("smollm2") is not None:
        try:
            scored = [cached_ledger("smollm2", pair_text, prompt or None) for prompt in (prompt_a, prompt_b)]
        except ChainRuleError as e:
            st.error(escape_markdown(str(e)), icon="🚫")
        else:
            for col, letter, ledger in zip((p_col, q_col), "AB", scored, strict=True):
                col.metric(f"−log₂ p(text | prompt {letter})", f"{fmt(ledger.bits, 2)} bits")
            gap = scored[1].bits - scored[0].bits
            winner = "A" if gap > 0 else "B"
            st.success(
                f"Prompt **{winner}** explains the text better, by **{fmt(abs(gap), 2)} bits** over its "
                f"{scored[0].n_tokens} tokens: it makes the text 2^{abs(gap):.1f} ≈ "
                f"{scientific_from_log10(abs(gap) * math.log10(2))} times more likely."
            )
