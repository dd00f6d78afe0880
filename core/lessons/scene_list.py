"""Scenes for the teacher: an ordered list of page states, each with one line of what to say. No streamlit here.

A scene (``core.lessons.scenes.Scene``) is a page's url path and a state of that page. A teacher collects
scenes while preparing a class and steps through them in front of it. The list travels as a JSON file (a
download, uploaded again later) or inside one link (``/scenes?scenes=<value>``), never stored on the
server. Both are read by the same checks: a file or a link may be anything, so every way it can be wrong
is refused with a sentence saying what is allowed, and a scene can only hold values its page's own rules
accept (``core.lessons.page_state.from_query`` with no note).

JSON: ``{"format": "chain-rule-lab-scenes", "version": 1, "scenes": [{"title", "page", "query", "say"}]}``.
Link value: that JSON, compressed with zlib, in base64url without padding (a link of 13 scenes stays short).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import replace

from core.errors import ChainRuleError
from core.lessons.page_state import from_query, linked_fields
from core.lessons.scenes import PAGE_STATES, Scene
from core.lessons.states import TourState
from core.lessons.tour import STEPS

FORMAT = "chain-rule-lab-scenes"
VERSION = 1
MAX_BYTES = 64_000  # a file or a decoded link larger than this is refused before it is parsed
MAX_LINK_CHARS = 16_000  # the link value itself (browsers and servers cut very long addresses)
MAX_SCENES = 50
MAX_TITLE = 80  # characters
MAX_SAY = 300
SCENE_KEYS = ("title", "page", "query", "say")


class SceneListError(ChainRuleError, ValueError):
    """A scene list (file or link) that cannot be used; the message says why and what is allowed."""


# ---------------------------------------------------------------------------------------------
# The shipped list: the tour's scenes in the lesson's order, each with a line to say


def _tour_scene(title: str, say: str) -> Scene:
    scene = next(s.scene for s in STEPS if s.scene is not None and s.scene.title == title)
    return replace(scene, shows=say)


SHIPPED: tuple[Scene, ...] = (
    Scene("Tour · the first step", "tour", TourState(), "Where the lesson starts: one identity, no assumption."),
    _tour_scene("Chain rule · the worked example", "Three factors multiply to the probability of the sequence."),
    _tour_scene("Chain rule · 100,000 draws", "Drawing one factor at a time lands on the joint's frequencies."),
    _tour_scene("Chain rule · a ledger", "Each character pays −log p for its surprise; the costs add up."),
    _tour_scene("Chain rule · factored in another order", "Another order, other factors, the same joint."),
    _tour_scene("Attention · the learned heads", "One pass gives the conditional at every position at once."),
    _tour_scene("Attention · the causal mask", "Row i never reads past token i: the mask's zeros are exact."),
    _tour_scene("Attention · names-leaky", "Without the mask training looks great and sampling breaks."),
    _tour_scene("Training · the loss is the ledger", "The training loss is the ledger averaged over positions."),
    _tour_scene("PixelCNN · raster order", "Pixels in reading order: the same chain rule over an image."),
    _tour_scene("PixelCNN · receptive field", "The red wedge: pixels a stack of plain 3×3 masks never sees."),
    _tour_scene("Live sampling · as fast as the model can", "Press Play: one step per token, each on the last."),
    _tour_scene("Live sampling · what if one token were different", "One changed token moves every later step."),
)


# ---------------------------------------------------------------------------------------------
# A list <-> a JSON-ready dict, JSON text and a link value


def to_dict(scenes) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "scenes": [{"title": s.title, "page": s.page, "query": s.query(), "say": s.shows} for s in scenes],
    }


def to_json(scenes) -> str:
    return json.dumps(to_dict(scenes), ensure_ascii=False, indent=1)


def to_link_value(scenes) -> str:
    """One query value holding the list: zlib-compressed compact JSON in base64url without padding."""
    packed = json.dumps(to_dict(scenes), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(packed, 9)).decode().rstrip("=")


def from_json(data: str | bytes) -> tuple[Scene, ...]:
    """The scenes of a JSON file's bytes or text; SceneListError, in words, for anything else."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_BYTES:
        raise SceneListError(f"The scene list has {len(raw):,} bytes; at most {MAX_BYTES:,} are allowed.")
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SceneListError(f"The scene list is not JSON text ({e.__class__.__name__}).") from None
    return from_dict(parsed)


def from_link_value(value: str) -> tuple[Scene, ...]:
    """The scenes in a link's ``scenes=`` value (``to_link_value``); SceneListError, in words, otherwise."""
    if len(value) > MAX_LINK_CHARS:
        raise SceneListError(f"The scene list in the link has {len(value):,} characters; at most {MAX_LINK_CHARS:,}.")
    try:
        packed = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        inflate = zlib.decompressobj()
        raw = inflate.decompress(packed, MAX_BYTES + 1)  # a tiny link cannot unpack into gigabytes
    except (binascii.Error, ValueError, zlib.error):
        raise SceneListError("The scene list in the link is damaged: it is not a value this app made.") from None
    if len(raw) > MAX_BYTES or inflate.unconsumed_tail:
        raise SceneListError(f"The scene list in the link unpacks to more than {MAX_BYTES:,} bytes.")
    return from_json(raw)


def from_dict(data) -> tuple[Scene, ...]:
    if not isinstance(data, dict):
        raise SceneListError("A scene list is a JSON object with format, version and scenes.")
    if data.get("format") != FORMAT:
        raise SceneListError(f"This is not a scene list: its format must be {FORMAT!r}.")
    if data.get("version") != VERSION:
        raise SceneListError(f"This scene list has version {data.get('version')!r}; this app reads version {VERSION}.")
    scenes = data.get("scenes")
    if not isinstance(scenes, list):
        raise SceneListError("A scene list needs “scenes”: a list of scenes.")
    if len(scenes) > MAX_SCENES:
        raise SceneListError(f"The list has {len(scenes)} scenes; at most {MAX_SCENES} are allowed.")
    return tuple(scene_from_dict(item, number) for number, item in enumerate(scenes, start=1))


def scene_from_dict(item, number: int = 1, where: str | None = None) -> Scene:
    """One scene of a list, checked: its fields, its page, and its values by that page's own rules."""
    where = where or f"Scene {number}"
    if not isinstance(item, dict):
        raise SceneListError(f"{where} is not an object with {', '.join(SCENE_KEYS)}.")
    missing = [k for k in SCENE_KEYS if k not in item]
    extra = sorted(set(item) - set(SCENE_KEYS))
    if missing or extra:
        wrong = (f"lacks {', '.join(missing)}" if missing else "") + (" and " if missing and extra else "")
        wrong += f"has unknown fields {', '.join(map(str, extra))}" if extra else ""
        raise SceneListError(f"{where} {wrong}; a scene has exactly {', '.join(SCENE_KEYS)}.")
    title, page, query, say = (item[k] for k in SCENE_KEYS)
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise SceneListError(f"{where}: the title must be text of 1 to {MAX_TITLE} characters.")
    if not isinstance(say, str) or len(say) > MAX_SAY:
        raise SceneListError(f"{where}: what to say must be text of at most {MAX_SAY} characters.")
    if page not in PAGE_STATES:
        raise SceneListError(f"{where}: there is no page {str(page)[:40]!r}; pages: {', '.join(PAGE_STATES)}.")
    return Scene(title.strip(), page, state_of(page, query, where), say.strip())


def state_of(page: str, query, where: str = "The scene"):
    """The state ``query`` gives page ``page``, refused if the page's rules have anything to say about it."""
    cls = PAGE_STATES[page]
    if not isinstance(query, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items()):
        raise SceneListError(f"{where}: the query must map setting names to text values.")
    unknown = sorted(set(query) - {f.name for f in linked_fields(cls)})
    if unknown:
        raise SceneListError(f"{where}: the page {page} has no setting {', '.join(unknown)[:60]}.")
    state, notes = from_query(cls, query)
    if notes:
        raise SceneListError(f"{where}: {notes[0]}")
    return state


def capture(title: str, page: str, params: dict[str, str], say: str) -> Scene:
    """'This moment as a scene': the page's current link (only its own settings), a title and a line to say."""
    cls = PAGE_STATES.get(page)
    if cls is None:
        raise SceneListError(f"The page {page!r} has no settings to keep; scenes are on {', '.join(PAGE_STATES)}.")
    own = {k: v for k, v in params.items() if k in {f.name for f in linked_fields(cls)}}
    return scene_from_dict({"title": title, "page": page, "query": own, "say": say}, where="This scene")


def moved(scenes: tuple[Scene, ...], at: int, by: int) -> tuple[Scene, ...]:
    """The list with scene ``at`` moved ``by`` places (clamped to the ends)."""
    to = max(0, min(len(scenes) - 1, at + by))
    rest = scenes[:at] + scenes[at + 1 :]
    return rest[:to] + (scenes[at],) + rest[to:]
