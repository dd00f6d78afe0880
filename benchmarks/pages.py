"""Page reruns: the median time the script takes to rerun after each page's main interaction.

Measured with Streamlit's AppTest (the page script in-process, as the server runs it, minus the
browser round trip), after warm-up. Targets: <= 150 ms for the sampling page's slider and
"Next token", <= 300 ms for every other interaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import sampling_page
from benchmarks.common import Stats, md_table

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Interaction:
    page: str  # script under pages/
    name: str  # what the user does
    act: Callable  # (AppTest, i) -> None: change a widget; the timed part is the rerun after it
    target_ms: float


def _text(key: str, values: list[str]):
    return lambda at, i: at.text_input(key=key).set_value(values[i % len(values)])


def _text_area(key: str, values: list[str]):
    return lambda at, i: at.text_area(key=key).set_value(values[i % len(values)])


def _number(key: str, values: list[int]):
    return lambda at, i: at.number_input(key=key).set_value(values[i % len(values)])


def _select(key: str, values: list[int]):
    return lambda at, i: at.selectbox(key=key).set_value(values[i % len(values)])


INTERACTIONS = [
    Interaction("chain_rule.py", "type a name in the ledger", _text("cr_ledger_text", ["emma", "olivia"]), 300),
    Interaction("chain_rule.py", "change a factor of the worked example", _number("cr_factor_0", [0.3, 0.4]), 300),
    Interaction("attention.py", "change the text", _text_area("attention_text", ["emma", "isabella"]), 300),
    Interaction("attention.py", "pick another layer", _select("attention_layer", [2, 1]), 300),
    Interaction("pixelcnn.py", "move the receptive-field pixel", _number("pcnn_rf_row", [10, 14]), 300),
    Interaction("pixelcnn.py", "pick another test digit", _number("pcnn_l_index", [3, 4]), 300),
]


def measure(inter: Interaction, repeats: int, warmup: int = 2) -> Stats:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / inter.page), default_timeout=180)
    at.run()
    times = []
    for i in range(warmup + repeats):
        inter.act(at, i)
        t0 = time.perf_counter()
        at.run()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    if at.exception:
        raise RuntimeError(f"{inter.page}: {at.exception[0].value}")
    return Stats.of(times)


def run(repeats: int) -> tuple[str, list[list[str]]]:
    """Markdown section and target rows."""
    rows, targets = [], []
    for inter in INTERACTIONS:
        try:
            st = measure(inter, repeats)
        except Exception as e:  # a page that fails is reported, not hidden
            rows.append([inter.page, inter.name, f"failed: {e}", f"≤ {inter.target_ms:.0f}", "**missed**"])
            continue
        ok = st.median * 1000 <= inter.target_ms
        rows.append(
            [inter.page, inter.name, st.fmt(1000, 0), f"≤ {inter.target_ms:.0f}", "met" if ok else "**missed**"]
        )
    for model in ("names", "shakespeare"):
        t = sampling_page.measure(model, repeats)
        for label, st in (("move the temperature slider", t.slider), ('click "Next token"', t.next_token)):
            ok = st.median * 1000 <= sampling_page.TARGET_RERUN_MS
            rows.append(
                [
                    "sampling.py",
                    f"{label} ({model})",
                    st.fmt(1000, 0),
                    f"≤ {sampling_page.TARGET_RERUN_MS}",
                    "met" if ok else "**missed**",
                ]
            )
    targets = [[f"rerun: {r[0]} — {r[1]}", r[3] + " ms", r[2].split(" ")[0] + " ms", r[4]] for r in rows]
    table = md_table(["page", "interaction", "rerun ms, median (min–max)", "target ms", ""], rows)
    return f"{repeats} timed reruns each after 2 untimed.\n\n{table}\n", targets
