"""Drift: what if this one token were different? Two continuations of the same context, side by side.

Every conditional p(x_i | x_<i) reads every token before it, so a token changed at position t changes
the distribution at t + 1, t + 2 and beyond. ``drift`` makes that visible: from the same context and
seed it draws

* A, the continuation as ``core.generate`` draws it, and
* B, the same continuation with an alternative token forced at the first step (the fork),

then reports, position by position, the log p each continuation's model gives its own token and how
far apart the two next-token distributions are: KL(p_A || p_B), in nats, of the model's own (raw,
temperature 1, untruncated) distributions. The raw ones, because after a truncation a token kept on
one side and removed on the other would make the divergence infinite.

The seed convention: both runs use a generator seeded from ``seed``, and at the fork B draws as A
does and then replaces the drawn token by the forced one (``generate(..., first=token)``). So the
k-th token after the fork is drawn with the same random numbers in both: the only difference between
A and B is the forced token, and forcing the token A drew gives A back (KL 0 everywhere).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from core.errors import InputError, VocabError
from core.text.language_model import LLM_MODELS, TextModel, check_predictable, generate, logits_for_context
from core.text.sampling import SamplingSettings
from core.validation import check_whole

MAX_DRIFT_TOKENS = 40  # tokens per continuation, the fork included: 80 decoding steps for the pair at most
MIN_DRIFT_TOKENS = 2  # the fork and at least one token after it
LLM_DRIFT_TOKENS = 16  # the real LLM: 2 x 16 decoding steps, about 1 s on two idle cores (3 s when busy)
DEFAULT_PICK = "least likely surviving"  # the alternative when the student picks none
TYPED_TOKEN_CHARS = 60  # a typed token: one token is a few characters, a long word at most


@dataclass(frozen=True)
class Continuation:
    """One continuation from the fork on: its tokens and log p(token | its own context) under the model."""

    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]  # natural log, raw model (temperature 1, nothing truncated)
    ended: bool  # stopped at an end token before the length

    @property
    def logprob(self) -> float:
        return math.fsum(self.logprobs)


@dataclass(frozen=True)
class Drift:
    """A (drawn) and B (forced at the fork), and how far apart their next-token distributions are."""

    fork: int  # the fork's position in the sequence (the start token is position 0)
    drawn: Continuation  # A
    forced: Continuation  # B
    kl: tuple[float, ...]  # KL(p_A || p_B) in nats at each position both reach; 0 at the fork (same context)

    @property
    def forced_id(self) -> int:
        return self.forced.token_ids[0]

    @property
    def same_fork(self) -> bool:
        """The forced token is the one A drew: B is A."""
        return self.forced.token_ids[0] == self.drawn.token_ids[0]


def check_length(n) -> int:
    return check_whole(n, "continuation length (tokens, the fork included)", MIN_DRIFT_TOKENS, MAX_DRIFT_TOKENS)


def length_for(lm: TextModel, n: int) -> tuple[int, str | None]:
    """The length drawn for ``lm``: the real LLM's is cut to LLM_DRIFT_TOKENS (with a note in words) so that
    a comparison stays a few seconds on a laptop's CPU; the small models draw what is asked."""
    if lm.name in LLM_MODELS and n > LLM_DRIFT_TOKENS:
        return LLM_DRIFT_TOKENS, (
            f"{lm.name} draws {LLM_DRIFT_TOKENS} tokens per continuation here, not {n}: each token of each "
            "continuation is a pass of the real LLM, and the comparison should take seconds, not tens of them."
        )
    return n, None


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) = sum_i p_i log(p_i / q_i) in nats, of two (V,) distributions (terms with p_i = 0 are 0).

    Infinite when q gives 0 to a token p does not.
    """
    p, q = p.to(torch.float64), q.to(torch.float64)
    support = p > 0
    if bool((q[support] == 0).any()):
        return math.inf
    return max(float((p[support] * (p[support].log() - q[support].log())).sum()), 0.0)  # rounding: never < 0


def surviving_tokens(
    lm: TextModel, context: list[int], settings: SamplingSettings, logits: torch.Tensor | None = None
) -> list[int]:
    """The tokens with p > 0 after every knob at the step after ``context``: most probable first (ties: lower id)."""
    if logits is None:
        logits = logits_for_context(lm, context)  # (V,)
    final = settings.stages(logits, context[1:]).final  # (V,) what the next token is drawn from
    kept = torch.nonzero(final > 0).flatten().tolist()
    return sorted(kept, key=lambda i: (-float(final[i]), i))


def default_alternative(
    lm: TextModel, context: list[int], settings: SamplingSettings, logits: torch.Tensor | None = None
) -> int:
    """The least likely token that still survives the knobs: the most surprising draw the settings allow."""
    return surviving_tokens(lm, context, settings, logits)[-1]


def token_from_text(lm: TextModel, typed: str) -> int:
    """The id of one token typed as text: its own text (" Paris", "q"), its display name ("␣Paris", "."),
    or any text the tokenizer turns into exactly one token. InputError in words otherwise."""
    vocab = lm.vocab
    if typed == "":
        raise InputError("The token box is empty: type one token of the model's vocabulary.")
    allowed = [i for i in range(vocab.size) if i not in vocab.input_only_ids]
    for spelling in (list(vocab.chars), [vocab.token_text(i) for i in range(vocab.size)]):
        for text in (typed, vocab.normalize(typed)):
            if text in spelling and spelling.index(text) in allowed:
                return spelling.index(text)
    try:
        ids = vocab.encode(typed)
    except VocabError as e:  # characters the model has never seen
        raise InputError(f"{typed!r} is not a token of {lm.name}'s vocabulary. {e}") from None
    if len(ids) == 1 and ids[0] in allowed:
        return ids[0]
    raise InputError(
        f"{typed!r} is {len(ids)} tokens for {lm.name}, not one: type a single token "
        + ("(one character)." if vocab.size < 1000 else "(a word with its leading space is often one token).")
    )


def _run(steps) -> tuple[Continuation, list[torch.Tensor]]:
    """Run one continuation: its tokens and log p, and the raw (V,) distribution at each step (for the KL)."""
    ids, logprobs, raws, ended = [], [], [], False
    for step in steps:
        ids.append(step.token_id)
        logprobs.append(step.logprob)
        raws.append(step.stages.raw)  # only the raw row is kept: a large vocabulary's four stages add up
        ended = step.is_end
    return Continuation(tuple(ids), tuple(logprobs), ended), raws


def drift(lm: TextModel, context: list[int], settings: SamplingSettings, seed: int, n: int, alternative: int) -> Drift:
    """A = ``generate(lm, context, n, settings, seed)``; B = the same with ``alternative`` forced at the fork.

    ``context``: the ids read before the fork (the start token first). The two runs go at once, on two
    threads: each has its own generator, and the served LLM's worker decodes their steps in one batch.
    Raises InputError (a ChainRuleError) for a length outside 2..40 or a token the model cannot emit.
    """
    n, alternative = check_length(n), check_predictable(lm, alternative)
    with ThreadPoolExecutor(2) as pool:
        b_future = pool.submit(_run, generate(lm, list(context), n, settings, seed, first=alternative))
        a_future = pool.submit(_run, generate(lm, list(context), n, settings, seed))
        (b, b_raws), (a, a_raws) = b_future.result(), a_future.result()
    kl = tuple(kl_divergence(p, q) for p, q in zip(a_raws, b_raws, strict=False))  # positions both reach
    return Drift(fork=len(context), drawn=a, forced=b, kl=kl)
