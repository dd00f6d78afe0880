"""The attention page's lesson beyond the mask: which models it shows, and how to read a real LLM's heads.

Our character models have 4 layers x 4 heads, few enough to draw every head at once. SmolLM2-135M
has 30 layers x 9 heads = 270 attention patterns, so the page shows one layer's 9 heads and
summarises all 270 by one number each (``HEAD_STATISTICS``). It also uses grouped-query attention
(GQA, Ainslie et al., 2023): 9 query heads share 3 key/value heads, query head h (0-based) reading
the keys and values of kv head h // 3 (``kv_head_of``), as in ``core.models.llama``.

Measuring its causality by replacing each token with every one of 49,152 others would take hours
on a CPU, so the check replaces each token by the model's own likeliest alternatives
(``replacement_candidates``) on the first ``LLM_DEPENDENCE_TOKENS`` tokens.

Position convention as in ``core.lessons.causality``: row i predicts, column j is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.lessons.causality import Dependence, Look, Sample, Window, dependence_matrix, max_above_diagonal
from core.text.language_model import TextModel

MAX_TEXT_CHARS = 2000  # the text box's limit: a longer paste is cut there (by the browser and the server)
LLM_DEPENDENCE_TOKENS = 16  # the LLM's causality check covers at most this many tokens ...
LLM_REPLACEMENTS = 3  # ... each replaced by this many alternatives: 16 forward passes of 4 sequences


@dataclass(frozen=True)
class AttentionModel:
    label: str  # radio label
    examples: list[str]  # example texts, the first is the default


ATTENTION_MODELS = {
    "names": AttentionModel("names (causal)", ["emma", "isabella", "christopher", "zqxj"]),
    "shakespeare": AttentionModel(
        "shakespeare (causal)",
        ["ROMEO:\nBut soft, what light", "First Citizen:\nBefore we proceed", "To be, or not to be"],
    ),
    "names-leaky": AttentionModel("names-leaky (no mask)", ["emma", "isabella", "christopher", "zqxj"]),
    "names-mlp": AttentionModel("names-mlp (a window of 5)", ["christopher", "emma", "maximilian"]),
    "names-wavenet": AttentionModel("names-wavenet (dilated convolutions)", ["christopher", "emma", "maximilian"]),
    "names-gru": AttentionModel("names-gru (a recurrent state)", ["christopher", "emma", "maximilian"]),
    "smollm2": AttentionModel(
        "SmolLM2-135M (a real LLM)",
        [
            "The capital of France is Paris. The capital of Germany is",
            "Alice gave Bob the book because Bob",
            "def add(a, b):\n    return a",
            "<|im_end|> typed by you is plain text",
        ],
    ),
}


def example_label(text: str, limit: int = 28) -> str:
    """An example text as a button shows it: newlines as ⏎, cut short (never the code form with quotes)."""
    shown = text.replace("\n", " ⏎ ")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def layers_and_heads(lm: TextModel) -> tuple[int, int]:
    """(layers, heads per layer) of a model with attention; (0, 0) for one without (a GRU, an MLP)."""
    cfg = lm.net.config
    return getattr(cfg, "n_layer", 0) if hasattr(cfg, "n_head") else 0, getattr(cfg, "n_head", 0)


def has_attention(lm: TextModel) -> bool:
    """Whether the model reads through attention heads (a transformer, the LLM), so it has weights to draw."""
    return lm.card.get("kind") in ("transformer", "llama")


# The networks without attention, checked the same way: what each prediction depends on, measured.
OTHER_FAMILIES = ("names-mlp", "names-wavenet", "names-gru", "names-wavenet-leaky")
FAMILIES_INTRO = (
    "Causality is not a property of attention. The same check on networks that have no attention at all: "
    "an **MLP** that reads the last 5 characters (its dependence is a band 5 wide), a **WaveNet** whose "
    "dilated causal convolutions reach 8 back (a band 8 wide), a **GRU** whose state carries the whole prefix "
    "(the full lower triangle, fading with distance), and a **leaky WaveNet** whose kernels are centred "
    "instead of shifted left: it reads the next characters, and collapses exactly as the leaky transformer does."
)
NO_ATTENTION = (
    "**{name}** has no attention heads: {reads}. Its measured dependence on this text takes the place of the "
    "attention picture — row *i* (predicting the next token) against each token *j* it could read."
)


def crop_note(window: Window, block_size: int, n_chars: int, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why the page shows fewer tokens than the text has (None when nothing was cut)."""
    cut_chars = n_chars >= max_chars
    if not window.n_dropped and not cut_chars:
        return None
    note = f"The text box keeps at most {max_chars:,} characters, so a longer paste is cut there. " if cut_chars else ""
    if not window.n_dropped:
        return note.strip()
    if window.limit == block_size:
        why = (
            f"the model reads at most {block_size} tokens, so it reads — and the page shows — only the last "
            f"{window.T}, exactly as when it samples past its context"
        )
    else:
        why = (
            f"heatmaps stay legible up to {window.limit} tokens, so the model is run on the last {window.T} "
            f"alone (it could read up to {block_size:,}) and everything below is for that window"
        )
    total = window.T + window.n_dropped
    return (
        note + f"The start token plus your text make {total} tokens, but {why}. "
        f"The first {window.n_dropped} tokens, start token included, are dropped."
    )


def format_loss(x: float | None) -> str:
    """A loss from a card; tiny ones (the leaky model's) keep their size instead of showing 0.000."""
    if x is None:
        return "—"
    return f"{x:.3f}" if x >= 0.01 else f"{x:.1e}"


def format_max(x: float) -> str:
    return "0 (exactly)" if x == 0.0 else f"{x:.3g}"


# ---------------------------------------------------------------------------------------------
# Grouped-query attention


def kv_head_of(head: int, n_head: int, n_kv_head: int) -> int:
    """The key/value head that query ``head`` reads (0-based): consecutive query heads share one."""
    return head // (n_head // n_kv_head)


def kv_groups(n_head: int, n_kv_head: int) -> list[list[int]]:
    """Query heads (0-based) grouped by the key/value head they share: [[0, 1, 2], [3, 4, 5], [6, 7, 8]]."""
    groups: list[list[int]] = [[] for _ in range(n_kv_head)]
    for h in range(n_head):
        groups[kv_head_of(h, n_head, n_kv_head)].append(h)
    return groups


def n_kv_heads(lm: TextModel) -> int:
    """Key/value heads per layer: as many as query heads unless the model groups them."""
    return getattr(lm.net.config, "n_kv_head", lm.net.config.n_head)


def gqa_sentence(n_head: int, n_kv_head: int) -> str:
    """The grouping in words, with 1-based head numbers as the page's selectors show them."""
    parts = [
        f"heads {g[0] + 1}–{g[-1] + 1} share key/value head {k + 1}" for k, g in enumerate(kv_groups(n_head, n_kv_head))
    ]
    return (
        f"**Grouped-query attention:** each layer has {n_head} query heads but only {n_kv_head} key/value heads: "
        + "; ".join(parts)
        + ". Heads of one group read the same keys, so their patterns differ only through their queries."
    )


# ---------------------------------------------------------------------------------------------
# One number per head


def mean_distance(weights: np.ndarray) -> np.ndarray:
    """(..., T, T) -> (...,): how far back a head looks, sum_j w_ij (i - j), averaged over rows 1..T-1.

    Row 0 can only read itself, so it is left out. 0 = every row reads itself; large = far back.
    """
    T = weights.shape[-1]
    back = np.arange(T)[:, None] - np.arange(T)[None, :]  # (T, T): i - j
    per_row = (weights * back).sum(-1)  # (..., T)
    return per_row[..., 1:].mean(-1) if T > 1 else per_row[..., 0]


def mean_entropy(weights: np.ndarray) -> np.ndarray:
    """(..., T, T) -> (...,): entropy -sum_j w_ij ln w_ij in nats, averaged over rows 1..T-1 (0 = one-hot)."""
    safe = np.where(weights > 0, weights, 1.0)  # 0 ln 0 = 0
    per_row = -(weights * np.log(safe)).sum(-1)  # (..., T)
    return per_row[..., 1:].mean(-1) if weights.shape[-1] > 1 else per_row[..., 0]


def first_position_weight(weights: np.ndarray) -> np.ndarray:
    """(..., T, T) -> (...,): the weight on column 0 (the start token), averaged over rows 1..T-1."""
    col = weights[..., :, 0]  # (..., T)
    return col[..., 1:].mean(-1) if weights.shape[-1] > 1 else col[..., 0]


@dataclass(frozen=True)
class HeadStatistic:
    compute: object  # (n_layer, n_head, T, T) -> (n_layer, n_head)
    unit: str  # colour-bar title
    fmt: str  # hover format
    explanation: str  # one line under the figure


HEAD_STATISTICS = {
    "Weight on the first token": HeadStatistic(
        first_position_weight,
        "weight",
        ".3f",
        "the mean weight each row puts on position 0. Many LLM heads park most of their attention on the "
        "first token (an 'attention sink') when they have nothing better to read.",
    ),
    "Mean distance back": HeadStatistic(
        mean_distance,
        "tokens",
        ".2f",
        "the mean of i − j under each row's weights: near 0 = reads the current or previous token, large = reads far back.",
    ),
    "Entropy": HeadStatistic(
        mean_entropy,
        "nats",
        ".2f",
        "the mean entropy of each row: 0 = all weight on one token, ln(T) = spread evenly over the whole past.",
    ),
}


# ---------------------------------------------------------------------------------------------
# The LLM's causality check: a few plausible replacements per position


@torch.no_grad()
def replacement_candidates(lm: TextModel, ids: list[int], k: int = LLM_REPLACEMENTS) -> list[list[int]]:
    """For each position j, the ``k`` tokens the model finds likeliest there, the actual token left out.

    Position j's alternatives come from the prediction made after position j - 1; the start token
    (j = 0, nothing before it) gets the likeliest first tokens. One forward pass.
    """
    logits, _ = lm.net(torch.tensor([ids]))  # (1, T, V)
    out = []
    for j in range(len(ids)):
        top = logits[0, max(j - 1, 0)].topk(k + 1).indices.tolist()
        out.append([t for t in top if t != ids[j]][:k])
    return out


def llm_dependence(lm: TextModel, ids: list[int], k: int = LLM_REPLACEMENTS) -> tuple[Dependence, list[list[int]]]:
    """``dependence_matrix`` with each position replaced by the model's ``k`` likeliest alternatives.

    Returns the dependence and the alternatives tried at each position (len(ids) + 1 forward passes).
    """
    candidates = replacement_candidates(lm, ids, k)
    return dependence_matrix(lm, ids, candidates), candidates


# ---------------------------------------------------------------------------------------------
# The page's words and tables (kept here so the page stays a screen of glue)

INTRO = (
    "A transformer computes **every** conditional $p(x_{i+1} \\mid x_0 \\dots x_i)$ of the chain rule in "
    "one pass over the whole text. It is only a valid autoregressive model if the prediction at position "
    "*i* never reads a later position. That guarantee lives in the **connectivity**: the causal mask. "
    "In every heatmap below, **row *i*** is the prediction made after reading tokens 0..*i* "
    "(token 0 is the start token) and **column *j*** is the token it may read; row 0 is at the top."
)
TOY_INTRO = (
    "Each position has a query $q_i$ and a key $k_j$ (random 2-d vectors here); the score is "
    "$s_{ij} = q_i \\cdot k_j / \\sqrt{2}$. The mask replaces every score above the diagonal by "
    "$-\\infty$, and the softmax of each row turns $e^{-\\infty}$ into **exactly 0**:"
)
TOY_LATEX = (
    r"w_{ij} = \frac{e^{s_{ij}}}{\sum_{k \le i} e^{s_{ik}}} \quad (j \le i), \qquad "
    r"w_{ij} = \frac{e^{-\infty}}{\cdots} = 0 \quad (j > i)"
)
PEEKING = (
    "**names-leaky** is the same transformer trained on the same names **without the mask**. During "
    "training the whole name is in the input, so the 'prediction' at row *i* can simply read token *i+1* "
    "and copy it: **training becomes trivial**. At sampling time the next token does not exist yet — "
    "there is nothing to copy — so **inference is impossible** and the samples fall apart."
)
LOSSES_NOTE = (
    "Final negative log-likelihoods in nats per token, from each model's card. Both are teacher-forced: "
    "the true name is fed in and each next token is scored. For the leaky model that lets it read the "
    "answer, so its loss says nothing about sampling."
)
SAMPLES_NOTE = (
    "**Samples** from the empty prompt, one token at a time. Here the next token never exists "
    "in the input, so the leaky model has nothing to copy. In training, the only row with nothing after "
    "it was the last one, and its target was always the end token '.': at sampling time every new row "
    "is such a row."
)
DEPENDENCE_INTRO = (
    "The mask is a promise; this measures it. For each input position *j*, replace its token by **every** "
    "token of the vocabulary and see how far the next-token distribution at each row *i* moves "
    "(total variation distance, 0 = unchanged, 1 = completely different), keeping the largest change. "
    "A causal model must give **exactly 0** above the diagonal."
)
LOADING = {"smollm2": "Loading SmolLM2-135M (135M parameters) from its wheel…"}


def llm_check_intro(n: int, vocab_size: int, k: int = LLM_REPLACEMENTS) -> str:
    return (
        f"Every one of its {vocab_size:,} tokens at every position would take hours on this CPU, so each of "
        f"the first {n} tokens of your text is replaced by the **{k} tokens the model itself finds likeliest "
        f"there** (the start token by the likeliest first tokens): {n} forward passes of {k + 1} sequences, "
        "a few seconds, then remembered for this text."
    )


@dataclass(frozen=True)
class Verdict:
    causal: bool  # no weight above the diagonal at all
    text: str


def attention_verdict(weights: np.ndarray) -> Verdict:
    """What (n_layer, n_head, T, T) weights say about reading the future, in one sentence."""
    n_layer, n_head, T, _ = weights.shape
    worst = max_above_diagonal(weights)
    if worst == 0.0:
        n_upper = n_layer * n_head * T * (T - 1) // 2
        return Verdict(
            True,
            f"All {n_upper:,} weights above the diagonal ({n_layer} layers × {n_head} heads) are exactly 0.0: "
            "no prediction reads a later token.",
        )
    return Verdict(
        False,
        f"This model puts weight up to {worst:.3g} on later tokens: it reads the future, so its "
        "'predictions' are not conditionals of the chain rule.",
    )


def looks_table(looks: list[Look]) -> dict[str, list]:
    return {
        "position": [look.position for look in looks],
        "token": [look.token for look in looks],
        "weight": [round(look.weight, 4) for look in looks],
    }


def samples_table(samples: list[Sample]) -> dict[str, list]:
    return {
        "sample": [s.text or "(empty)" for s in samples],
        "ended": ["yes" if s.ended else "no (ran out)" for s in samples],
        "log p (nats)": [round(s.logprob, 2) for s in samples],
    }


def upper_summary(values: np.ndarray) -> str:
    """How many cells above the diagonal of a measured (T, T) dependence are not exactly 0."""
    T = values.shape[-1]
    upper = values[np.triu(np.ones((T, T), dtype=bool), k=1)]
    nonzero = upper != 0
    smallest = f" (smallest {upper[nonzero].min():.1e})." if nonzero.any() else "."
    return f"Cells above the diagonal that are not exactly 0: {int(nonzero.sum())} of {upper.size}" + smallest


def leaky_probe_note(model: str, probs: list[float]) -> str:
    """What a teacher-forced score of a name says under a model that reads the future, from its numbers.

    ``probs``: p of each letter, then of the end token '.'. A leaky model copies each next letter from
    its input (p near 1, even for gibberish); the end token has nothing after it to copy.
    """
    letters, end = probs[:-1], probs[-1]
    letter_cost = float(sum(-np.log(max(p, 1e-300)) for p in letters))
    end_cost = float(-np.log(max(end, 1e-300)))
    total = letter_cost + end_cost
    if letters and min(letters) >= 0.9:
        cost = f"{letter_cost:.2g}" if letter_cost < 0.01 else f"{letter_cost:.2f}"
        floor = "p > 0.9999" if min(letters) > 0.9999 else f"p ≥ {min(letters):.4f}"
        first = (
            f"Under {model} the {len(letters)} letters cost only {cost} nats together (each at "
            f"{floor}): teacher-forced, the next letter is already in the input, so the model "
            "copies it — whatever the name, even gibberish."
        )
    else:
        first = (
            f"Under {model} the {len(letters)} letters cost {letter_cost:.2f} nats together "
            f"(smallest p {min(letters, default=1.0):.3g})."
        )
    share = end_cost / total if total > 0 else 0.0
    return (
        f"{first} The last factor, the end token '.', has nothing after it to copy: p = {end:.2g}, "
        f"{end_cost:.2f} nats, {share:.0%} of its {total:.2f}-nat total. Low or high, that total says "
        "nothing about how name-like the text is."
    )
