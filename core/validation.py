"""Checks of what a user (or a URL) asks for, each raising ``InputError`` in words.

One ``MAX_SEED`` for every seeded thing in the app: any seed ``torch.Generator.manual_seed``
takes that is also a JavaScript-safe integer, so a seed survives a URL and a browser widget.
"""

from __future__ import annotations

import math
import numbers

from core.errors import InputError

MAX_SEED = 2**32 - 1


def check_whole(value, name: str, lo: int, hi: int | None = None) -> int:
    """``value`` as an int if it is a whole number in [lo, hi] (hi=None: no upper end)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and lo <= value
    if not ok or (hi is not None and value > hi):
        span = f"from {lo:,} to {hi:,}" if hi is not None else f">= {lo:,}"
        raise InputError(f"The {name} must be a whole number {span}, got {value!r}.")
    return int(value)


def check_number(value, name: str, lo: float, hi: float, note: str = "") -> float:
    """``value`` as a float if it is a finite number in [lo, hi]; ``note`` says what an end means."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise InputError(f"The {name} must be a number from {lo:g} to {hi:g}{note}, got {value!r}.")
    return float(value)


def check_seed(seed) -> int:
    return check_whole(seed, "seed", 0, MAX_SEED)
