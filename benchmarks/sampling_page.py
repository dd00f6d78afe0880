"""Live sampling page: how long a rerun takes after a slider change and after "Next token".

Measured with Streamlit's AppTest (the page script runs in-process, exactly as the server runs it,
minus the browser round trip), median over repeated reruns after warm-up. Shakespeare starts from
a prompt longer than its block, so every "Next token" runs a full 128-token window (the worst case). Target: a slider change
reruns the page in <= 150 ms median on a 2-core CPU. Note that AppTest compiles the page script
anew on every run (a real server compiles it once), so these numbers slightly overstate a server.

Optionally (``--browser``) a real ``streamlit run`` server and headless Chromium measure how many
tokens per second auto-play displays at its top speed. Target: >= 10 tokens per second.

    python -m benchmarks.sampling_page                 # 25 repetitions per measurement
    python -m benchmarks.sampling_page --repeats 3     # smoke test
    python -m benchmarks.sampling_page --browser       # also the auto-play rate (needs shakespeare)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.common import Stats, machine, md_table, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "sampling.py")
TARGET_RERUN_MS = 150
TARGET_TOKENS_PER_S = 10


@dataclass(frozen=True)
class PageTimes:
    model: str
    slider: Stats  # seconds per rerun after moving the temperature slider
    next_token: Stats  # seconds per rerun after clicking "Next token"


# A prompt longer than shakespeare's block: every step then reads a full window of 128 tokens (the worst case).
LONG_PROMPTS = {
    "shakespeare": "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n",
}


def _page(model: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["model"] = model
    at.query_params["tokens"] = "300"
    at.query_params["prompt"] = LONG_PROMPTS.get(model, "")
    at.run()
    if at.exception or at.error:
        raise RuntimeError(f"the page failed for {model}: {[e.value for e in (*at.exception, *at.error)]}")
    return at


def measure(model: str, repeats: int, warmup: int = 3) -> PageTimes:
    """Median rerun times of the page for ``model`` (``repeats`` timed reruns of each kind)."""
    at = _page(model)

    def next_token() -> float:
        if at.button(key="sampling_next").disabled:  # a name ended: start a new one (untimed)
            at.button(key="sampling_restart").click()
            at.number_input(key="seed").set_value(at.number_input(key="seed").value + 1)
            at.run()
        at.button(key="sampling_next").click()
        t0 = time.perf_counter()
        at.run()
        return time.perf_counter() - t0

    def slider(i: int) -> float:
        at.slider(key="temperature").set_value([0.7, 1.3][i % 2])
        t0 = time.perf_counter()
        at.run()
        return time.perf_counter() - t0

    for i in range(warmup):
        next_token()
        slider(i)
    clicks = [next_token() for _ in range(repeats)]
    slides = [slider(i) for i in range(repeats)]
    assert not at.exception, at.exception
    return PageTimes(model, Stats.of(slides), Stats.of(clicks))


# ---------------------------------------------------------------------------------------------
# Auto-play in a real browser


@contextmanager
def _browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 720})
        finally:
            browser.close()


def _count_rate(read_count, until: int, seconds: float) -> tuple[float, int, float]:
    """Poll ``read_count()``; (increase per second between the first and last change, count, seconds)."""
    seen: list[tuple[float, int]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n = read_count()
        if n is not None and (not seen or n != seen[-1][1]):
            seen.append((time.monotonic(), n))
        if n is not None and n >= until:
            break
        time.sleep(0.05)
    if len(seen) < 2:
        return 0.0, seen[-1][1] if seen else 0, 0.0
    (t0, n0), (t1, n1) = seen[0], seen[-1]
    return (n1 - n0) / (t1 - t0), n1, t1 - t0


TRIVIAL_APP = """
import streamlit as st
st.session_state.setdefault("n", 0)
@st.fragment(run_every=0.05)
def tick():
    st.session_state.n += 1
    st.markdown(f"**{st.session_state.n} of 1000** ticks")
tick()
"""


def fragment_ceiling(seconds: float = 8) -> float:
    """Updates per second a do-nothing fragment with run_every=0.05 s reaches on this machine now.

    The ceiling for any auto-play: the browser and the server share the same CPU.
    """
    import re

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "trivial_fragment.py"
        script.write_text(TRIVIAL_APP)
        with streamlit_server(script, Path(tmp)) as (base, _), _browser_page() as page:
            page.goto(base)
            status = page.get_by_text(re.compile(r"of 1000 ticks"))
            status.wait_for(timeout=60000)

            def read():
                try:
                    return int(status.inner_text(timeout=1000).split(" of ")[0])
                except Exception:
                    return None

            return _count_rate(read, 10**9, seconds)[0]


def autoplay_rate(model: str = "shakespeare", tokens: int = 120) -> tuple[float, int, float]:
    """(tokens per second displayed, tokens seen, seconds) while auto-play runs at its top speed."""
    import re

    from benchmarks.page_driver import wait_idle

    with streamlit_server(ROOT / "app.py", ROOT) as (base, _), _browser_page() as page:
        page.goto(base)
        wait_idle(page, 60000)  # the home page first: a fresh server's first request must run app.py
        page.goto(f"{base}/sampling?model={model}&tokens={tokens}")
        wait_idle(page, 60000)
        speed = page.get_by_test_id("stSidebar").get_by_role("slider").last  # the auto-play speed
        speed.focus()
        page.keyboard.press("End")  # its top speed
        wait_idle(page)
        page.get_by_role("button", name="Play").click()
        status = page.get_by_text(re.compile(r"of \d+ tokens drawn"))  # the line under the text while playing

        def read():
            try:
                return int(status.first.inner_text(timeout=1000).split(" of ")[0].strip("* "))
            except Exception:
                return None

        return _count_rate(read, tokens, 90)


def report(times: list[PageTimes]) -> str:
    rows = [
        [
            t.model,
            t.slider.fmt(1000),
            t.next_token.fmt(1000),
            t.slider.n,
            "met" if t.slider.median * 1000 <= TARGET_RERUN_MS else "**missed**",
        ]
        for t in times
    ]
    return md_table(
        ["model", "slider change, ms: median (min–max)", "Next token, ms: median (min–max)", "reruns", "≤ 150 ms"],
        rows,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=25, help="timed reruns per measurement (>= 20 for the target)")
    p.add_argument("--models", nargs="+", default=["names", "shakespeare"])
    p.add_argument("--browser", action="store_true", help="also measure auto-play in headless Chromium")
    args = p.parse_args()
    torch.set_num_threads(1)
    import core

    times = []
    for model in args.models:
        try:
            core.load_text_model(model)
        except core.ChainRuleError as e:
            print(f"{model}: unavailable ({e})")
            continue
        times.append(measure(model, args.repeats))
    print(", ".join(f"{k}: {v}" for k, v in machine().items()))
    print(report(times))
    if args.browser:
        ceiling = fragment_ceiling()
        rate, n, secs = autoplay_rate()
        verdict = "met" if rate >= TARGET_TOKENS_PER_S else "missed"
        print(
            f"auto-play at top speed: {rate:.1f} tokens/s displayed (up to {n} tokens, {secs:.1f} s), "
            f"target >= {TARGET_TOKENS_PER_S}: {verdict}"
        )
        print(f"ceiling on this machine now: a do-nothing fragment updates {ceiling:.1f} times/s (asked for 20/s)")


if __name__ == "__main__":
    main()
