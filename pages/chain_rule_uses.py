"""Section 5 of the Chain rule page (pages/chain_rule.py), what a likelihood is for: rank candidate
continuations of one prompt by log p(candidate | prompt), and which generative paradigms give log p(x) at all.
``core.lessons.ranking`` computes, ``core.figures.ranking`` draws. Not a page itself."""

from __future__ import annotations

import math

import streamlit as st

from core.display import escape_markdown, scientific_from_log10
from core.errors import ChainRuleError
from core.figures.ranking import ranking_bars
from core.lessons.chain_rule import to_unit
from core.lessons.ledger import changed_note, display_token
from core.lessons.ranking import (
    CANDIDATES_TEXT_CHARS,
    RANK_PROMPT_CHARS,
    RANKING_MODELS,
    RANKING_PRESETS,
    Ranking,
    boundary_note,
    impossible_note,
    parse_candidates,
    preset_text,
    rank_candidates,
)
from core.lessons.states import ChainRuleState
from core.text.language_model import LLM_MODELS, TEXT_MODELS
from pages.charts import chart_with_table
from pages.common import model_or_error, shared_model, show_error
from pages.state import bound, get, put, text_box

DEFAULTS = ChainRuleState()
ANCHOR = "what-a-likelihood-is-for"  # the ledger section links here

PARADIGMS = """
| paradigm | what it gives for log p(x) | how |
|---|---|---|
| **Autoregressive** (this page) | **exact** | the chain rule: one pass reads every log p(xᵢ \\| x<ᵢ), and their sum is log p(x) |
| **VAE** | a **lower bound** (the ELBO) | the exact value needs an integral over the latent code with no closed form; importance sampling tightens the bound with more samples per example |
| **GAN** | **none** | the generator turns noise into samples; it defines no density that could be evaluated at a given x |
| **Diffusion** | computable **with extra work** | a variational bound, as for VAEs, or the probability-flow ODE's exact log p, which costs an ODE solve per example |
"""


@st.cache_data(max_entries=64, show_spinner="Scoring the candidates…")
def cached_ranking(name: str, prompt: str, candidates: tuple[str, ...]) -> Ranking:
    """The ranking under the shared model ``name``: deterministic, so computed once per server."""
    return rank_candidates(shared_model(name), prompt, list(candidates))


def load_preset(model: str, preset: str) -> None:
    prompt, candidates = RANKING_PRESETS[model][preset]
    put("cr_rank_prompt", prompt)
    put("cr_rank_candidates", preset_text(candidates))


def use_model() -> None:
    """A new model: its first preset (another model's prompt may not fit its vocabulary)."""
    model = get("cr_rank_model")
    load_preset(model, next(iter(RANKING_PRESETS[model])))


def use_preset(model: str) -> None:
    """Pill callback: load the clicked preset, then clear the pill (it acts as a button)."""
    if (choice := get("cr_rank_presets")) is not None:
        load_preset(model, choice)
    put("cr_rank_presets", None)


def ranked_table(ranking: Ranking, unit: str) -> None:
    number = st.column_config.NumberColumn(format="%.3f")
    rows = ranking.ranked
    st.dataframe(
        {
            "rank": list(range(1, len(rows) + 1)),
            "candidate": [display_token(c.text) for c in rows],
            f"−log p(c | prompt) ({unit})": [to_unit(-c.logp, unit) for c in rows],
            f"per token ({unit})": [to_unit(-c.logp_per_token, unit) for c in rows],
            "tokens": [c.n_tokens for c in rows],
            "p(c | prompt)": [scientific_from_log10(c.logp / math.log(10)) for c in rows],
            f"each token's −log p ({unit})": [
                "  ".join(f"{display_token(t)} {to_unit(cost, unit):.2f}" for t, cost in c.costs) for c in rows
            ],
        },
        hide_index=True,
        column_config={
            f"−log p(c | prompt) ({unit})": number,
            f"per token ({unit})": number,
        },
        key="cr_rank_table",
    )


def ranking_part(unit: str) -> None:
    model_name = st.segmented_control(
        "Model that ranks",
        RANKING_MODELS,
        default="smollm2",
        required=True,
        on_change=use_model,
        **bound("cr_rank_model"),
    )
    st.caption(f"**{model_name}**: {TEXT_MODELS[model_name]}.")
    st.pills("Presets (click to use)", list(RANKING_PRESETS[model_name]), key="cr_rank_presets",
             on_change=use_preset, args=(model_name,))  # fmt: skip
    prompt = text_box(st.text_input, "Prompt", "cr_rank_prompt", RANK_PROMPT_CHARS, value=DEFAULTS.cr_rank_prompt)
    typed = text_box(
        st.text_area,
        "Candidates, one per line (a leading space counts: “ Paris” is a word after a space)",
        "cr_rank_candidates",
        CANDIDATES_TEXT_CHARS,
        value=DEFAULTS.cr_rank_candidates,
        height=140,
    )
    if model_name in LLM_MODELS and not st.toggle(
        "Score with SmolLM2 (135M parameters: loading takes a few seconds the first time)", **bound("cr_rank_on")
    ):
        return
    candidates = parse_candidates(typed)
    if not candidates:
        show_error("There are no candidates: type at least one continuation, one per line.", icon="🚫")
        return
    lm = model_or_error(model_name)
    if lm is None:
        return
    try:
        ranking = cached_ranking(model_name, prompt, tuple(candidates))
    except ChainRuleError as e:
        show_error("", e, icon="🚫")
        st.caption(f"Every preset above fits {model_name}: click one to start from a prompt that works.")
        return
    if changed := changed_note(model_name, prompt, lm.vocab.normalize(prompt)):
        st.caption(escape_markdown(changed))
    if not ranking.ranked:
        show_error(" ".join(escape_markdown(impossible_note(ranking.model, c)) for c in ranking.impossible), icon="🚫")
        return
    if lm.vocab.eos_id is not None:
        st.caption("Each candidate is a whole ending: it also pays for the end of the name (shown as “.”).")
    ranked_table(ranking, unit)
    top, fair = ranking.ranked[0], ranking.by_average[0]
    verdict = (
        "The per-token average puts the same candidate first."
        if fair is top
        else f"Ranked by the per-token average instead, “{escape_markdown(fair.text)}” would come first."
    )
    st.markdown(
        "Ranked by the **total**, as the maths says: log p(candidate | prompt) is the sum of the candidate's "
        "token terms, so every extra token adds one more cost. The per-token average is the usual length-fair "
        f"alternative (it is not log p of the candidate). {verdict}"
    )
    for c in ranking.impossible:
        st.info(escape_markdown(impossible_note(ranking.model, c)), icon="🔤")
    if note := boundary_note(lm, prompt, candidates):
        st.caption(escape_markdown(note))
    chart_with_table(ranking_bars(ranking, unit), "cr_rank_chart")


def uses_section(unit: str) -> None:
    """Section 5: rank continuations by their likelihood; which paradigms give one."""
    st.header("5. What a likelihood is for", divider="gray", anchor=ANCHOR)
    st.markdown(
        "Because the chain rule is exact, an autoregressive model gives a likelihood you can **use**: score "
        "several candidate continuations of one prompt and rank them, like answers or translations, or compare "
        "models on held-out text (section 4). Each candidate c is scored after the prompt's tokens:"
    )
    st.latex(r"\log p(c \mid \text{prompt}) = \sum_{j} \log p(c_j \mid \text{prompt}, c_{<j})")
    ranking_part(unit)
    st.subheader("Which generative models give log p(x)?")
    st.markdown(
        "None of the other three paradigms in this track gives a likelihood number you can use this way:" + PARADIGMS
    )
