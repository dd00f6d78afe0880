"""Where causality lives: the causal mask, the attention it shapes, and a live check of it.

An autoregressive transformer computes every conditional p(x_{i+1} | x_0..x_i) in one pass
over the whole sequence. It stays a valid chain-rule model only because the prediction at
position i never reads a later position: the causal mask sets every attention score above
the diagonal to -inf, so after the softmax those weights are exactly 0.

This module gives the lesson its numbers:

* ``text_window``: the tokens the model reads for a text (start token first), cropped to fit;
* ``toy_attention``: scores -> masked scores -> softmax rows on small, hand-checkable numbers;
* ``attention_weights`` / ``where_it_looks``: the shipped model's learned attention;
* ``dependence_matrix``: D[i, j] = how far the next-token distribution at position i moves
  (total variation distance) when the token at position j is replaced, maximised over every
  replacement (or a few, for an LLM). Measured from the model, so it checks causality instead of
  trusting it;
* ``training_summary`` / ``sample_texts``: what the leaky (unmasked) model's card and samples say.

Position convention everywhere: row i is the prediction made after reading tokens 0..i
(token 0 is the start token), column j is the input token at position j.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.display import visible
from core.errors import InputError
from core.models.kv_cache import causal_mask
from core.text.language_model import TextModel, context_ids, generate
from core.text.sampling import total_variation

# Longest window drawn as a heatmap: more rows than this are unreadable on a projector.
MAX_SHOWN_TOKENS = 32


def display_token(lm: TextModel, token_id: int) -> str:
    """One token as an axis label: specials by name, blanks made visible."""
    text = lm.vocab.token_text(token_id)
    return visible(text)


@dataclass(frozen=True)
class Window:
    ids: list[int]  # the token ids the model reads, in order (start token first unless cropped)
    labels: list[str]  # one axis label per position
    n_dropped: int  # tokens of [start] + text cut from the front to fit the limit
    limit: int  # most tokens the window may hold: min(block_size, max_tokens)

    @property
    def T(self) -> int:
        return len(self.ids)

    @property
    def starts_with_start_token(self) -> bool:
        return self.n_dropped == 0


def text_window(lm: TextModel, text: str, max_tokens: int | None = None) -> Window:
    """The start token plus ``text`` as the model reads it, keeping the last ``limit`` tokens.

    Raises InputError for empty text and VocabError (listing the bad characters and the allowed
    set) for characters outside the vocabulary. Longer texts are cropped, as when sampling:
    the model only ever reads its last block_size tokens.
    """
    if text == "":
        raise InputError("The text is empty: type at least one character.")
    ids = context_ids(lm, text)
    limit = lm.block_size if max_tokens is None else max(1, min(lm.block_size, max_tokens))
    kept = ids[-limit:]
    return Window(
        ids=kept,
        labels=[display_token(lm, i) for i in kept],
        n_dropped=len(ids) - len(kept),
        limit=limit,
    )


# ---------------------------------------------------------------------------------------------
# 1. The mask, on a toy example


@dataclass(frozen=True)
class ToyAttention:
    labels: list[str]
    scores: np.ndarray  # (T, T) q_i . k_j / sqrt(d), rounded so a student can recompute them
    masked_scores: np.ndarray  # (T, T) the same with -inf above the diagonal
    weights: np.ndarray  # (T, T) softmax of each row of masked_scores


def toy_attention(labels: list[str], seed: int = 0, dim: int = 2) -> ToyAttention:
    """Scores -> masked scores -> softmax rows for random (seeded) query and key vectors."""
    T = len(labels)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(T, dim, generator=g, dtype=torch.float64)  # (T, d) one query per position
    k = torch.randn(T, dim, generator=g, dtype=torch.float64)  # (T, d) one key per position
    scores = torch.round(q @ k.T / math.sqrt(dim), decimals=1)  # (T, T)
    masked = scores.masked_fill(~causal_mask(T), float("-inf"))  # (T, T)
    weights = torch.softmax(masked, dim=-1)  # (T, T): exp(-inf) = 0 exactly
    return ToyAttention(
        labels=list(labels), scores=scores.numpy(), masked_scores=masked.numpy(), weights=weights.numpy()
    )


# ---------------------------------------------------------------------------------------------
# 2. Learned attention


def attention_weights(lm: TextModel, window: Window) -> np.ndarray:
    """(n_layer, n_head, T, T) attention weights of the model reading ``window``, as float64."""
    if not hasattr(lm.net, "forward_detailed"):
        raise InputError(f"The model {lm.name!r} has no attention layers to show; choose a transformer.")
    with torch.no_grad():
        out = lm.net.forward_detailed(torch.tensor([window.ids]), need_weights=True)
    att = torch.stack([a[0] for a in out.attention])  # (n_layer, n_head, T, T)
    return att.double().numpy()


@dataclass(frozen=True)
class Look:
    position: int  # the key position read
    token: str  # its label
    weight: float  # attention weight on it


def where_it_looks(weights_row: np.ndarray, labels: list[str], top: int = 5) -> list[Look]:
    """The ``top`` positions a query attends to most, heaviest first (ties: earlier first).

    Positions with weight exactly 0 (masked: the future) are not read at all and are left out.
    """
    read = [j for j in range(len(weights_row)) if weights_row[j] != 0.0]
    order = sorted(read, key=lambda j: (-float(weights_row[j]), j))
    return [Look(position=j, token=labels[j], weight=float(weights_row[j])) for j in order[:top]]


def row_sum_error(weights: np.ndarray) -> float:
    """The largest |sum of a row - 1| over every row of attention weights (..., T, T): each row is a softmax."""
    return float(np.abs(weights.sum(-1) - 1).max())


def max_above_diagonal(matrix: np.ndarray) -> float:
    """Largest |value| strictly above the diagonal of the last two axes (0.0 when there is none)."""
    T = matrix.shape[-1]
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)  # (T, T): j > i
    values = np.abs(matrix[..., upper])
    return float(values.max()) if values.size else 0.0


# ---------------------------------------------------------------------------------------------
# 4. Check causality: how much does prediction i depend on input j?


@dataclass(frozen=True)
class Dependence:
    values: np.ndarray  # (T, T) D[i, j]: max over replacements of TV(p_i, p_i with x_j replaced)
    best_replacement: np.ndarray  # (T, T) int: the replacement token id that attains D[i, j]


@torch.no_grad()
def dependence_matrix(lm: TextModel, ids: list[int], replacements: list[list[int]] | None = None) -> Dependence:
    """D[i, j]: how much the next-token distribution after position i changes when token j changes.

    For each input position j, one forward pass runs every replacement at position j at once (a
    batch of copies of the sequence): the whole vocabulary by default, or ``replacements[j]`` (a
    few token ids: the LLM's 49,152 would not fit a CPU). The unchanged sequence is one of those
    copies, so every comparison is between rows of the same batch. For a causal model D[i, j] is
    exactly 0 for j > i.
    """
    if len(ids) > lm.block_size:
        raise InputError(f"{len(ids)} tokens do not fit the model's context of {lm.block_size}.")
    if replacements is not None and len(replacements) != len(ids):
        raise InputError(f"{len(replacements)} lists of replacements for {len(ids)} positions.")
    T = len(ids)
    x = torch.tensor(ids)  # (T,)
    values = np.zeros((T, T))
    best = np.zeros((T, T), dtype=np.int64)
    for j in range(T):
        if replacements is None:
            tokens, original = torch.arange(lm.vocab.size), ids[j]  # row v has token v at position j
        else:
            tokens, original = torch.tensor([ids[j], *replacements[j]]), 0  # row 0: the unchanged text
        batch = x.repeat(len(tokens), 1)  # (R, T)
        batch[:, j] = tokens
        logits, _ = lm.net(batch)  # (R, T, V)
        probs = torch.softmax(logits.double(), dim=-1)  # (R, T, V)
        tv = total_variation(probs, probs[original])  # (R, T): distance to the original sequence
        worst, arg = tv.max(dim=0)  # (T,) max over replacements
        values[:, j], best[:, j] = worst.numpy(), tokens[arg].numpy()
    return Dependence(values=values, best_replacement=best)


# ---------------------------------------------------------------------------------------------
# 3. What peeking breaks: cards and samples


@dataclass(frozen=True)
class TrainingSummary:
    name: str
    causal: bool
    curve: list[dict]  # [{iter, train_nll, heldout_nll}, ...] as measured during training
    train_nll: float | None  # final, nats per token, on the training names
    heldout_nll: float | None  # final, nats per token, on held-out names


def training_summary(lm: TextModel) -> TrainingSummary:
    """The learning curve and final losses a model's card records (None where the card has none)."""
    metrics = lm.card.get("metrics", {})
    curve = [
        {"iter": int(p["iter"]), "train_nll": float(p["train_nll"]), "heldout_nll": float(p["heldout_nll"])}
        for p in lm.card.get("curve", [])
    ]
    return TrainingSummary(
        name=lm.name,
        causal=lm.is_causal,
        curve=curve,
        train_nll=_maybe_float(metrics.get("train_nll")),
        heldout_nll=_maybe_float(metrics.get("heldout_nll")),
    )


def _maybe_float(x) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Sample:
    text: str  # the generated characters, end token left out
    ended: bool  # True if the model emitted its end token within the budget
    logprob: float  # sum of log p(token | what came before) under the model, nats


def sample_texts(lm: TextModel, n: int, seed: int, max_new_tokens: int | None = None) -> list[Sample]:
    """``n`` samples from the empty prompt; sample k uses seed ``seed + k`` (reproducible)."""
    budget = lm.block_size - 1 if max_new_tokens is None else max_new_tokens
    samples = []
    for k in range(n):
        steps = list(generate(lm, "", budget, seed=seed + k))
        ended = bool(steps) and steps[-1].is_end
        text = "".join(s.token for s in (steps[:-1] if ended else steps))
        samples.append(Sample(text=text, ended=ended, logprob=math.fsum(s.logprob for s in steps)))
    return samples


def character_labels(text: str, limit: int = MAX_SHOWN_TOKENS) -> list[str]:
    """Axis labels straight from the characters (start token "<s>" first), for when no model is loaded."""
    labels = ["<s>"] + [visible(c) for c in text]
    return labels[-limit:]
