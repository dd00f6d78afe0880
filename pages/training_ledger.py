"""A section of the Training page (pages/training.py): the loss is the ledger. One batch's −log p of every
next token as a heatmap, its mean beside the loss the trainer computes on the same batch. Not a page itself."""

from __future__ import annotations

import streamlit as st

from core.errors import ChainRuleError, InputError
from core.figures.training import loss_ledger_figure
from core.lessons.loss_ledger import SPLITS, LossLedger, draw_batch, loss_ledger, window_length
from core.text.language_model import TRAINED_MODELS
from core.text.live_training import LiveData, prepare
from core.validation import MAX_SEED
from pages.charts import chart_with_table
from pages.common import model_or_error, show_error
from pages.navigation import page_link
from pages.state import bound, get

N_EXAMPLES = 8  # rows of the batch shown


@st.cache_resource(max_entries=4, show_spinner="Preparing the data…")
def corpus(text: str, length: int) -> LiveData:
    """The data a run on ``text`` trains on (shared, read-only): prepared once per server."""
    return prepare(text, length)


def trained_model(source: str):
    """This session's finished (or stopped) run on ``source``: its last evaluated model, or None."""
    job = get("training_job")
    settings = get("training_settings") or {}
    if job is None or not job.finished or settings.get("data") != source:
        return None
    return next((e.snapshot for e in reversed(job.events) if e.snapshot is not None), None)


def model_for(source: str):
    """(model, words saying which) for the data chosen: the session's run, else the shipped model; or (None, why)."""
    lm = trained_model(source)
    if lm is not None:
        return lm, f"your model just trained on {source} ({lm.card['kind']}, {lm.card['metrics']['steps']} steps)"
    if source in TRAINED_MODELS:
        lm = model_or_error(source)
        return lm, f"the shipped model **{source}** ({TRAINED_MODELS[source]}), until you train one on this data"
    return None, "Train a model on your text: this section then shows one of its batches."


def training_link() -> None:
    """A link to this section's page (other pages' ledgers point here)."""
    page_link("pages/training.py", "The loss is the ledger (Training page)", icon="🏋️")


def loss_ledger_section(source: str, text: str | None) -> LossLedger | None:
    st.header("The loss is the ledger", divider="gray")
    st.markdown(
        "Each cell below is one prediction in one batch: **−log p(next token | the tokens before it)**, "
        "in nats. A row is one example's ledger, its chain-rule costs from left to right. The trainer's loss "
        "is `F.cross_entropy(logits, targets)`: the average of −log p(next token | prefix) over every position "
        "and every example. That average is exactly the **next-token cross-entropy** the optimizer minimises, "
        "so the mean of the heatmap and the loss are one number."
    )
    lm, which = model_for(source)
    if lm is None:
        st.info(which, icon="🧮")
        return None
    left, right = st.columns([1, 1])
    seed = int(left.number_input(f"Batch seed (0 to {MAX_SEED:,})", 0, MAX_SEED, 0, **bound("training_ledger_seed"),
                                 help="Draw another batch: the same seed always gives the same batch."))  # fmt: skip
    split = right.segmented_control("Drawn from", SPLITS, default="training", required=True,
                                    **bound("training_ledger_split"))  # fmt: skip
    st.caption(f"The model: {which}.")
    length = window_length(lm)
    try:
        data = corpus(text if source == "your text" else source, length)
        if data.vocab.to_dict() != lm.vocab.to_dict():
            raise InputError("The text has changed since this model was trained: its characters differ. "
                             "Train again on this text to see its batches.")  # fmt: skip
        ledger = loss_ledger(lm, *draw_batch(data, N_EXAMPLES, seed, split, length))
    except ChainRuleError as e:
        show_error("", e)
        return None
    a, b = st.columns(2)
    a.metric("Mean of the heatmap", f"{ledger.mean:.4f} nats", help=f"over its {ledger.n_scored} scored cells")
    b.metric("The loss the optimizer sees", f"{ledger.loss:.4f} nats",
             help="net(inputs, targets)[1], the training step's own line, on this batch (dropout off).")  # fmt: skip
    if not ledger.causal:
        st.warning("This model has no causal mask: each cell's prediction read the whole window, the token it "
                   "predicts included. The loss is still the mean of these cells, but they are not the chain "
                   "rule's conditionals: that is why its training loss falls so low.", icon="🙈")  # fmt: skip
    chart_with_table(loss_ledger_figure(ledger.costs, ledger.tokens, ledger.prefixes), "training_ledger_fig")
    padding = " Blank cells are padding after a name's end: they are not scored." if data.is_names else ""
    st.caption(f"{N_EXAMPLES} examples × {ledger.costs.shape[1]} positions; hover a cell for its token.{padding}")
    return ledger
