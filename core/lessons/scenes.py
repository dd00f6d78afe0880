"""A scene: one page opened in one state, with a line on what it shows. No streamlit here.

The closing page links each takeaway to the scenes that show it live; a scene is the page's url path
and a state of that page's dataclass (``core.lessons.states``), so its link is made by the same rules
that read every link (``core.lessons.page_state.to_query``) and cannot name a field or a value the
page would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.lessons.page_state import from_query, link, to_query
from core.lessons.states import AttentionState, ChainRuleState, PixelState, SamplingState, TourState, TrainingState

PAGE_STATES: dict[str, type] = {
    "chain_rule": ChainRuleState,
    "attention": AttentionState,
    "sampling": SamplingState,
    "training": TrainingState,
    "pixelcnn": PixelState,
    "tour": TourState,
}


@dataclass(frozen=True)
class Scene:
    title: str  # what the link says: "Chain rule · sampling the exact joint"
    page: str  # the page's url path, a key of PAGE_STATES
    state: Any  # an instance of PAGE_STATES[page]
    shows: str  # one line: what to look at when it opens

    def __post_init__(self):
        cls = PAGE_STATES.get(self.page)
        if cls is None or not isinstance(self.state, cls):
            raise ValueError(f"A scene on page {self.page!r} needs a {cls.__name__ if cls else 'known page'} state.")

    def query(self) -> dict[str, str]:
        """The query parameters that open the page in this state (only what differs from its defaults)."""
        return to_query(self.state)

    def href(self) -> str:
        return link(self.page, self.state)

    def round_trips(self) -> bool:
        """Reading the scene's own link back gives its state, with no note."""
        state, notes = from_query(PAGE_STATES[self.page], self.query())
        return state == self.state and not notes
