"""What to remember: the lesson's close. Three takeaways in our words, each with a number computed now
and links that open the pages in the state that shows it (``core.lessons.takeaways``)."""

from __future__ import annotations

import streamlit as st

from core.display import escape_markdown
from core.lessons.takeaways import TAKEAWAYS, identity_evidence, ledger_evidence
from pages.common import model_or_error
from pages.navigation import page_link, require_app

require_app()  # a page script Streamlit ran without app.py reruns through it

st.title("What to remember")
st.markdown(
    "Three ideas carry the whole lesson. Each comes with a number computed from the models just now, "
    "and with links that open a page set up to show it live."
)


def identity_line() -> str:
    e = identity_evidence()
    return (
        f"**Computed now:** the Chain rule page's exact joint over 27 sequences, rebuilt from its conditionals in "
        f"all {e.orders} orders, differs from itself by at most {e.largest_difference:.1e}; "
        f"{e.draws:,} sequences drawn one factor at a time are within total variation "
        f"{e.total_variation:.4f} of it."
    )


def ledger_line() -> str | None:
    lm = model_or_error("names")
    if lm is None:
        return None
    e = ledger_evidence(lm)
    terms = " + ".join(f"{t:.2f}" for t in e.terms)
    return (
        f"**Computed now:** the names model's ledger of “{escape_markdown(e.text)}” (its end mark included) is "
        f"{terms} = {e.total:.2f} nats, so p = {e.probability:.2e}; averaged over its {len(e.terms)} "
        f"positions that is {e.per_token:.2f} nats per character. The same average, taken over many training "
        f"texts, is the loss the model was trained to make small."
    )


EVIDENCE = (identity_line, ledger_line, None)
for number, (takeaway, evidence) in enumerate(zip(TAKEAWAYS, EVIDENCE, strict=True), start=1):
    with st.container(border=True, key=f"takeaway_{number}"):
        st.subheader(f"{number}. {takeaway.title}")
        st.markdown(takeaway.words)
        line = evidence() if evidence else None
        if line:
            st.info(line, icon="🧮")
        for scene in takeaway.scenes:
            page_link(
                f"pages/{scene.page}.py", f"Open {scene.title}", icon="▶️", help=scene.shows,
                query_params=scene.query(),
            )  # fmt: skip

page_link("pages/home.py", "Back to the start", icon="🏠")
