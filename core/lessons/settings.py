"""The live-sampling page's settings, and how they travel in a URL.

A teacher shares a link such as ``/sampling?model=names&temperature=0.8&top_k=5&seed=7`` and the
class sees the exact same demo. Anything in a URL may be typed by hand or mangled on the way, so
every value is parsed here, checked against its allowed range, and replaced by its default when it
is unusable, with a note in words saying what was ignored and what is allowed. Nothing here raises
for a bad query value: a broken link must still open the page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from core.text.sampling import SamplingSettings
from core.validation import MAX_SEED

# The text models this page samples from (the leaky and bigram models belong to other lessons).
SAMPLING_MODELS = ("names", "shakespeare", "smollm2")
# With a large vocabulary the top-k control offers these values (0 = off) instead of every k up to V.
TOP_K_STEPS = (0, 1, 2, 3, 4, 5, 8, 10, 15, 20, 30, 40, 50, 100, 200, 500, 1000)

TEMPERATURE_MAX = 3.0  # the slider's upper end; 0 means greedy
TOP_P_MIN = 0.05  # below this nucleus sampling is greedy in all but name
REPETITION_RANGE = (0.5, 2.0)  # the repetition penalty slider (1 = off; below 1 encourages repeats)
PENALTY_RANGE = (-2.0, 2.0)  # presence and frequency penalties, as the OpenAI API allows
ORDER_NAMES = {"hf": "Hugging Face: temperature first", "llama.cpp": "llama.cpp: temperature last"}
MAX_TOKENS = 300  # longest generation the page allows (auto-play at 10 tokens/s: half a minute)
PROMPT_MAX_CHARS = 200  # a prompt longer than this is cut (the URL stays short, the page stays fast)
SHOWN_VALUE_CHARS = 40  # how much of a bad query value a note repeats back


@dataclass(frozen=True)
class PageSettings:
    model: str = "names"  # one of SAMPLING_MODELS
    prompt: str = ""  # text the generation continues; "" starts from the start token
    temperature: float = 1.0  # 0 = greedy (always the most probable token)
    top_k: int = 0  # keep the k most probable tokens; 0 = off (keep all)
    top_p: float = 1.0  # keep the smallest set reaching this mass; 1 = off (keep all)
    seed: int = 0  # seed of the torch.Generator that draws every token
    tokens: int = 20  # how many tokens to generate (play / finish stop there)
    min_p: float = 0.0  # keep tokens with p >= min_p * p_max; 0 = off
    typical_p: float = 1.0  # typical sampling's mass; 1 = off
    order: str = "hf"  # "hf": temperature first; "llama.cpp": temperature last
    repetition: float = 1.0  # CTRL repetition penalty; 1 = off
    presence: float = 0.0  # OpenAI presence penalty; 0 = off
    frequency: float = 0.0  # OpenAI frequency penalty; 0 = off

    @property
    def top_k_or_none(self) -> int | None:
        """top_k as core.text.sampling takes it: None for off."""
        return self.top_k if self.top_k > 0 else None

    @property
    def top_p_or_none(self) -> float | None:
        """top_p as core.text.sampling takes it: None for off (p = 1 keeps every token anyway)."""
        return self.top_p if self.top_p < 1 else None

    def sampling(self) -> SamplingSettings:
        """The knobs as core.text.sampling takes them (0 / 1 / "off" become None)."""
        return SamplingSettings(
            self.temperature,
            self.top_k_or_none,
            self.top_p_or_none,
            self.min_p or None,
            self.typical_p if self.typical_p < 1 else None,
            self.order,
            self.repetition,
            self.presence,
            self.frequency,
        )


DEFAULTS = PageSettings()
QUERY_KEYS = tuple(f.name for f in fields(PageSettings))


def _shown(value: str) -> str:
    """A query value as a note repeats it: quoted, cut short, never more than one line."""
    value = value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…"
    return repr(value)


def _number(text: str) -> float | None:
    """A finite float from a query string, or None (rejects nan, inf, words, empty)."""
    try:
        x = float(text.strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _whole_number(text: str) -> int | None:
    """An int from '12' or '12.0'; None for anything else (including 1e400 and 10**30)."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    x = _number(text)
    return int(x) if x is not None and x.is_integer() else None


def clamp_tokens(tokens: int) -> tuple[int, str | None]:
    """The token count limited to 1..MAX_TOKENS, with a note when it had to be changed."""
    if tokens > MAX_TOKENS:
        return MAX_TOKENS, f"At most {MAX_TOKENS} tokens can be generated here; using {MAX_TOKENS} instead of {tokens}."
    if tokens < 1:
        return 1, f"At least 1 token must be generated; using 1 instead of {tokens}."
    return tokens, None


def fit_top_k(top_k: int, vocab_size: int, model: str) -> tuple[int, str | None]:
    """top_k for a model with ``vocab_size`` symbols: above it means 'off' (k >= V keeps every token)."""
    if top_k > vocab_size:
        return 0, (
            f"top-k = {top_k} is more than the {vocab_size} symbols of {model}; "
            f"top-k is off (it would keep every token anyway)."
        )
    return top_k, None


def top_k_choices(vocab_size: int, current: int = 0) -> list[int]:
    """The values the top-k control offers: every k up to a small vocabulary, else TOP_K_STEPS (plus ``current``)."""
    if vocab_size <= TOP_K_STEPS[-1]:
        return list(range(vocab_size + 1))
    return sorted(set(TOP_K_STEPS) | {current})


def parse_query_params(params: Mapping[str, str | list[str]]) -> tuple[PageSettings, list[str]]:
    """Settings from URL query parameters, and one note per value that was unusable.

    Missing keys take their default silently; present but bad ones take their default with a note.
    Unknown keys are ignored. A list value (a repeated key) counts by its last entry, as Streamlit does.
    """
    notes: list[str] = []
    values: dict = {}

    def get(key: str) -> str | None:
        v = params.get(key)
        if isinstance(v, (list, tuple)):
            v = v[-1] if v else None
        return None if v is None else str(v)

    def reject(key: str, raw: str, allowed: str) -> None:
        default = getattr(DEFAULTS, key)
        notes.append(f"Ignored {key}={_shown(raw)} in the link: {allowed}. Using the default {default!r}.")

    if (raw := get("model")) is not None:
        if raw in SAMPLING_MODELS:
            values["model"] = raw
        else:
            reject("model", raw, f"the model must be one of {', '.join(SAMPLING_MODELS)}")

    if (raw := get("prompt")) is not None:
        if len(raw) > PROMPT_MAX_CHARS:
            notes.append(
                f"The prompt in the link had {len(raw)} characters; only the first {PROMPT_MAX_CHARS} are used."
            )
            raw = raw[:PROMPT_MAX_CHARS]
        values["prompt"] = raw  # characters outside the vocabulary are reported with the model's allowed set

    def ranged(key: str, lo: float, hi: float, allowed: str) -> None:
        """A number from lo to hi at the sliders' resolution (0.01), else the default with a note."""
        if (raw := get(key)) is not None:
            x = _number(raw)
            if x is not None and lo <= x <= hi:
                values[key] = round(x, 2)
            else:
                reject(key, raw, allowed)

    ranged("temperature", 0, TEMPERATURE_MAX, f"temperature must be a number from 0 (greedy) to {TEMPERATURE_MAX:g}")

    if (raw := get("top_k")) is not None:
        k = 0 if raw.strip().lower() in ("off", "none") else _whole_number(raw)
        if k is not None and k >= 0:
            values["top_k"] = k  # the upper end depends on the model: see fit_top_k
        else:
            reject("top_k", raw, "top-k must be a whole number >= 1, or 0 / off to keep every token")

    ranged("top_p", TOP_P_MIN, 1, f"top-p must be a number from {TOP_P_MIN:g} to 1 (1 keeps every token)")
    ranged("min_p", 0, 1, "min-p must be a number from 0 (off) to 1")
    ranged("typical_p", TOP_P_MIN, 1, f"typical-p must be a number from {TOP_P_MIN:g} to 1 (1 is off)")
    ranged("repetition", *REPETITION_RANGE, "the repetition penalty must be a number from 0.5 to 2 (1 is off)")
    ranged("presence", *PENALTY_RANGE, "the presence penalty must be a number from -2 to 2 (0 is off)")
    ranged("frequency", *PENALTY_RANGE, "the frequency penalty must be a number from -2 to 2 (0 is off)")
    if (raw := get("order")) is not None:
        if raw in ORDER_NAMES:
            values["order"] = raw
        else:
            reject("order", raw, f"the order must be one of {', '.join(ORDER_NAMES)}")

    if (raw := get("seed")) is not None:
        s = _whole_number(raw)
        if s is not None and 0 <= s <= MAX_SEED:
            values["seed"] = s
        else:
            reject("seed", raw, f"the seed must be a whole number from 0 to {MAX_SEED}")

    if (raw := get("tokens")) is not None:
        n = _whole_number(raw)
        if n is None:
            reject("tokens", raw, f"the number of tokens must be a whole number from 1 to {MAX_TOKENS}")
        else:
            n, note = clamp_tokens(n)
            values["tokens"] = n
            if note:
                notes.append(note)

    return replace(DEFAULTS, **values), notes


def to_query_params(settings: PageSettings) -> dict[str, str]:
    """The settings as query strings; parse_query_params(to_query_params(s)) == (s, [])."""
    return {
        "model": settings.model,
        "prompt": settings.prompt,
        "temperature": f"{settings.temperature:g}",
        "top_k": str(settings.top_k),
        "top_p": f"{settings.top_p:g}",
        "seed": str(settings.seed),
        "tokens": str(settings.tokens),
        "min_p": f"{settings.min_p:g}",
        "typical_p": f"{settings.typical_p:g}",
        "order": settings.order,
        "repetition": f"{settings.repetition:g}",
        "presence": f"{settings.presence:g}",
        "frequency": f"{settings.frequency:g}",
    }


# ---------------------------------------------------------------------------------------------
# The text itself: reloading the page (or opening a shared link) shows the same tokens

MAX_TEXT_IDS = 300  # = MAX_TOKENS: the longest text the page draws


def text_to_query(token_ids: list[int], forced_steps: list[int]) -> dict[str, str]:
    """The generated tokens (ids joined by ".") and the 1-based steps that were forced; {} when empty."""
    out = {"text": ".".join(map(str, token_ids))} if token_ids else {}
    if forced_steps:
        out["forced"] = ".".join(map(str, forced_steps))
    return out


def text_from_query(params: Mapping[str, str | list[str]]) -> tuple[list[int], set[int], list[str]]:
    """(token ids, forced steps, notes) from a link; anything unusable is dropped with a note.

    The ids are checked against the model's vocabulary by the page (it knows the model).
    """

    def get(key: str) -> str:
        v = params.get(key, "")
        return str(v[-1] if isinstance(v, (list, tuple)) and v else v or "")

    raw, notes = get("text"), []
    ids: list[int] = []
    if raw:
        parts = raw.split(".")
        if all(re.fullmatch(r"\d{1,6}", p) for p in parts) and len(parts) <= MAX_TEXT_IDS:
            ids = [int(p) for p in parts]
        else:
            notes.append(
                f"Ignored text={_shown(raw)} in the link: it must be up to {MAX_TEXT_IDS} token ids joined by '.'. "
                "Starting from the prompt."
            )
    forced: set[int] = set()
    if (raw_forced := get("forced")) and ids:
        parts = raw_forced.split(".")
        if all(re.fullmatch(r"\d{1,3}", p) and 1 <= int(p) <= len(ids) for p in parts):
            forced = {int(p) for p in parts}
        else:
            notes.append(f"Ignored forced={_shown(raw_forced)} in the link: steps 1 to {len(ids)} joined by '.'.")
    return ids, forced, notes
