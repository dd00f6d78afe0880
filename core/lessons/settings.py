"""The live-sampling page's ranges and limits, and the drawn text in a URL.

A teacher shares a link such as ``/sampling?model=names&temperature=0.8&top_k=5&seed=7`` and the
class sees the exact same demo: the settings are ``core.lessons.states.SamplingState`` (read and
written by the page-state rules of ``core.lessons.page_state``); the tokens drawn so far travel as
ids (``text_to_query`` / ``text_from_query``), since only the model can turn them back into text.
Nothing here raises for a bad query value: a broken link must still open the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.lessons.page_state import shown

# The text models this page samples from (the leaky and bigram models belong to other lessons).
SAMPLING_MODELS = ("names", "names-mlp", "names-wavenet", "names-gru", "shakespeare", "smollm2")
# With a large vocabulary the top-k control offers these values (0 = off) instead of every k up to V.
TOP_K_STEPS = (0, 1, 2, 3, 4, 5, 8, 10, 15, 20, 30, 40, 50, 100, 200, 500, 1000)

TEMPERATURE_MAX = 3.0  # the slider's upper end; 0 means greedy
TOP_P_MIN = 0.05  # below this nucleus sampling is greedy in all but name
REPETITION_RANGE = (0.5, 2.0)  # the repetition penalty slider (1 = off; below 1 encourages repeats)
PENALTY_RANGE = (-2.0, 2.0)  # presence and frequency penalties, as the OpenAI API allows
ORDER_NAMES = {"hf": "Hugging Face: temperature first", "llama.cpp": "llama.cpp: temperature last"}
MAX_TOKENS = 300  # longest generation the page allows (auto-play at 10 tokens/s: half a minute)
CLASSROOM_PROMPTS = {  # prompts that keep the real LLM on calm ground in front of a class (empty: it writes anything)
    "smollm2": (
        "Once upon a time, a little robot",
        "The capital of France is",
        "Photosynthesis is the process",
        "Here is a recipe for pancakes:",
    ),  # fmt: skip
    "shakespeare": ("ROMEO:", "JULIET:\nO Romeo,", "First Citizen:"),
    "names": ("em", "chr", "al"),
}
PROMPT_MAX_CHARS = 200  # a prompt longer than this is cut (the URL stays short, the page stays fast)
MAX_SPEED = 0  # auto-play's "max": no waiting between tokens, as fast as the model (and the page) can
SPEEDS = (1, 2, 4, 6, 8, 10, 15, 20, MAX_SPEED)  # auto-play, tokens per second (a link carries "max" for the last)


def speed_label(speed: int) -> str:
    """What the speed control shows, and so what a link carries: the number, or "max"."""
    return "max" if speed == MAX_SPEED else str(speed)


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
                f"Ignored text={shown(raw)} in the link: it must be up to {MAX_TEXT_IDS} token ids joined by '.'. "
                "Starting from the prompt."
            )
    forced: set[int] = set()
    if (raw_forced := get("forced")) and ids:
        parts = raw_forced.split(".")
        if all(re.fullmatch(r"\d{1,3}", p) and 1 <= int(p) <= len(ids) for p in parts):
            forced = {int(p) for p in parts}
        else:
            notes.append(f"Ignored forced={shown(raw_forced)} in the link: steps 1 to {len(ids)} joined by '.'.")
    return ids, forced, notes
