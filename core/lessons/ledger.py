"""The chain rule read off a trained model: a text's likelihood ledger, and likelihoods compared.

``build_ledger`` lays ``core.text.language_model.score`` out row by row (each token's p, -log p,
the running sum, the context read and the likeliest alternatives); ``candidate`` / ``classify``
compare models on one text, as the lesson's "which language model finds it more likely" classifier.
The chain rule is still exact here; the only approximation is in the learned conditionals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.display import escape_markdown, scientific_from_log10, visible
from core.errors import InputError, VocabError, _describe_char
from core.lessons.chain_rule import to_unit
from core.text.language_model import TextModel, score

TOP_K_ALTERNATIVES = 5  # alternatives shown for each position of the ledger


# ---------------------------------------------------------------------------------------------
# 3. The ledger of real text under a trained model


# Texts the page offers to click: ordinary, unlikely, and longer than the names block of 16
# (the long Shakespeare line is longer than its block of 128, so it is scored with windows).
LEDGER_EXAMPLES = {
    "names": ["emma", "olivia", "xzqvk", "maximilianalexander"],
    "names-bigram": ["emma", "olivia", "xzqvk", "maximilianalexander"],
    "shakespeare": [
        "ROMEO:",
        "To be, or not to be",
        "O Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name; "
        "or, if thou wilt not, be but sworn my love, and I'll no longer be a Capulet.",
    ],
}
LEDGER_EXAMPLES["smollm2"] = [
    "The capital of France is Paris.",
    "The capital of France is Rome.",
    "Colorless green ideas sleep furiously.",
    "Ünïcödé, emoji 🍕 and العربية are bytes to it",
    "def add(a, b): return a + b",
]
LLM_MAX_TOKENS = 256  # a ledger of the 135M-parameter LLM scores at most this many tokens (seconds on a CPU)
# Two prompts, one text: which context makes the text more likely (the lesson's spam classifier).
PROMPT_PAIRS = {
    "spam or not": ("Here is a spam email:\n", "Here is an email from a colleague:\n"),
    "poem or recipe": ("A line from a poem:\n", "A step from a recipe:\n"),
}
PROMPT_TEXT_EXAMPLES = [
    "Congratulations! You have been selected to win a free cruise. Click here to claim your prize now.",
    "Hi, could you send me the slides from Tuesday's meeting before lunch? Thanks.",
    "Whisk the eggs with the sugar until pale, then fold in the flour.",
    "The moon is a ghostly galleon tossed upon cloudy seas.",
]
# Strings for the names-vs-Shakespeare classifier, from clearly one side to clearly the other.
CLASSIFIER_EXAMPLES = ["olivia", "jackson", "romeo", "thou art", "To be, or not to be"]


def display_token(token: str) -> str:
    """A token as a student can read it in a table or hover: space and newline made visible."""
    return visible(token)


@dataclass(frozen=True)
class LedgerRow:
    position: int  # 1-based index of the predicted token
    token: str  # the token as display text
    prob: float  # p(x_i | x_<i)
    neglog: float  # -log p(x_i | x_<i), nats
    running: float  # sum of neglog up to and including this row, nats
    context_length: int  # tokens the model read for this prediction (start token included)
    alternatives: tuple[tuple[str, float], ...]  # the TOP_K_ALTERNATIVES most likely tokens here


@dataclass(frozen=True)
class Ledger:
    model: str
    text: str
    rows: tuple[LedgerRow, ...]
    nll: float  # -log p(text) in nats: the sum of every row's -log p
    block_size: int  # the longest context the model reads
    is_bigram: bool  # a count table reading only the previous token

    @property
    def n_tokens(self) -> int:
        return len(self.rows)

    @property
    def bits(self) -> float:
        return to_unit(self.nll, "bits")

    @property
    def bits_per_token(self) -> float:
        return self.bits / self.n_tokens

    @property
    def nats_per_token(self) -> float:
        return self.nll / self.n_tokens

    @property
    def perplexity(self) -> float:
        """exp(mean NLL per token): the model was as unsure as a uniform choice among this many."""
        return math.exp(self.nats_per_token)

    @property
    def joint_log10(self) -> float:
        return -self.nll / math.log(10)

    @property
    def joint(self) -> float:
        """The joint probability as a float (0.0 once it underflows: use joint_log10 then)."""
        return math.exp(-self.nll)

    @property
    def context_lengths(self) -> list[int]:
        return [r.context_length for r in self.rows]

    @property
    def history_cut(self) -> bool:
        """True when some prediction read fewer tokens than the whole history before it."""
        return any(r.context_length < r.position for r in self.rows)


def top_alternatives(probs: torch.Tensor, lm: TextModel, k: int = TOP_K_ALTERNATIVES) -> tuple[tuple[str, float], ...]:
    """The k most likely next tokens of one (V,) distribution, most likely first."""
    values, ids = torch.topk(probs, min(k, probs.numel()))  # (k,), (k,)
    return tuple((lm.vocab.token_text(int(i)), float(v)) for v, i in zip(values, ids, strict=True))


def build_ledger(lm: TextModel, text: str, prompt: str | None = None, max_tokens: int | None = None) -> Ledger:
    """Score ``text`` (given ``prompt``, if any) with ``core.text.language_model.score`` and lay it out
    row by row with running totals.

    Raises InputError for empty text or more than ``max_tokens`` tokens, VocabError for characters
    outside the vocabulary.
    """
    if max_tokens is not None and len(lm.vocab.encode(text)) > max_tokens:
        n = len(lm.vocab.encode(text))
        raise InputError(
            f"The text is {n:,} tokens long; the ledger of {lm.name} scores at most {max_tokens} tokens "
            "(each costs a pass through the model on this CPU). Shorten the text."
        )
    s = score(lm, text, prompt)
    neglogs = [-lp for lp in s.logprobs]
    rows = tuple(
        LedgerRow(
            position=i + 1,
            token=s.tokens[i],
            prob=s.probs[i],
            neglog=neglogs[i],
            running=math.fsum(neglogs[: i + 1]),
            context_length=s.context_lengths[i],
            alternatives=top_alternatives(s.conditional_probs[i], lm),
        )
        for i in range(len(s.tokens))
    )
    return Ledger(
        model=lm.name,
        text=text,
        rows=rows,
        nll=s.nll,
        block_size=lm.block_size,
        is_bigram=lm.card.get("kind") == "bigram",
    )


def context_note(ledger: Ledger) -> str | None:
    """How the text was scored when a prediction could not read the whole history, else None."""
    if not ledger.history_cut:
        return None
    lengths = ledger.context_lengths
    if ledger.is_bigram:
        return (
            "The bigram model reads only the previous token: it replaces p(xᵢ | x<ᵢ) with "
            "p(xᵢ | xᵢ₋₁). The chain rule is still exact; this is the model's approximation."
        )
    stride = max(1, ledger.block_size // 2)
    cut = [r for r in ledger.rows if r.context_length < r.position]
    return (
        f"This text needs {ledger.n_tokens} predictions, more than the model's context of {ledger.block_size} "
        f"tokens (the start token counts as one). The first {ledger.block_size} predictions read their whole "
        f"history; after that, windows of {ledger.block_size} tokens advance by half a block ({stride} tokens), "
        f"each starting {stride} tokens after the last, so the {len(cut)} later predictions read between "
        f"{min(r.context_length for r in cut)} and {max(r.context_length for r in cut)} tokens of context, not "
        "the whole history. The Live sampling page generates with exactly these windows: its log p(generated) "
        f"equals this ledger's total for the same text. Overall the context length ranged from {min(lengths)} "
        f"to {max(lengths)}."
    )


# ---------------------------------------------------------------------------------------------
# 4. Likelihoods compared: two models on one text, and a tiny classifier


@dataclass(frozen=True)
class Candidate:
    """One model's verdict on a string: its ledger, or the characters it cannot produce."""

    model: str
    ledger: Ledger | None  # None when the text has characters outside the vocabulary
    missing_chars: tuple[str, ...]  # those characters: the model gives the text probability 0
    allowed: str  # the model's allowed characters, in words
    scored_text: str = ""  # the text as the model read it (the names models lower-case it)

    @property
    def bits(self) -> float:
        return self.ledger.bits if self.ledger is not None else math.inf

    @property
    def bits_per_char(self) -> float:
        """-log2 p(text) divided by the number of characters typed (inf when p(text) = 0).

        Dividing both models' totals by the same length compares their joint probabilities of the
        whole string; for the names models that joint includes the end-of-name factor.
        """
        return self.ledger.bits / len(self.ledger.text) if self.ledger is not None else math.inf


def describe_chars(chars) -> str:
    """Characters as a student can read them, as in VocabError: 'a', ' ' (space), U+000A."""
    return ", ".join(_describe_char(c) for c in chars)


def candidate(lm: TextModel, text: str) -> Candidate:
    """Score ``text`` under ``lm``; out-of-vocabulary text is probability 0, not an error."""
    try:
        ledger = build_ledger(lm, text)
    except VocabError as e:
        return Candidate(lm.name, None, tuple(e.bad_chars), e.allowed, lm.vocab.normalize(text))
    return Candidate(lm.name, ledger, (), lm.vocab.allowed_description(), lm.vocab.normalize(text))


def changed_note(lm_name: str, text: str, scored_text: str) -> str | None:
    """One sentence when the model read a different text than the one typed (the names models lower-case)."""
    if scored_text == text:
        return None
    return f"{lm_name} scored “{scored_text}”: its vocabulary has no capitals, so text is lower-cased first."


def scored_event(lm: TextModel, scored_text: str) -> str:
    """The event a model's score of a text is the probability of, in words (markdown, text escaped).

    A model with an end token (names) scores a whole name: its letters, then the end. One without
    (Shakespeare, SmolLM2) scores a stream that *starts* with the text and may go on: a larger event,
    so two such numbers compare like with like only when both models score the same kind of event.
    """
    shown = f"“{escape_markdown(scored_text)}”"
    if lm.vocab.eos_id is not None:
        return f"p(a name is exactly {shown}: these letters, then the end)"
    return f"p(a text starts with {shown}, whatever follows)"


def cannot_score(c: Candidate) -> str:
    """The one sentence for a model that gives the text probability 0 (characters it cannot produce)."""
    return (
        f"{c.model} gives this text probability 0: {describe_chars(c.missing_chars)} "
        f"{'is' if len(c.missing_chars) == 1 else 'are'} not in its vocabulary (allowed: {c.allowed})."
    )


def bits_difference(a: Candidate, b: Candidate) -> float:
    """b.bits - a.bits: how many more bits b needs for the text (> 0: a explains it better)."""
    if math.isinf(a.bits) and math.isinf(b.bits):
        return math.nan  # both say impossible: no comparison
    return b.bits - a.bits


@dataclass(frozen=True)
class Verdict:
    """Two likelihoods of one text compared, in one sentence (markdown, user text escaped)."""

    kind: str  # "better" (one explains it better), "tie", "only" (one gives it probability 0), "neither"
    winner: str | None  # the one that explains the text better (None for a tie or "neither")
    gap_bits: float  # how many bits the other needs more (0 for a tie, inf for "only", nan for "neither")
    sentence: str


def times_more_likely(gap_bits: float) -> str:
    """2^gap as words a student can read, far past a float's range: "2^12.00 ≈ 4.10 × 10³"."""
    return f"2^{gap_bits:.2f} ≈ {scientific_from_log10(gap_bits * math.log10(2))}"


def likelihood_verdict(
    names: tuple[str, str], bits: tuple[float, float], what: str, who: str = "", kind: str = "model"
) -> Verdict:
    """Which of two sources makes the text more likely: ``bits`` are -log2 p(text) under each of ``names``
    (inf: probability 0); ``what`` names the text, ``who`` prefixes a source ("Prompt "). A gap of
    exactly 0 is a tie, never a win. ``kind`` names what the two are ("model", "prompt")."""
    a, b = bits
    if math.isinf(a) and math.isinf(b):
        return Verdict("neither", None, math.nan, f"Neither {kind} can produce {what}: both give it probability 0")
    if math.isinf(a) or math.isinf(b):
        winner = names[0] if math.isinf(b) else names[1]
        return Verdict("only", winner, math.inf, f"Only {who}**{winner}** can produce {what}.")
    gap = b - a
    if gap == 0:
        return Verdict("tie", None, 0.0, f"Both give {what} the same probability: a tie.")
    winner, loser = (names[0], names[1]) if gap > 0 else (names[1], names[0])
    return Verdict(
        "better",
        winner,
        abs(gap),
        f"{who}**{winner}** explains {what} better, by **{abs(gap):.2f} bits**: it finds it "
        f"{times_more_likely(abs(gap))} times more likely than {who.lower()}**{loser}** does.",
    )


@dataclass(frozen=True)
class Classification:
    candidates: tuple[Candidate, ...]
    winner: str | None  # the model with the lower bits per character; None if no model can score it
    margin: float  # runner-up's bits per character minus the winner's (inf if it gives probability 0)


def classify(models: list[TextModel], text: str) -> Classification:
    """Which model finds ``text`` more likely per character, and by how many bits per character."""
    if len(models) < 2:
        raise InputError(f"Classifying needs at least two models, got {len(models)}.")
    if text == "":
        raise InputError("The text is empty: type at least one character to classify.")
    candidates = tuple(candidate(lm, text) for lm in models)
    ranked = sorted(candidates, key=lambda c: c.bits_per_char)
    if math.isinf(ranked[0].bits_per_char):
        return Classification(candidates, None, math.nan)
    return Classification(candidates, ranked[0].model, ranked[1].bits_per_char - ranked[0].bits_per_char)
