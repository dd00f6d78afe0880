"""One live-sampling session: every token drawn so far, how it was drawn, and the branches left behind.

The page draws tokens with ``core.text.language_model.sample_step`` and a torch.Generator of its own; this module
only keeps the record, so that a student can rewind to any step, draw again from there (a branch),
or force a token and watch everything after it change: each conditional p(x_i | x_<i) reads the
tokens before it, so an early choice conditions all that follows.

Nothing here touches streamlit or randomness. ``forced_step`` and ``stages_at`` compute a step's
distribution without drawing, so moving a slider never consumes the generator: pressing "Next token"
without changing anything gives exactly what ``core.generate`` gives for the same seed.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace

import torch

from core.errors import ChainRuleError, InputError
from core.lessons.settings import MAX_SPEED
from core.text.language_model import (
    Step,
    TextModel,
    cached_logits,
    logits_for_context,
    sample_step,
    seeded_generator,
    window_start,
)
from core.text.sampling import SamplingSettings, SamplingStages, sample_token

KEEP_STAGES_UP_TO = 1000  # vocabulary size up to which every step keeps its whole distribution
MAX_BRANCHES = 8  # abandoned continuations kept for comparison (oldest dropped first)
LOGITS_MEMO_SIZE = 4  # contexts whose logits a session keeps (the current step, a rewind target, ...)
FORCE_CHOICES = 100  # with a large vocabulary, the tokens offered for forcing at a step
MAX_CATCH_UP = 5  # tokens one auto-play tick may draw when the browser fell behind the clock


@dataclass(frozen=True)
class Entry:
    step: Step  # the token, and the distribution it came from (kept for the latest entry only)
    settings: SamplingSettings  # the knobs in force when it was drawn (or forced)
    forced: bool = False  # chosen by the user instead of sampled
    p_model: float = math.nan  # p(token | context) under the model
    p_sampled: float = math.nan  # p under the distribution it was drawn from
    fed: int = 0  # tokens this draw ran through the network (the prompt, or 1 from the cache); 0: forced or restored


@dataclass(frozen=True)
class Branch:
    """A continuation that was abandoned by a rewind, a resample or a forced token."""

    fork: int  # how many generated tokens it shares with the history it branched from
    token_ids: tuple[int, ...]  # every generated token of the abandoned continuation
    logprob: float  # log p of those tokens under the model (natural log)
    entries: tuple[Entry, ...] = ()  # the whole text as it was, so that it can be restored exactly


@dataclass
class History:
    """The prompt and the generated tokens, in order, with the distribution behind each."""

    prompt_ids: list[int]  # the start token followed by the encoded prompt
    entries: list[Entry] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        """The whole context so far: what the next step conditions on."""
        return self.prompt_ids + [e.step.token_id for e in self.entries]

    @property
    def generated_ids(self) -> list[int]:
        return [e.step.token_id for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def finished(self) -> bool:
        """True once the end token was drawn: nothing may follow it."""
        return bool(self.entries) and self.entries[-1].step.is_end

    @property
    def logprob(self) -> float:
        """log p(generated | prompt) under the model: the chain rule's sum of log conditionals."""
        return math.fsum(e.step.logprob for e in self.entries)

    @property
    def perplexity(self) -> float | None:
        """exp(-logprob / n): the model's effective number of choices per generated token."""
        return math.exp(-self.logprob / len(self.entries)) if self.entries else None

    @property
    def current_context(self) -> list[int]:
        """What the step on screen conditioned on: the last drawn token's context, or the prompt before any draw."""
        return self.context_of(len(self.entries) - 1) if self.entries else self.ids

    def context_of(self, index: int) -> list[int]:
        """The tokens step ``index`` (0-based among the generated ones) was conditioned on."""
        return self.ids[: len(self.prompt_ids) + index]

    def push(self, step: Step, settings: SamplingSettings, forced: bool = False, fed: int = 0) -> None:
        if self.finished:
            raise InputError("The text already ended with the end token: rewind to continue it.")
        if step.position != len(self.ids):
            raise ValueError(f"step is for position {step.position}, but the next position is {len(self.ids)}")
        token = step.token_id
        p_model, p_sampled = float(step.stages.raw[token]), float(step.stages.final[token])
        if self.entries and step.stages.raw.numel() > KEEP_STAGES_UP_TO:
            # a large vocabulary keeps only the current step's distribution: 4 x 49,152 floats a step add up
            last = self.entries[-1]
            self.entries[-1] = replace(last, step=replace(last.step, stages=None))
        self.entries.append(Entry(step, settings, forced, p_model, p_sampled, fed))

    def truncate(self, keep: int) -> None:
        """Keep the first ``keep`` generated tokens; what is cut is remembered as a branch."""
        if not 0 <= keep <= len(self.entries):
            raise InputError(f"Can only go back to a step between 0 and {len(self.entries)}, not {keep}.")
        cut = self.entries[keep:]
        if cut:
            tokens = tuple(e.step.token_id for e in self.entries)
            # the same text twice (a resample that drew the same token) is listed once, as the latest
            self.branches = [b for b in self.branches if b.token_ids != tokens]
            self.branches.append(
                Branch(
                    fork=keep,
                    token_ids=tokens,
                    logprob=math.fsum(e.step.logprob for e in self.entries),
                    entries=tuple(self.entries),
                )
            )
            del self.branches[:-MAX_BRANCHES]
        del self.entries[keep:]

    def restore_branch(self, index: int) -> None:
        """Branch ``index`` becomes the text again; what the current text does differently becomes a branch."""
        if not 0 <= index < len(self.branches):
            raise InputError(f"There is no branch {index + 1}: {len(self.branches)} branches are kept.")
        branch = self.branches.pop(index)
        common = 0
        for a, b in zip(self.generated_ids, branch.token_ids, strict=False):
            if a != b:
                break
            common += 1
        self.truncate(common)
        self.entries = list(branch.entries)

    def rewind_to(self, index: int) -> None:
        """Make step ``index`` (0-based) the current one again: everything after it is cut."""
        self.truncate(index + 1)


@dataclass
class PlayClock:
    """Auto-play's clock: when playing (re)started, at what length, and at how many tokens a second.

    The number of tokens due is computed from the clock, not counted from ticks, so a late tick
    catches up (a little: ``MAX_CATCH_UP``) and an early one waits. ``now`` is passed in, so the
    logic is tested with a fake clock.
    """

    playing: bool = False
    speed: float = 4.0  # tokens per second; MAX_SPEED: no waiting, every tick draws what it may
    started_at: float = 0.0  # time.monotonic() when playing (re)started or the speed changed
    started_len: int = 0  # generated tokens at that moment

    def restart(self, now: float, length: int) -> None:
        self.started_at, self.started_len = now, length

    def due(self, now: float) -> int:
        """How many generated tokens the text should have by ``now``: one at once, then ``speed`` a second."""
        if self.speed == MAX_SPEED:
            return sys.maxsize  # always behind: draw as fast as the model gives tokens
        return self.started_len + 1 + int((now - self.started_at) * self.speed)

    def next_due_at(self, length: int) -> float:
        """When the text, now ``length`` generated tokens long, is due its next token."""
        if self.speed == MAX_SPEED:
            return self.started_at  # already due: no waiting
        return self.started_at + (length - self.started_len) / self.speed


@dataclass
class SamplingSession:
    """Everything one browser session's live-sampling demo holds, in one object.

    ``history`` is the record; ``generator`` the session's own random stream, seeded from the seed
    at the start of a text, so drawing step by step repeats ``core.generate`` exactly; ``clock``
    drives auto-play; ``logits_memo`` keeps the last context's logits so a slider move needs no
    forward pass; ``last_error`` is the message of the last action that failed (shown, not raised).
    """

    history: History
    generator: torch.Generator
    seed: int
    clock: PlayClock = field(default_factory=PlayClock)
    logits_memo: dict = field(default_factory=dict)  # (model name, context ids) -> (V,) logits, the last few
    last_error: str | None = None
    run_key: tuple | None = None  # (model, prompt ids, seed) the text belongs to
    draws_generator: torch.Generator | None = None  # "Draw N times": its own stream, so the text stays reproducible
    served_cache: tuple | None = None  # (model name, handle): the served LLM's key/value cache for this session
    draw_cache: tuple | None = None  # (model name, cache): a small model's decoding cache for this session's draws
    held: tuple[int, ...] = ()  # the window of ids the decoding cache holds (for the LLM: what its worker holds)

    @classmethod
    def start(cls, prompt_ids: list[int], seed: int, run_key: tuple | None = None) -> SamplingSession:
        return cls(
            History(prompt_ids=list(prompt_ids)),
            seeded_generator(seed),
            seed,
            run_key=run_key,
            draws_generator=seeded_generator(seed),
        )

    def start_over(self) -> None:
        """An empty text and a re-seeded generator: the same seed gives the same text again."""
        self.history = History(prompt_ids=self.history.prompt_ids)
        self.generator = seeded_generator(self.seed)
        self.clock.playing = False
        self.last_error = None

    # -- actions: each records a user-caused error in ``last_error`` instead of raising

    def _guarded(self, action, *args) -> bool:
        self.last_error = None
        try:
            action(*args)
            return True
        except ChainRuleError as e:
            self.last_error = str(e)
            self.clock.playing = False
            return False

    def decode_cache(self, lm: TextModel):
        """This session's cache in the served LLM's worker (a handle: the worker feeds only what the text adds
        or changes, and frees it when the session ends); None for the small models (``prepare_cache`` keeps theirs)."""
        if not hasattr(lm.net, "next_logits"):
            return None
        if self.served_cache is None or self.served_cache[0] != lm.name:
            self.served_cache, self.held = (lm.name, lm.net.new_cache()), ()
        return self.served_cache[1]

    def prepare_cache(self, lm: TextModel, ids: list[int], fresh: bool = False) -> tuple[object | None, int]:
        """(the cache the logits after ``ids`` are computed with, how many tokens that runs through the network).

        ``fresh`` starts an empty cache, so the step is a pass over the whole prompt (a text's first token).
        Then each draw feeds only its newest token. A cache that holds something else than the context
        without its last token (after a rewind, a restored branch) is emptied: the context is read again.
        The served LLM's worker keeps the longest shared prefix itself (``core.text.llm_engine``); its rule is
        mirrored here to count the tokens it feeds (if it evicted the cache meanwhile, it feeds more).
        """
        window = tuple(ids[window_start(len(ids) - 1, lm.block_size) :])
        if hasattr(lm.net, "next_logits"):
            if fresh:
                self.served_cache = None
            cache = self.decode_cache(lm)
            common = next((i for i, (a, b) in enumerate(zip(self.held, window[:-1], strict=False)) if a != b), None)
            common = min(len(self.held), len(window) - 1) if common is None else common
        elif lm.net.supports_cache:
            if fresh or self.draw_cache is None or self.draw_cache[0] != lm.name:
                self.draw_cache, self.held = (lm.name, lm.net.new_cache()), ()
            cache = self.draw_cache[1]
            if self.held != window[:-1]:
                cache.clear()
            common = cache.length
        else:
            cache, common = None, 0  # nothing to cache: every step reads the whole window
        self.held = window
        return cache, len(window) - common

    def _draw(self, lm: TextModel, settings: SamplingSettings) -> None:
        """The one generation step: ``sample_step`` with this session's generator and cache, then recorded.

        A text's first token is a pass over the whole prompt (which fills the cache); each later one feeds
        one token. The entry keeps how many tokens were fed, and the step its own time (``Step.elapsed_s``).
        """
        h = self.history
        cache, fed = self.prepare_cache(lm, h.ids, fresh=not h.entries)
        step = sample_step(lm, h.ids, self.generator, settings, cache)
        h.push(step, settings, fed=fed)

    def next(self, lm: TextModel, settings: SamplingSettings) -> bool:
        return self._guarded(self._draw, lm, settings)

    def back(self) -> bool:
        """Drop the last generated token (kept as a branch): the step before becomes the current one."""
        self.clock.playing = False
        return self._guarded(self.history.truncate, max(len(self.history) - 1, 0))

    def restore_branch(self, index: int) -> bool:
        """Make branch ``index`` (of ``history.branches``) the text again, exactly as it was drawn;
        the part of the current text that differs from it becomes a branch in turn."""
        self.clock.playing = False
        return self._guarded(self.history.restore_branch, index)

    def resample(self, lm: TextModel, settings: SamplingSettings) -> bool:
        """Draw the current step again (the dropped token is kept as a branch)."""

        def again():
            self.history.truncate(len(self.history) - 1)
            self._draw(lm, settings)

        return self._guarded(again)

    def finish(self, lm: TextModel, settings: SamplingSettings, limit: int) -> bool:
        """Draw until ``limit`` tokens or the end token."""
        self.clock.playing = False

        def run():
            while len(self.history) < limit and not self.history.finished:
                self._draw(lm, settings)

        return self._guarded(run)

    def rewind(self, index: int) -> bool:
        """Step ``index`` (0-based) becomes the current one again."""
        self.clock.playing = False
        return self._guarded(self.history.rewind_to, index)

    def force(self, lm: TextModel, settings: SamplingSettings, at_step: int, token_id: int) -> bool:
        """Replace generated step ``at_step`` (1-based) by ``token_id``; what followed becomes a branch."""
        self.clock.playing = False

        def run():
            h = self.history
            h.truncate(at_step - 1)
            h.push(forced_step(lm, h.ids, token_id, settings), settings, forced=True)

        return self._guarded(run)

    def restore(self, lm: TextModel, settings: SamplingSettings, token_ids: list[int], forced: set[int]) -> bool:
        """Rebuild a text from a link: ``token_ids`` generated after the prompt, the steps in ``forced`` forced.

        Replays the draws: every step not forced draws from the generator as it did the first time
        (then keeps the link's token), so a text drawn under constant settings without resampling
        comes back with the generator where it was, and the next draw is the one it would have been.
        """
        self.start_over()

        def run():
            h = self.history
            for step_no, token_id in enumerate(token_ids, start=1):
                cache, _ = self.prepare_cache(lm, h.ids, fresh=step_no == 1)
                logits = cached_logits(lm, h.ids, cache) if cache is not None else logits_for_context(lm, h.ids)
                stages = settings.stages(logits, h.ids[1:])
                step = forced_step(lm, h.ids, token_id, settings, stages)  # InputError for an id never predicted
                if step_no not in forced:
                    sample_token(stages.final, self.generator)  # the draw the original text made here
                h.push(step, settings, forced=step_no in forced)  # InputError if a token follows the end token

        return self._guarded(run)

    # -- auto-play

    def toggle_play(self, now: float) -> None:
        self.clock.playing = not self.clock.playing
        self.clock.restart(now, len(self.history))

    def set_speed(self, speed: float, now: float) -> None:
        self.clock.speed = speed
        self.clock.restart(now, len(self.history))

    def can_draw(self, limit: int) -> bool:
        return not self.history.finished and len(self.history) < limit

    def play_tick(self, lm: TextModel, settings: SamplingSettings, limit: int, now: float) -> int:
        """Draw the tokens due by the clock (one per tick when on time, up to MAX_CATCH_UP when behind).

        Returns how many were drawn; stops playing at the end token or at ``limit``.
        """
        drawn = 0
        due = min(self.clock.due(now), limit)
        while drawn < MAX_CATCH_UP and self.clock.playing and len(self.history) < due and not self.history.finished:
            if not self.next(lm, settings):
                break
            drawn += 1
        if not self.can_draw(limit):
            self.clock.playing = False
        return drawn

    def force_choices(self, lm: TextModel, step: int) -> list[int]:
        """Tokens the user may force at generated step ``step`` (1-based): every one of a small vocabulary,
        else the FORCE_CHOICES most probable there under the model, most probable first."""
        ids = predictable_ids(lm)
        if len(ids) <= FORCE_CHOICES:
            return ids
        logits = self.step_logits(lm, self.history.context_of(step - 1))  # (V,)
        return torch.topk(logits, FORCE_CHOICES).indices.tolist()

    def step_logits(self, lm: TextModel, ids: list[int]) -> torch.Tensor:
        """(V,) logits after ``ids``, memoised for this session so a slider move needs no forward pass."""
        key = (lm.name, tuple(ids))
        if key not in self.logits_memo:
            cache = self.prepare_cache(lm, ids)[0] if hasattr(lm.net, "next_logits") else None  # the worker's own
            self.logits_memo[key] = cached_logits(lm, ids, cache) if cache is not None else logits_for_context(lm, ids)
            while len(self.logits_memo) > LOGITS_MEMO_SIZE:
                del self.logits_memo[next(iter(self.logits_memo))]  # the oldest
        return self.logits_memo[key]


def stages_at(
    lm: TextModel, ids: list[int], settings: SamplingSettings, logits: torch.Tensor | None = None
) -> SamplingStages:
    """The distribution of the token after ``ids`` under ``settings``, without drawing anything.

    Uses the uncached forward pass (``sample_step(cache=None)``), so for the settings a step was drawn
    under it reproduces that step's stages (up to float rounding: draws read the key/value cache). ``logits`` (V,) may be passed when the
    caller already holds ``logits_for_context(lm, ids)`` (a page redrawing one step many times).
    """
    if logits is None:
        logits = logits_for_context(lm, ids)  # (V,)
    return settings.stages(logits, ids[1:])


def forced_step(
    lm: TextModel, ids: list[int], token_id: int, settings: SamplingSettings, stages: SamplingStages | None = None
) -> Step:
    """A Step whose token is chosen, not drawn: same distribution as sample_step, no randomness used.

    ``stages`` may be passed when the caller already computed them for ``ids`` under ``settings``.
    """
    if token_id not in predictable_ids(lm):
        raise InputError(
            f"Token id {token_id} cannot be forced: the model never predicts it. "
            f"Allowed: the ids 0..{lm.vocab.size - 1} except the input-only {lm.vocab.input_only_ids}."
        )
    t0 = time.perf_counter()
    stages = stages if stages is not None else stages_at(lm, ids, settings)
    p = float(stages.raw[token_id])
    return Step(
        token=lm.vocab.token_text(token_id),
        token_id=token_id,
        stages=stages,
        logprob=math.log(p) if p > 0 else -math.inf,
        elapsed_s=time.perf_counter() - t0,
        position=len(ids),
        is_end=token_id in lm.vocab.stop_ids,
    )


def predictable_ids(lm: TextModel) -> list[int]:
    """Every token the model can emit (a separate start token is read, never predicted)."""
    skip = set(lm.vocab.input_only_ids)
    return [i for i in range(lm.vocab.size) if i not in skip]


def kept_count(stages: SamplingStages) -> int:
    """How many candidates survive every rule (top-k, top-p, min-p, typical, greedy temperature)."""
    return int(torch.count_nonzero(stages.final))


def describe_settings(settings: SamplingSettings) -> str:
    """The knobs in words, as a table cell or a note shows them."""
    t = "greedy (T = 0)" if settings.temperature == 0 else f"T = {settings.temperature:g}"
    k = "top-k off" if settings.top_k is None else f"top-k = {settings.top_k}"
    p = "top-p off" if settings.top_p is None else f"top-p = {settings.top_p:g}"
    more = [
        f"min-p = {settings.min_p:g}" if settings.min_p else "",
        f"typical = {settings.typical_p:g}" if settings.typical_p is not None and settings.typical_p < 1 else "",
        f"repetition = {settings.repetition:g}" if settings.repetition != 1 else "",
        f"presence = {settings.presence:g}" if settings.presence else "",
        f"frequency = {settings.frequency:g}" if settings.frequency else "",
        "temperature last (llama.cpp)" if settings.order == "llama.cpp" else "",
    ]
    return ", ".join([t, k, p, *filter(None, more)])
