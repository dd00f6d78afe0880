"""A live training run as the Training page reports it: how far, how fast, how long still, and what
each held-out character costs. Plain values in, plain values out (the page draws them).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.display import escape_markdown, visible

# Cost bands of a held-out character, nats: surprising (orange), so-so (grey), expected (blue).
COST_BANDS = ((3.0, "orange"), (1.0, "gray"), (0.0, "blue"))
COST_LEGEND = "orange > 3 nats · grey 1–3 · blue < 1"


@dataclass(frozen=True)
class RunProgress:
    step: int  # steps done
    total: int  # steps the run will take
    rate: float  # steps per second so far, evaluations and samples included
    seconds_left: float  # at that rate

    @property
    def step_text(self) -> str:
        return f"{self.step:,} / {self.total:,}"


def run_progress(events: list, total: int) -> RunProgress:
    """Progress of a run from its LiveEvents (core.text.live_training): the last event's step and time."""
    last = events[-1]
    rate = last.step / max(last.elapsed_s, 1e-9)
    return RunProgress(last.step, total, rate, max(total - last.step, 0) / max(rate, 1e-9))


def cost_band(cost: float) -> str:
    """The colour band of a character that costs ``cost`` nats."""
    return next(colour for limit, colour in COST_BANDS if cost > limit or limit == 0.0)


def cost_strip(probe: list[tuple[str, float]]) -> str:
    """The held-out example as markdown, each character's background its cost band (blanks made visible)."""
    out = []
    for token, cost in probe:
        band = cost_band(cost)
        out.append(f":{band}-background[:{band}[{escape_markdown(visible(token))}]]")
    return "".join(out)
