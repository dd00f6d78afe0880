"""Home: what the app teaches, the chain-rule identity, and a link to every lesson."""

from pathlib import Path

import streamlit as st

from pages.navigation import existing_pages, require_app

require_app()  # a page script Streamlit ran without app.py reruns through it

st.title("Chain Rule Lab")
st.markdown(
    "Any joint distribution over a sequence can be written **exactly** as a product of "
    "conditionals, one per position, each conditioned only on what came before. An "
    "**autoregressive model** learns every one of those conditionals with a single network "
    "that must never peek at the future. Here you can take that idea apart: factor a joint by "
    "hand, read the likelihood a model assigns to any text, look inside a causal transformer, "
    "and sample from tiny models trained on this machine — token by token or pixel by pixel."
)
st.latex(
    r"p(x_1, \dots, x_n) \;=\; p(x_1)\, p(x_2 \mid x_1) \cdots p(x_n \mid x_1, \dots, x_{n-1}) \;=\; \prod_{i=1}^{n} p(x_i \mid x_{<i})"
)
HEADINGS = {"Start here": "Start here", "Text": "Lessons", "Close": "To close"}  # a menu section's heading here
shown = None
for info in existing_pages(Path(__file__).resolve().parent.parent):
    heading = HEADINGS.get(info.section, shown if info.section == "Images" else info.section)
    if heading != shown:
        st.subheader(heading)
        shown = heading
    with st.container(border=True, key=f"home_{info.url_path}"):  # a card: the whole entry reads as clickable
        st.page_link(info.path, label=f"**{info.title}** — {info.description}", icon=info.icon, width="stretch")
st.caption(
    "Every number in this app is computed live from the models or the maths. "
    "The small models (transformers, an MLP, a GRU, a WaveNet, a bigram table and PixelCNNs) were trained "
    "on a CPU; their cards (config, data, training command, measured loss) ship beside their weights. "
    "The real LLM, SmolLM2-135M, comes inside a pinned Python package."
)
