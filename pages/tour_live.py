"""The tour's live elements: one small widget of ``core`` per step that has one (``core.lessons.tour``).
Each is computed when its step is shown; every control keeps its value for the session. Not a page.
Each takes ``presenter`` (presenter view): its chart then goes through ``for_projector``."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from core.errors import ChainRuleError
from core.figures.attention import mask_figure
from core.figures.chain_rule import ledger_bars, worked_waterfall
from core.figures.presenter import for_projector
from core.figures.sampling import distribution_figure, distribution_view
from core.lessons.chain_rule import WORKED_FACTORS, WORKED_LABELS, random_joint, worked_example
from core.lessons.joint_sampling import ancestral_sample, expected_tv, frequencies, total_variation
from core.lessons.ledger import build_ledger
from core.models.kv_cache import causal_mask
from core.text.language_model import context_ids, logits_for_context
from core.text.sampling import SamplingSettings
from pages.charts import chart_with_table
from pages.common import model_or_error, show_error

TOUR_TEXT = "emma"
PROJECTOR_HEIGHT = 400  # px: in presenter view the step's words, its controls and the chart fit 720 px


def chart(fig, key: str, presenter: bool) -> None:
    chart_with_table(for_projector(fig, PROJECTOR_HEIGHT) if presenter else fig, key)


def worked(presenter: bool = False) -> None:
    cols = st.columns(3)
    factors = [
        col.slider(label, 0.01, 1.0, default, 0.01, key=f"tour_factor_{i}")
        for i, (col, label, default) in enumerate(zip(cols, WORKED_LABELS, WORKED_FACTORS, strict=True))
    ]
    example = worked_example(factors)
    st.markdown(
        f"p(B, A, C) = {' × '.join(f'{p:.2f}' for p in example.factors)} = **{example.joint:.4f}**; "
        f"−ln p = {' + '.join(f'{v:.3f}' for v in example.neglogs)} = **{example.nll_sum:.3f}** nats."
    )
    chart(worked_waterfall(example), "tour_worked", presenter)


def draws(presenter: bool = False) -> None:
    n = st.select_slider("Sequences drawn", (10, 100, 1_000, 10_000, 100_000), 1_000, key="tour_draws")
    joint = random_joint(0)
    drawn = frequencies(ancestral_sample(joint, int(n), 0), joint.shape[0])
    st.markdown(
        f"{int(n):,} sequences, each drawn x1 → x2 | x1 → x3 | x1, x2: their frequencies are within total variation "
        f"**{total_variation(drawn, joint):.4f}** of the joint (exact draws: about {expected_tv(joint, int(n)):.4f} "
        "expected, shrinking like 1/√N)."
    )


def ledger(presenter: bool = False) -> None:
    lm = model_or_error("names")
    text = st.text_input("A name to score (letters a–z)", TOUR_TEXT, max_chars=40, key="tour_ledger_text")
    if lm is None:
        return
    try:
        result = build_ledger(lm, text)
    except ChainRuleError as e:  # core's errors say in words what is allowed
        show_error("", e, icon="🚫")
        return
    chart(ledger_bars(result), "tour_ledger", presenter)


def one_pass(presenter: bool = False) -> None:
    lm = model_or_error("names")
    if lm is None:
        return
    ids = context_ids(lm, TOUR_TEXT)
    with torch.no_grad():
        logits = lm.net(torch.tensor([ids]))[0][0]  # (T, V): one pass, every position's next-token logits
    probs = torch.softmax(logits.double(), -1)
    rows = []
    for i in range(len(ids)):
        top = int(probs[i].argmax())
        read = "".join(lm.vocab.token_text(t) for t in ids[1 : i + 1]) or "(start)"
        rows.append({"has read": read, "most likely next": lm.vocab.token_text(top), "p": float(probs[i, top])})
    st.dataframe(
        rows, hide_index=True, key="tour_one_pass", column_config={"p": st.column_config.NumberColumn(format="%.3f")}
    )
    st.caption(f"One forward pass over “{TOUR_TEXT}” gave all {len(ids)} conditionals above at once.")


def mask(presenter: bool = False) -> None:
    labels = ["<s>", *TOUR_TEXT]
    allowed = causal_mask(len(labels)).numpy()
    fig = mask_figure(allowed, labels, "Causal mask: row i may read j ≤ i", height=330)
    chart(fig, "tour_mask", presenter)
    zeros = int((~allowed).sum())
    st.caption(f"{len(labels)} positions: {zeros} of {allowed.size} weights are forced to exactly 0 (the grey cells).")


def temperature(presenter: bool = False) -> None:
    lm = model_or_error("names")
    if lm is None:
        return
    t = st.slider("Temperature", 0.1, 3.0, 1.0, 0.1, key="tour_temperature")
    stages = SamplingSettings(float(t)).stages(logits_for_context(lm, context_ids(lm, "em")))
    view = distribution_view(stages, lm.vocab, top_n=8)
    fig = distribution_figure(view, lm.vocab, title="The names model's next letter after “em”", height=320)
    chart(fig, "tour_temperature_fig", presenter)
    kept = float(np.round(stages.final.max().item(), 3))
    st.caption(f"At T = {t:g} the most likely letter has probability {kept:.3f} (at T = 1: {stages.raw.max():.3f}).")


LIVE = {"worked": worked, "draws": draws, "ledger": ledger, "one_pass": one_pass, "mask": mask,
        "temperature": temperature}  # fmt: skip
