"""Streaming, measured: how long the first token took, how long each later one took, and what that allows.

The first token of a text needs a pass over the whole prompt (it fills the key/value cache); each
later token needs one more forward pass, over that token alone. So the latency to the first token
is one prompt pass, and the latency to the last is that plus one step per later token: a property
of the model, not of the page. The numbers come from the session's own record
(``core.lessons.sampling_session``): each drawn entry keeps how many tokens it fed through the
network (``Entry.fed``) and its step's wall time (``Step.elapsed_s``: the forward pass plus
sampling; for the served LLM, the round trip to its worker process as well).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from core.lessons.sampling_session import History
from core.lessons.settings import MAX_SPEED


@dataclass(frozen=True)
class StreamTiming:
    first_fed: int  # tokens the first step ran through the network: the prompt (start token included)
    first_ms: float  # time to the first token: that prompt pass, plus sampling
    later_ms: tuple[float, ...]  # each later drawn token's own time, in order
    later_fed: tuple[int, ...]  # tokens each later step fed (1 from the cache; more after a rewind)

    @property
    def steps_ms(self) -> tuple[float, ...]:
        return (self.first_ms, *self.later_ms)

    @property
    def latency_to_last_ms(self) -> float:
        """The first token's time plus every later step's: when the last token was ready."""
        return self.first_ms + math.fsum(self.later_ms)

    @property
    def median_later_ms(self) -> float | None:
        return statistics.median(self.later_ms) if self.later_ms else None

    @property
    def model_rate(self) -> float | None:
        """Tokens a second the model could give at its median later step (no page, no waiting)."""
        m = self.median_later_ms
        return 1000 / m if m else None

    @property
    def refed(self) -> int:
        """Later steps that fed more than one token (the cache caught up after a rewind or a restored branch)."""
        return sum(f > 1 for f in self.later_fed)


def stream_timing(history: History) -> StreamTiming | None:
    """The timing of the text so far; None until its first token was drawn (forced or restored tokens are not timed)."""
    if not history.entries or history.entries[0].fed == 0:
        return None
    first, later = history.entries[0], [e for e in history.entries[1:] if e.fed > 0]
    return StreamTiming(
        first_fed=first.fed,
        first_ms=first.step.elapsed_s * 1000,
        later_ms=tuple(e.step.elapsed_s * 1000 for e in later),
        later_fed=tuple(e.fed for e in later),
    )


def rate_text(rate: float) -> str:
    return f"{rate:.1f}" if rate < 20 else f"{rate:.0f}"


def pace_words(timing: StreamTiming, speed: int) -> str:
    """The page's pace beside the model's, in words: how long auto-play waits, and whether the model keeps up."""
    rate = timing.model_rate
    if speed == MAX_SPEED:
        return "auto-play at max waits for nothing: only the model and the page's redraw set the pace"
    wait = f"auto-play waits {1000 / speed:.0f} ms per token ({speed} tokens/s, the page's pace)"
    if rate is not None and rate < speed:
        return (
            f"{wait}: faster than the model's measured pace (~{rate_text(rate)} tokens/s), so auto-play cannot keep it"
        )
    return wait


def timing_line(timing: StreamTiming, speed: int) -> str:
    """One line: first token (the prompt pass), later tokens (median), the model's pace, auto-play's pace."""
    first = (
        f"first token: {timing.first_ms:.1f} ms (the prompt pass over {timing.first_fed} "
        f"token{'s' if timing.first_fed != 1 else ''})"
    )
    if timing.median_later_ms is None:
        return f"{first} · later tokens: none yet · {pace_words(timing, speed)}"
    later = f"later tokens: median {timing.median_later_ms:.1f} ms each ({len(timing.later_ms)} steps)"
    pace = f"at that pace the model could give ~{rate_text(timing.model_rate)} tokens/s"
    return f"{first} · {later} · {pace}; {pace_words(timing, speed)}"
