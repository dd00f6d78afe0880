"""What a likelihood is for: rank candidate continuations of one prompt by log p(candidate | prompt).

An autoregressive model gives the exact likelihood of any continuation, by the chain rule:

    log p(c | prompt) = sum over the candidate's tokens c_j of log p(c_j | prompt, c_<j)

so several candidates (answers, translations, endings of a name) can be ranked with one number each.
Each candidate's ledger comes from ``core.lessons.ledger.build_ledger`` (``core.score`` with a prompt).

Tokenization at the boundary: the prompt and each candidate are tokenized **separately** (the way
``core.score`` conditions on a prompt), so every candidate is scored after the very same prompt tokens.
Tokenizing prompt + candidate together could merge across the boundary and change the prompt's last
token from one candidate to the next; ``joint_split_differs`` says when that would have happened.

The total favours short candidates: every extra token multiplies in one more probability below 1.
The per-token average is the usual length-fair alternative; it is not the likelihood, so the ranking
here is by the total, as the maths says, with the average shown beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import InputError, VocabError
from core.lessons.ledger import Ledger, build_ledger, describe_chars
from core.text.language_model import TextModel

MAX_CANDIDATES = 6  # candidates ranked at once (each costs a pass through the model)
CANDIDATE_MAX_CHARS = 60  # one candidate: a continuation, not a document
CANDIDATE_MAX_TOKENS = 32  # and at most this many tokens
RANK_PROMPT_CHARS = 200  # the prompt
CANDIDATES_TEXT_CHARS = MAX_CANDIDATES * (CANDIDATE_MAX_CHARS + 1)  # the text area: one candidate a line

RANKING_MODELS = ("smollm2", "names", "names-bigram", "shakespeare")

# Curated prompts with candidates, per model: each gives a clear ranking that teaches something.
RANKING_PRESETS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "smollm2": {
        "a fact": ("The capital of France is", (" Paris", " London", " Berlin", " a city")),
        "a translation": ("English: Good morning. French:", (" Bonjour.", " Bonsoir.", " Merci.", " Good morning.")),
        "longer pays more": (
            "Water boils at",
            (" 100 degrees", " 100 degrees Celsius", " 50 degrees Celsius", " room temperature"),
        ),
    },
    "names": {
        "endings of jo…": ("jo", ("hn", "seph", "sephine", "rdan", "xqz")),
        "endings of mar…": ("mar", ("y", "ia", "k", "garet", "zzz")),
    },
    "shakespeare": {
        "which king": ("KING RICHARD", (" III:", " II:", " IV:")),
        "longer pays more": ("To be, or not to ", ("be", "see", "bee", "be: that is the question")),
    },
}
RANKING_PRESETS["names-bigram"] = RANKING_PRESETS["names"]


def preset_text(candidates: tuple[str, ...]) -> str:
    """Candidates as the page's text area holds them: one a line."""
    return "\n".join(candidates)


def parse_candidates(text: str) -> list[str]:
    """One candidate per line, kept exactly (a leading space matters to a BPE tokenizer); empty lines dropped."""
    return [line.removesuffix("\r") for line in text.split("\n") if line.removesuffix("\r") != ""]


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate continuation and its ledger given the prompt (None: it has characters the model lacks)."""

    text: str
    ledger: Ledger | None
    missing_chars: tuple[str, ...] = ()

    @property
    def logp(self) -> float:
        """log p(candidate | prompt) in nats: minus the sum of the ledger's -log p (-inf when impossible)."""
        return -self.ledger.nll if self.ledger is not None else -math.inf

    @property
    def n_tokens(self) -> int:
        return self.ledger.n_tokens if self.ledger is not None else 0

    @property
    def logp_per_token(self) -> float:
        """The length-fair alternative: log p divided by the number of tokens scored."""
        return self.logp / self.n_tokens if self.ledger is not None else -math.inf

    @property
    def costs(self) -> list[tuple[str, float]]:
        """The per-token ledger: (token text, -log p in nats), in order."""
        return [(r.token, r.neglog) for r in self.ledger.rows] if self.ledger is not None else []


@dataclass(frozen=True)
class Ranking:
    model: str
    prompt: str
    ranked: tuple[RankedCandidate, ...]  # the scorable candidates, most likely first (ties keep input order)
    impossible: tuple[RankedCandidate, ...]  # candidates with probability 0 (characters outside the vocabulary)

    @property
    def by_average(self) -> tuple[RankedCandidate, ...]:
        """The same candidates ordered by log p per token instead (the length-fair alternative)."""
        return tuple(sorted(self.ranked, key=lambda c: -c.logp_per_token))


def check_candidates(lm: TextModel, prompt: str, candidates: list[str]) -> None:
    """Raise InputError in words for a prompt or candidate list the ranking does not take."""
    if len(prompt) > RANK_PROMPT_CHARS:
        raise InputError(f"The prompt has {len(prompt)} characters; at most {RANK_PROMPT_CHARS} are allowed.")
    if not candidates:
        raise InputError("There are no candidates: type at least one continuation, one per line.")
    if len(candidates) > MAX_CANDIDATES:
        raise InputError(
            f"There are {len(candidates)} candidates; at most {MAX_CANDIDATES} are ranked at once. "
            f"Remove {len(candidates) - MAX_CANDIDATES} line{'s' if len(candidates) - MAX_CANDIDATES > 1 else ''}."
        )
    for i, c in enumerate(candidates, start=1):
        if c == "":
            raise InputError(f"Candidate {i} is empty: each candidate needs at least one character.")
        if len(c) > CANDIDATE_MAX_CHARS:
            raise InputError(
                f"Candidate {i} has {len(c)} characters; a candidate may have at most {CANDIDATE_MAX_CHARS}."
            )
    seen = set()
    for c in candidates:
        if c in seen:
            raise InputError(f"The candidate “{c}” appears twice: each candidate may appear once.")
        seen.add(c)
    try:
        lm.vocab.encode(prompt)
    except VocabError as e:
        raise InputError(
            f"The prompt has characters {lm.name} cannot read: {describe_chars(e.bad_chars)}. Allowed: {e.allowed}."
        ) from None


def rank_candidates(lm: TextModel, prompt: str, candidates: list[str]) -> Ranking:
    """Score every candidate as a continuation of ``prompt`` and rank them by log p(candidate | prompt).

    An empty prompt scores each candidate from the start token alone. A candidate with characters
    outside the vocabulary has probability 0: it is listed apart, not ranked. Raises InputError
    (a ChainRuleError) for bad input, in words.
    """
    check_candidates(lm, prompt, candidates)
    scored, impossible = [], []
    for i, c in enumerate(candidates, start=1):
        try:
            n = len(lm.vocab.encode(c))
        except VocabError as e:
            impossible.append(RankedCandidate(c, None, tuple(e.bad_chars)))
            continue
        if n > CANDIDATE_MAX_TOKENS:
            raise InputError(
                f"Candidate {i} is {n} tokens long; a candidate may have at most {CANDIDATE_MAX_TOKENS} tokens."
            )
        scored.append(RankedCandidate(c, build_ledger(lm, c, prompt or None)))
    ranked = tuple(sorted(scored, key=lambda c: -c.logp))  # sorted() is stable: ties keep the typed order
    return Ranking(lm.name, prompt, ranked, tuple(impossible))


def impossible_note(model: str, c: RankedCandidate) -> str:
    """Why a candidate is not ranked, in one sentence: the model gives it probability 0."""
    verb = "is" if len(c.missing_chars) == 1 else "are"
    return (
        f"“{c.text}” is not ranked: {model} gives it probability 0 "
        f"({describe_chars(c.missing_chars)} {verb} not in its vocabulary)."
    )


def joint_split_differs(lm: TextModel, prompt: str, candidate: str) -> bool:
    """True when tokenizing prompt + candidate together would split differently than the two apart."""
    try:
        return lm.vocab.encode(prompt + candidate) != lm.vocab.encode(prompt) + lm.vocab.encode(candidate)
    except VocabError:
        return False


def boundary_note(lm: TextModel, prompt: str, candidates: list[str]) -> str | None:
    """One sentence when the prompt/candidate boundary matters for this tokenizer, else None."""
    differ = [c for c in candidates if joint_split_differs(lm, prompt, c)]
    if not differ:
        return None
    tip = (
        " The prompt ends in a space: a BPE tokenizer joins a space to the word after it, so put the space at "
        "the start of each candidate instead."
        if prompt[-1:].isspace()
        else ""
    )
    shown = ", ".join(f"“{c}”" for c in differ)
    return (
        f"Prompt and candidate are tokenized separately, so every candidate follows the same prompt tokens. "
        f"Tokenized together, {shown} would split differently at the boundary.{tip}"
    )
