"""In a real browser against a real server: cold start, slider-to-chart latency, and memory.

* cold start: from launching ``streamlit run app.py`` to the home page's title rendered in
  headless Chromium (target <= 6 s);
* slider latency: on the sampling page, from a temperature key press to the page's script run
  finished with the redrawn chart (target <= 500 ms median);
* memory: the server's resident memory with every shipped model loaded (every page visited and
  one token drawn from the real LLM, target <= 700 MB for the web process, <= 1.3 GB with its
  worker processes, the LLM's among them), and its growth per extra browser session with 10
  sessions open (target <= 10 MB each).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Stats, free_port, streamlit_server
from benchmarks.sampling_page import _browser_page

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["", "chain_rule", "attention", "sampling", "pixelcnn"]

_SCRIPT_STATE = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


def _wait_finished(page, timeout_s: float = 120) -> None:
    """Until the app's script run has finished (no sleeping beyond a 10 ms poll)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if page.evaluate(_SCRIPT_STATE) == "notRunning":
            return
        time.sleep(0.01)
    raise TimeoutError("the page did not finish running")


def cold_start(repeats: int) -> Stats:
    """Seconds from process launch to the home page's title visible."""
    times = []
    with _browser_page() as page:
        for _ in range(repeats):
            port = free_port()
            cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=5000)
                        break
                    except Exception:
                        if time.perf_counter() - t0 > 120:
                            raise
                        time.sleep(0.05)
                page.get_by_role("heading", name="Chain Rule Lab").wait_for(timeout=120000)
                times.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return Stats.of(times)


def slider_latency(base: str, page, repeats: int) -> Stats:
    """Seconds from a temperature key press to the rerun finished, on the sampling page."""
    page.goto(f"{base}/sampling?model=names")
    _wait_finished(page)
    slider = page.get_by_role("slider").first
    times = []
    for i in range(repeats + 2):
        slider.focus()
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        # the rerun starts once the widget's debounced value reaches the server
        end = time.monotonic() + 10
        while page.evaluate(_SCRIPT_STATE) != "running" and time.monotonic() < end:
            time.sleep(0.005)
        _wait_finished(page)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return Stats.of(times)


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def with_workers_mb(pid: int) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) of the server and every process it started (the LLM's and the jobs'
    workers), in MB. RSS counts a page shared by several processes (torch's libraries, the LLM's
    file) once in each; PSS divides it among them, so its sum is what they take from the machine."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    infos = [p.memory_full_info() for p in procs]
    return sum(i.rss for i in infos) / 2**20, sum(i.pss for i in infos) / 2**20


def memory(base: str, pid: int, browser_page_factory, sessions: int) -> tuple[float, tuple, float, list[float]]:
    """(web process MB with every model loaded, (RSS, PSS) MB with its workers too, MB growth per extra
    session, web process RSS after each session). The real LLM is loaded too: one token drawn on Live sampling."""
    first = browser_page_factory()
    for path in [*PAGES, "sampling?model=smollm2"]:  # every page once: every model loaded and cached
        first.goto(f"{base}/{path}")
        _wait_finished(first)
    first.get_by_role("button", name="Next token").click()  # the LLM's worker started, its weights loaded
    first.wait_for_timeout(500)
    _wait_finished(first)
    loaded, everything = rss_mb(pid), with_workers_mb(pid)
    series = [loaded]
    pages = []
    for _ in range(sessions):
        p = browser_page_factory()
        p.goto(f"{base}/sampling?model=shakespeare")
        _wait_finished(p)
        pages.append(p)
        series.append(rss_mb(pid))
    growth = (series[-1] - series[0]) / sessions
    return loaded, everything, growth, series


def run(repeats: int, sessions: int) -> tuple[str, list[list[str]]]:
    from playwright.sync_api import sync_playwright

    cold = cold_start(max(1, repeats // 4))
    with streamlit_server(ROOT / "app.py", ROOT) as (base, server_pid), sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(base)
        _wait_finished(page)
        slider = slider_latency(base, page, repeats)
        loaded, everything, growth, series = memory(
            base, server_pid, lambda: browser.new_context(viewport={"width": 1280, "height": 720}).new_page(), sessions
        )
        browser.close()
    targets = [
        [
            "cold start to home page rendered",
            "≤ 6 s",
            f"{cold.median:.1f} s",
            "met" if cold.median <= 6 else "**missed**",
        ],
        [
            "slider change to redrawn chart (sampling)",
            "≤ 500 ms",
            f"{slider.median * 1000:.0f} ms",
            "met" if slider.median <= 0.5 else "**missed**",
        ],
        ["server memory, every model loaded", "≤ 700 MB", f"{loaded:.0f} MB", "met" if loaded <= 700 else "**missed**"],
        [
            "server + worker processes, every model loaded (the LLM too), PSS",
            "≤ 1.3 GB",
            f"{everything[1] / 1024:.2f} GB",
            "met" if everything[1] <= 1.3 * 1024 else "**missed**",
        ],
        [
            f"memory growth per session ({sessions} sessions)",
            "≤ 10 MB",
            f"{growth:.1f} MB",
            "met" if growth <= 10 else "**missed**",
        ],
    ]
    text = (
        f"Cold start over {cold.n} launches: {cold.fmt(1, 2)} s. Slider latency over {slider.n} key presses: "
        f"{slider.fmt(1000, 0)} ms. Server RSS with every page visited and one LLM token drawn: {loaded:.0f} MB (web process), "
        f"{everything[1]:.0f} MB with its worker processes "
        f"(sum of PSS; sum of RSS {everything[0]:.0f} MB, counting shared libraries once per process); after each of "
        f"{sessions} more sessions on the sampling page: "
        + ", ".join(f"{m:.0f}" for m in series[1:])
        + f" MB (median step {statistics.median([b - a for a, b in zip(series, series[1:], strict=False)]):.1f} MB).\n"
    )
    return text, targets
