"""Section 2's second half on the Chain rule page: sampling the exact joint one factor at a time, and what
temperature or top-k on each conditional does to the joint drawn from. ``core.lessons.joint_sampling``
draws and counts; ``core.figures.chain_rule`` draws the figures. Not a page itself: a module."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.figures.chain_rule import convergence_figure, joint_draws_figure
from core.lessons.chain_rule import sequence_text
from core.lessons.joint_sampling import MAX_DRAWS, TOP_KS, ancestral_sample, convergence, frequencies, implied_joint
from core.lessons.joint_sampling import total_variation as tv
from core.lessons.states import SEQUENCES, ChainRuleState
from core.text.language_model import DEFAULT_SETTINGS
from core.text.sampling import SamplingSettings
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.state import bound

DEFAULTS = ChainRuleState()


def draws_section(joint: np.ndarray) -> None:
    st.subheader("Sampling it one factor at a time")
    st.markdown(
        "This is how an autoregressive model generates: draw x1 from p(x1), then x2 from p(x2 | x1), then x3 "
        "from p(x3 | x1, x2). By the chain rule each sequence comes out with probability "
        "p(x1) p(x2 | x1) p(x3 | x1, x2) = p(x1, x2, x3): the draws are samples of the **whole joint**, "
        "though no step ever looked at it."
    )
    c1, c2, c3, c4 = st.columns(4)
    n = c1.number_input(
        "Draws N", 1, MAX_DRAWS, DEFAULTS.cr_draws, 1000, help=f"From 1 to {MAX_DRAWS:,} sequences.",
        **bound("cr_draws"),
    )  # fmt: skip
    seed = c2.number_input("Seed of the draws", 0, MAX_SEED, 0, 1, **bound("cr_draw_seed"))
    temperature = c3.number_input(
        "Temperature on each conditional", 0.1, 5.0, 1.0, 0.1, format="%.2f",
        help="p^(1/T), renormalised, at every step. 1 leaves the conditionals as they are.",
        **bound("cr_draw_temperature"),
    )  # fmt: skip
    top_k = c4.selectbox(
        "Top-k on each conditional", TOP_KS, index=TOP_KS.index(DEFAULTS.cr_draw_top_k),
        format_func=lambda k: f"{k} (all)" if k == len(joint) else str(k),
        help="Keep the k most likely symbols at every step, renormalised.", **bound("cr_draw_top_k"),
    )  # fmt: skip
    settings = SamplingSettings(float(temperature), int(top_k) if top_k < len(joint) else None)  # as Live sampling's
    draws = ancestral_sample(joint, int(n), int(seed), settings)
    drawn = frequencies(draws, joint.shape[0])
    changed = settings != DEFAULT_SETTINGS
    target = implied_joint(joint, settings) if changed else joint
    labels = [sequence_text(s) for s in SEQUENCES]
    chart_with_table(
        joint_draws_figure(labels, [joint[s] for s in SEQUENCES], [drawn[s] for s in SEQUENCES],
                           [target[s] for s in SEQUENCES] if changed else None),
        "cr_draws_chart",
    )  # fmt: skip
    st.caption(
        f"All 27 sequences: their probability under the joint above (blue) and the fraction of {int(n):,} draws "
        "that produced each (orange)"
        + (", and the joint the changed conditionals define (green diamonds)." if changed else ".")
    )
    m1, m2, m3 = st.columns(3)
    m1.metric("draws vs the joint (TV)", f"{tv(drawn, joint):.4f}",
              help="Total variation: ½ Σ |fraction drawn − p| over the 27 sequences.")  # fmt: skip
    if changed:
        m2.metric("draws vs the joint they follow", f"{tv(drawn, target):.4f}")
        m3.metric("that joint vs the original", f"{tv(target, joint):.4f}")
        st.markdown(
            f"With temperature {temperature:g} and top-{top_k} at every step the draws no longer follow "
            "p(x1, x2, x3): they follow the product of the **changed** conditionals (green), another joint, "
            f"{tv(target, joint):.3f} away in total variation: q(x1, x2, x3) = r(p(x1)) · r(p(x2 | x1)) · "
            "r(p(x3 | x1, x2)), where r is the rule applied at each step. A model sampled with a temperature "
            "or top-k is drawing from a joint it never learned."
        )
    left, right = st.columns([3, 2], gap="large")
    c = convergence(draws, target)
    with left:
        chart_with_table(convergence_figure(c.ns, c.tv, c.expected), "cr_draws_convergence")
    with right:
        st.markdown(
            f"**More draws, closer.** The distance between the first n draws and the joint they come from, for "
            f"n up to {int(n):,}: it falls like 1/√n, as the dashed line computed from the joint's "
            "probabilities predicts (each frequency is off by about √(p(1−p)/n)). A hundred times the draws, "
            "ten times closer: sampling is exact in the limit, noisy for any finite n."
        )
