"""How numbers and tokens are shown to a student: one place for every page and figure.

- ``visible``: a token's text with blanks made visible (space ␣, newline ⏎, tab ⇥);
- ``escape_markdown``: user text and error messages shown literally, never as markup or links;
- ``format_probability`` and ``scientific_from_log10``: probabilities too small (or too close
  to 1) for three decimals, written so that they never read as a plain 0 or 1.
"""

from __future__ import annotations

import math
import re

VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}  # how invisible characters are shown


def visible(text: str) -> str:
    """``text`` with every space, newline and tab replaced by its visible mark: " Paris" -> "␣Paris"."""
    return "".join(VISIBLE.get(c, c) for c in text)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def escape_markdown(text: str) -> str:
    """Text that st.markdown/st.error show literally (user text must never become markup or links)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


_MARKUP = re.compile(r"\\(.)|\*\*", re.S)


def plain_text(markdown: str) -> str:
    """What a reader sees of our own markdown where markdown is not drawn (a table cell, a multiselect):
    bold marks dropped, escaped characters unescaped. ``plain_text(escape_markdown(t)) == t``."""
    return _MARKUP.sub(lambda m: m.group(1) or "", markdown)


def format_probability(p: float) -> str:
    """A probability for display: three decimals, or scientific notation when that would show 0 or 1."""
    if 0.001 <= p <= 0.999:
        return f"{p:.3f}"
    if p < 0.001:
        return f"{p:.2e}"
    return f"1 − {1 - p:.2e}"


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def scientific_from_log10(log10: float, digits: int = 3) -> str:
    """A number given by its log10 in scientific notation, e.g. -6.49 -> "3.24 × 10⁻⁷" (plain from 0.001 to 999).

    Works far below the smallest float (log10 = -2000 is fine), where the joint itself underflows.
    """
    if log10 == -math.inf:
        return "0"
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    if round(mantissa, digits - 1) >= 10:  # 9.996 -> 10.0: carry into the exponent
        exponent, mantissa = exponent + 1, mantissa / 10
    if -3 <= exponent <= 2:  # 0.001 .. 999 read best as plain numbers
        return f"{mantissa * 10**exponent:.{digits}g}"
    return f"{mantissa:.{digits - 1}f} × 10{str(exponent).translate(_SUPERSCRIPTS)}"
