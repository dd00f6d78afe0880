"""Section 4 of the Chain rule page (pages/chain_rule.py), likelihoods compared: two models on one text, the
names-vs-Shakespeare classifier, and two prompts on one text under the real LLM. Not a page itself."""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.errors import ChainRuleError
from core.lessons.ledger import (
    CLASSIFIER_EXAMPLES,
    PROMPT_PAIRS,
    PROMPT_TEXT_EXAMPLES,
    candidate,
    cannot_score,
    changed_note,
    classify,
    describe_chars,
    likelihood_verdict,
    scored_event,
)
from core.lessons.states import LEDGER_MODELS, PROMPT_CHARS
from pages.chain_rule_ledger import cached_ledger, fmt, text_with_examples
from pages.common import model_or_error, show_error
from pages.state import bound, get, put, text_box

CLASSIFIER_MODELS = ["names", "shakespeare"]
VERDICT_ICONS = {"better": "✅", "tie": "🟰", "only": "🔤", "neither": "🚫"}


def show_verdict(verdict, extra: str = "") -> None:
    (st.error if verdict.kind == "neither" else st.success)(verdict.sentence + extra, icon=VERDICT_ICONS[verdict.kind])


def two_models(text: str) -> None:
    st.subheader("Two models, one text")
    a_col, b_col = st.columns(2)
    names = (
        a_col.selectbox("Model A", LEDGER_MODELS, **bound("cr_compare_a")),
        b_col.selectbox("Model B", LEDGER_MODELS, index=LEDGER_MODELS.index("shakespeare"), **bound("cr_compare_b")),
    )
    if text == "":
        show_error("The text is empty: type at least one character to compare the models.", icon="🚫")
        return
    candidates = []
    for col, name in zip((a_col, b_col), names, strict=True):
        with col:
            model = model_or_error(name)
        if model is None:
            return
        c = candidate(model, text)
        candidates.append(c)
        col.metric(name, "p = 0" if c.ledger is None else f"{fmt(c.bits)} bits", help=f"−log₂ p(text) under {name}")
        col.caption(f"The probability of: {scored_event(model, c.scored_text)}")
        if c.ledger is not None and (note := changed_note(name, text, c.scored_text)):
            col.caption(escape_markdown(note))
    impossible = [c for c in candidates if c.ledger is None]
    what = "this text" if impossible else f"“{escape_markdown(text)}”"
    verdict = likelihood_verdict(names, tuple(c.bits for c in candidates), what)
    if verdict.kind == "neither":
        missing = sorted(set().union(*(c.missing_chars for c in impossible)))
        extra = f" ({escape_markdown(describe_chars(missing))} not in their vocabularies)."
    else:
        extra = "".join(" " + escape_markdown(cannot_score(c)) for c in impossible)
    kinds = {model_or_error(n).vocab.eos_id is None for n in names}
    if len(kinds) > 1 and verdict.kind == "better":
        extra += (" The two numbers are probabilities of different events (a whole name, the start of a text: see "
                  "under each), so the gap mixes what the models learned with what each was asked.")  # fmt: skip
    show_verdict(verdict, extra)


def which_model(text: str) -> None:
    st.subheader("Which model wrote it?")
    st.markdown(
        "The model that finds the string more likely per character wins: −log₂ p(text) divided by "
        "the number of characters (the names model's total includes its end-of-name factor)."
    )
    models = [model_or_error(name) for name in CLASSIFIER_MODELS]
    if any(m is None for m in models):
        st.info("The classifier needs both models; the rest of the page works without it.")
        return
    if text == "":
        show_error("The text is empty: type at least one character to classify.", icon="🚫")
        return
    result = classify(models, text)
    for col, c in zip(st.columns(len(result.candidates)), result.candidates, strict=True):
        col.metric(f"{c.model} (bits/char)", "p = 0" if c.ledger is None else fmt(c.bits_per_char))
        if c.ledger is not None and (note := changed_note(c.model, text, c.scored_text)):
            col.caption(escape_markdown(note))
    impossible = [c for c in result.candidates if c.ledger is None]
    if result.winner is None:
        missing = sorted(set().union(*(c.missing_chars for c in impossible)))
        show_error(
            "Neither model can produce this text: it has characters outside both vocabularies "
            f"({escape_markdown(describe_chars(missing))}).",
            icon="🚫",
        )
    elif impossible:
        st.info(
            f"**{result.winner}** wins by default. " + " ".join(escape_markdown(cannot_score(c)) for c in impossible),
            icon="🔤",
        )
    else:
        st.success(
            f"**{result.winner}** finds “{escape_markdown(text)}” more likely, by a margin of "
            f"**{fmt(result.margin)} bits per character**."
        )


def models_section() -> None:
    st.header("4. Likelihood scores are meaningful", divider="gray")
    st.markdown(
        "Because the chain rule is exact, a model's NLL of a text is the exact −log of the probability its "
        "learned conditionals give it: fewer bits, more likely. Two models' numbers compare like with like "
        "when they are probabilities of the same event; each score below says which event it is. Compare "
        "two models on one string, or let the names and Shakespeare models compete to claim it (in bits, "
        "whatever the unit above)."
    )
    text = text_with_examples("A string to judge", "cr_compare_text", "cr_compare_examples", CLASSIFIER_EXAMPLES)
    left, right = st.columns(2, gap="large")
    with left:
        two_models(text)
    with right:
        which_model(text)


def use_pair() -> None:
    """A new pair of prompts: both boxes take that pair's prompts."""
    put("cr_prompt_a", PROMPT_PAIRS[get("cr_pair")][0])
    put("cr_prompt_b", PROMPT_PAIRS[get("cr_pair")][1])


def prompts_section() -> None:
    st.subheader("Two prompts, one text: a likelihood classifier with a real LLM")
    st.markdown(
        "The same chain rule, with the context changed instead of the model: SmolLM2 scores the text as a "
        "continuation of each prompt, p(text | prompt). The prompt that makes the text more likely wins — "
        "classifying spam by which context finds it more likely, with nothing trained for the task."
    )
    st.segmented_control("Prompts", list(PROMPT_PAIRS), default="spam or not", required=True, on_change=use_pair,
                         **bound("cr_pair"))  # fmt: skip
    p_col, q_col = st.columns(2)
    with p_col:
        prompt_a = text_box(
            st.text_input, "Prompt A", "cr_prompt_a", PROMPT_CHARS, value=PROMPT_PAIRS["spam or not"][0]
        )
    with q_col:
        prompt_b = text_box(
            st.text_input, "Prompt B", "cr_prompt_b", PROMPT_CHARS, value=PROMPT_PAIRS["spam or not"][1]
        )
    text = text_with_examples("Text to classify", "cr_pair_text", "cr_pair_examples", PROMPT_TEXT_EXAMPLES)
    on = st.toggle("Score with SmolLM2 (135M parameters: loading takes a few seconds the first time)",
                   **bound("cr_pair_on"))  # fmt: skip
    if not on or model_or_error("smollm2") is None:
        return
    try:
        scored = [cached_ledger("smollm2", text, prompt or None) for prompt in (prompt_a, prompt_b)]
    except ChainRuleError as e:
        show_error("", e, icon="🚫")
        return
    for col, letter, ledger in zip((p_col, q_col), "AB", scored, strict=True):
        col.metric(f"−log₂ p(text | prompt {letter})", f"{fmt(ledger.bits, 2)} bits")
    verdict = likelihood_verdict(("A", "B"), (scored[0].bits, scored[1].bits), "the text", who="Prompt ", kind="prompt")
    show_verdict(verdict, f" ({scored[0].n_tokens} tokens scored)")
