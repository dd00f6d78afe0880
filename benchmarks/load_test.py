"""A classroom at once: N real browser sessions against one local server, bounded in count and time.

Half the sessions (the even ones) generate on the Live sampling page, each with its own seed from
its URL, pressing "Next token" as fast as the server answers; the others move the widgets of the
chain-rule and attention pages. Afterwards:

* no session saw an error (exception box, st.error, lost connection, JavaScript page error);
* every sampling session's text equals ``core.generate`` for its seed and settings computed alone
  here (no shared random state, nothing leaked between sessions);
* the server's resident memory after the sessions closed is within a bound of before them.

Full size (the classroom check, ~2 min on 2 cores)::

    python -m benchmarks.load_test --sessions 10 --seconds 30

CI size: ``tests/e2e/test_load.py`` (4 sessions, 10 s). Loopback only: the server listens on
127.0.0.1 and the browser is offline (``--disable-background-networking``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from benchmarks.common import streamlit_server

# the same readiness test as the browser tests: the script run finished, connected, nothing stale
from benchmarks.page_driver import IDLE_JS, Wire

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MAX_SESSIONS = 40  # a hard bound: the tool refuses more
MAX_SECONDS = 300
MODEL, PROMPT, TOKENS = "shakespeare", "ROMEO:\n", 300  # no end token: a session can draw for its whole time
ACTION_TIMEOUT_MS = int(
    os.environ.get("LOAD_ACTION_TIMEOUT_MS", "90000")
)  # one click to finished rerun, on a loaded 2-core machine
QUIET_MS = 300

_PROBLEMS_JS = """
() => {
  const out = [];
  for (const e of document.querySelectorAll('[data-testid="stException"]')) out.push('exception: ' + e.innerText.slice(0, 300));
  for (const e of document.querySelectorAll('[data-testid="stAlertContentError"]')) out.push('error: ' + e.innerText.slice(0, 300));
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state === 'compilationError') out.push('compilation error');
  const conn = app && app.getAttribute('data-test-connection-state');
  if (conn && conn !== 'CONNECTED') out.push('connection ' + conn);
  return out;
}
"""


@dataclass
class SessionResult:
    index: int
    role: str  # sampling, chain_rule or attention
    seed: int | None = None
    actions: int = 0  # interactions answered by a finished rerun
    errors: list[str] = field(default_factory=list)
    text: str | None = None  # sampling: the text the page shows at the end
    expected: str | None = None  # sampling: core.generate for the same seed and settings, alone
    branches: bool = False  # sampling: the page recorded an abandoned branch (a resample or rewind happened)
    unseen_runs: int = 0  # answered runs the root element's script state never showed as "running"
    latencies_s: list[float] = field(default_factory=list)  # each interaction to its finished script run

    @property
    def matches(self) -> bool:
        # st.code drops a trailing newline when it draws the text, so that alone is not a difference
        return self.role != "sampling" or (
            self.text is not None and self.expected is not None and self.text.rstrip("\n") == self.expected.rstrip("\n")
        )


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    wall_s: float
    rss_before_mb: float  # server after a warm-up visit of every page (models loaded), before the load
    rss_peak_mb: float
    rss_after_mb: float  # after every session closed and the server settled
    results: list[SessionResult]
    server_cpu_s: float = 0.0  # CPU seconds the server used while the sessions ran
    browser_cpu_s: float = 0.0  # CPU seconds every Chromium process used meanwhile

    @property
    def latencies_s(self) -> list[float]:
        return sorted(t for r in self.results for t in r.latencies_s)

    def latency_percentile(self, q: float) -> float:
        """Interaction to finished rerun, seconds (nearest rank); nan without interactions."""
        xs = self.latencies_s
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    def problems(self, rss_growth_bound_mb: float) -> list[str]:
        """Why this run does not count as a held classroom (empty when it does): the load test's checks."""
        out = list(self.errors)
        sampling = [r for r in self.results if r.role == "sampling"]
        if len({r.seed for r in sampling}) != len(sampling):
            out.append("two sampling sessions shared a seed")
        for r in sampling:  # each text is what its seed gives alone: no shared random state, no leakage
            if r.text is not None and not r.matches:
                out.append(f"session {r.index} (seed {r.seed}) shows {r.text!r}, core.generate gives {r.expected!r}")
        out += [f"session {r.index} ({r.role}) had no interaction answered" for r in self.results if r.actions < 1]
        growth = self.rss_after_mb - self.rss_before_mb
        if growth > rss_growth_bound_mb:
            out.append(f"server memory grew by {growth:.0f} MB (bound {rss_growth_bound_mb:.0f} MB)")
        return out

    @property
    def answered_per_s(self) -> float:
        return sum(r.actions for r in self.results) / self.seconds

    @property
    def errors(self) -> list[str]:
        return [f"session {r.index} ({r.role}): {e}" for r in self.results for e in r.errors]

    @property
    def mismatches(self) -> list[int]:
        return [r.index for r in self.results if not r.matches]

    @property
    def held(self) -> int:
        """Sessions that kept working to the end: at least one answered action, no error, right text."""
        return sum(1 for r in self.results if r.actions > 0 and not r.errors and r.matches)

    def summary(self) -> str:
        actions = sum(r.actions for r in self.results)
        # a session that failed before reading its text drew an unknown number: counted as none, not negative
        tokens = sum(max(0, len(r.text) - len(PROMPT)) for r in self.results if r.role == "sampling" and r.text)
        unseen = sum(r.unseen_runs for r in self.results)
        return (
            f"{self.held}/{self.sessions} sessions held for {self.seconds:g} s (wall {self.wall_s:.0f} s); "
            f"{actions} answered interactions ({actions / self.seconds:.1f}/s, {unseen} never shown as running "
            f"by the page's script state), {tokens} tokens drawn; "
            f"{len(self.errors)} errors; {len(self.mismatches)} texts differing from core.generate; "
            f"interaction to finished rerun p50 {self.latency_percentile(0.5) * 1000:.0f} ms, "
            f"p95 {self.latency_percentile(0.95) * 1000:.0f} ms; CPU over the wall time: server "
            f"{self.server_cpu_s / self.wall_s:.2f} cores, browsers {self.browser_cpu_s / self.wall_s:.2f} cores; "
            f"server RSS {self.rss_before_mb:.0f} MB before, {self.rss_peak_mb:.0f} MB peak, "
            f"{self.rss_after_mb:.0f} MB after ({self.rss_after_mb - self.rss_before_mb:+.0f} MB)"
        )


class CpuMeter:
    """CPU seconds used by the server's process tree and by every Chromium process since start.

    Sampled repeatedly, because Chromium's renderer processes come and go with the sessions: each
    process counts with the last CPU time seen for it.
    """

    def __init__(self, server_pids: tuple[int, ...]) -> None:
        self.server_pids = server_pids
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.sample(first=True)

    def _processes(self):
        import psutil

        server_tree = set(self.server_pids)
        for pid in self.server_pids:
            server_tree |= {c.pid for c in psutil.Process(pid).children(recursive=True)}
        for proc in psutil.process_iter(["pid", "name"]):
            name = proc.info["name"] or ""
            kind = "server" if proc.pid in server_tree else "browser" if "chrom" in name else None
            if kind:
                yield proc, kind

    def sample(self, first: bool = False) -> None:
        import psutil

        for proc, kind in self._processes():
            try:
                t = sum(proc.cpu_times()[:2])
            except psutil.Error:
                continue
            self.kind[proc.pid] = kind
            self.start.setdefault(proc.pid, t if first else 0.0)
            self.last[proc.pid] = t

    def used(self, kind: str) -> float:
        return sum(self.last[p] - self.start[p] for p in self.last if self.kind[p] == kind)


def rss_growth_bound_mb(sessions: int) -> float:
    """How much the server's memory may grow over a load of ``sessions`` (after they closed, vs before)."""
    return 40 + 8 * sessions


def rss_mb(pids: tuple[int, ...]) -> float:
    """Resident memory of the server processes and their children, MB."""
    import psutil

    procs = [q for pid in pids for proc in [psutil.Process(pid)] for q in (proc, *proc.children(recursive=True))]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


# ---------------------------------------------------------------------------------------------
# One browser session


async def _idle(page, timeout_ms: float = ACTION_TIMEOUT_MS) -> None:
    await page.evaluate("() => { window.__e2eIdleSince = undefined; }")
    await page.wait_for_function(IDLE_JS, arg=[QUIET_MS], timeout=timeout_ms, polling=100)


async def _open(page, url: str) -> None:
    await page.goto(url, wait_until="domcontentloaded", timeout=ACTION_TIMEOUT_MS)
    await page.wait_for_selector('[data-testid="stApp"]', timeout=ACTION_TIMEOUT_MS)
    await _idle(page)


# Diagnostic only (the wire decides): did the root element's script state show this run at all?
_WATCH_STATE_JS = """
() => {
  window.__e2eSawRunning = false;
  if (window.__e2eStateObserver) window.__e2eStateObserver.disconnect();
  const app = document.querySelector('[data-testid="stApp"]');
  window.__e2eStateObserver = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window.__e2eSawRunning = true;
  });
  window.__e2eStateObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}
"""


async def _act(page, action, wire: Wire, result: SessionResult) -> None:
    """Run ``action`` (a coroutine function) and wait until the rerun it triggers has finished.

    Answered means: the browser sent a rerun request after the action and the server finished a
    script run after it (``Wire``); then the page must settle (``_idle``).
    """
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    await page.evaluate(_WATCH_STATE_JS)
    mark = wire.mark()
    t0 = time.monotonic()
    await action()
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    while not wire.answered(mark):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no answer within {ACTION_TIMEOUT_MS / 1000:.0f} s of the interaction: {wire.describe(mark)}"
            )
        await asyncio.sleep(0.02)
    result.latencies_s.append(time.monotonic() - t0)
    try:
        await _idle(page)
    except PlaywrightTimeoutError:
        raise TimeoutError(f"the rerun did not finish within {ACTION_TIMEOUT_MS / 1000:.0f} s") from None
    if not await page.evaluate("() => window.__e2eSawRunning"):
        result.unseen_runs += 1


async def _check(page, result: SessionResult, js_errors: list[str]) -> None:
    problems = await page.evaluate(_PROBLEMS_JS)
    result.errors.extend(p for p in problems + js_errors if p not in result.errors)
    js_errors.clear()


async def _sampling_session(page, base: str, result: SessionResult, seconds: float, js_errors, wire) -> None:
    query = f"model={MODEL}&prompt={quote(PROMPT)}&seed={result.seed}&tokens={TOKENS}"
    await _open(page, f"{base}/sampling?{query}")
    await _check(page, result, js_errors)
    deadline = time.monotonic() + seconds
    next_token = page.get_by_role("button", name="Next token")
    # dispatch the click event to the button itself: a mouse click at coordinates could land on a
    # neighbouring button (Resample) if the layout moved between Playwright's checks and the click
    while time.monotonic() < deadline and not result.errors and await next_token.is_enabled():
        await _act(page, lambda: next_token.dispatch_event("click"), wire, result)
        result.actions += 1
        await _check(page, result, js_errors)
    result.text = await page.get_by_test_id("stCode").first.text_content()
    result.branches = await page.locator(".st-key-sampling_branches_table").count() > 0


async def _chain_rule_session(page, base: str, result: SessionResult, seconds: float, js_errors, wire) -> None:
    await _open(page, f"{base}/chain_rule")
    await _check(page, result, js_errors)
    deadline = time.monotonic() + seconds
    first_factor = page.get_by_test_id("stNumberInput").first
    actions = [
        first_factor.get_by_test_id("stNumberInputStepDown").click,
        first_factor.get_by_test_id("stNumberInputStepUp").click,
        page.get_by_role("button", name="New distribution").click,
        page.get_by_role("radio", name="bits", exact=True).click,
        page.get_by_role("radio", name="nats", exact=True).click,
    ]
    while time.monotonic() < deadline and not result.errors:
        await _act(page, actions[result.actions % len(actions)], wire, result)
        result.actions += 1
        await _check(page, result, js_errors)


async def _attention_session(page, base: str, result: SessionResult, seconds: float, js_errors, wire) -> None:
    await _open(page, f"{base}/attention")
    await _check(page, result, js_errors)
    deadline = time.monotonic() + seconds
    slider = page.get_by_role("slider").first  # the query position (the page's only slider)
    toy_seed = page.get_by_test_id("stNumberInput").first  # "Toy scores seed"

    async def key(name: str) -> None:
        await slider.focus()
        await page.keyboard.press(name)

    actions = [
        lambda: key("ArrowLeft"),
        lambda: key("ArrowRight"),
        toy_seed.get_by_test_id("stNumberInputStepUp").click,
    ]
    while time.monotonic() < deadline and not result.errors:
        await _act(page, actions[result.actions % len(actions)], wire, result)
        result.actions += 1
        await _check(page, result, js_errors)


class Barrier:
    """Release everyone once ``n`` sessions arrived (or after a bound: a failed session must not hang the rest)."""

    def __init__(self, n: int, timeout_s: float = 180):
        self.n, self.timeout_s, self.event = n, timeout_s, asyncio.Event()

    def release(self) -> None:
        self.n -= 1
        if self.n <= 0:
            self.event.set()

    async def __aenter__(self):
        try:
            await asyncio.wait_for(self.event.wait(), self.timeout_s)
        except TimeoutError:
            pass

    async def __aexit__(self, *exc) -> None:
        return None


ROLES = {"sampling": _sampling_session, "chain_rule": _chain_rule_session, "attention": _attention_session}


def role_of(index: int) -> str:
    """Even sessions sample; the odd ones alternate between the chain-rule and attention pages."""
    if index % 2 == 0:
        return "sampling"
    return "chain_rule" if index % 4 == 1 else "attention"


async def _one_session(browser, base: str, result: SessionResult, ready, seconds: float) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    js_errors: list[str] = []
    try:
        page = await context.new_page()
        wire = Wire(page)
        page.on("pageerror", lambda e: js_errors.append(f"javascript: {e}"))
        try:
            await _open(page, f"{base}/")  # a visitor arrives at home; deep links then resolve normally
        finally:
            ready.release()  # also on failure: the others must not wait for this session
        async with ready:  # every session starts its work once all of them are connected
            pass
        await ROLES[result.role](page, base, result, seconds, js_errors, wire)
        await _check(page, result, js_errors)
    except Exception as e:  # a timeout or a vanished element is this session's failure, not the run's
        result.errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:2000]}")
    finally:
        await context.close()


async def _warm_up(browser, base: str) -> None:
    """Visit every page once so that every model is loaded before memory is measured."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = await context.new_page()
        await _open(page, f"{base}/")
        for path in (f"sampling?model={MODEL}", "chain_rule", "attention"):
            await _open(page, f"{base}/{path}")
    finally:
        await context.close()


async def _run(
    base: str, server_pid: tuple[int, ...], sessions: int, seconds: float, settle_s: float, warm: tuple[str, ...]
) -> LoadResult:
    from playwright.async_api import async_playwright

    results = [
        SessionResult(i, role_of(i), seed=1000 + i if role_of(i) == "sampling" else None) for i in range(sessions)
    ]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for url in warm or (base,):
                await _warm_up(browser, url)
            await asyncio.sleep(1)
            before = rss_mb(server_pid)
            peak = before
            cpu = CpuMeter(server_pid)
            t0 = time.monotonic()
            ready = Barrier(sessions)
            tasks = [asyncio.create_task(_one_session(browser, base, r, ready, seconds)) for r in results]
            while not all(t.done() for t in tasks):
                peak = max(peak, rss_mb(server_pid))
                cpu.sample()
                await asyncio.sleep(0.5)
            wall = time.monotonic() - t0
            cpu.sample()
        finally:
            await browser.close()
    # closed sessions: give the server time to notice the closed websockets and drop their state
    after = rss_mb(server_pid)
    end = time.monotonic() + settle_s
    while time.monotonic() < end:
        await asyncio.sleep(1)
        after = min(after, rss_mb(server_pid))
    return LoadResult(sessions, seconds, wall, before, peak, after, results, cpu.used("server"), cpu.used("browser"))


def expected_text(seed: int, n_tokens: int) -> str:
    """What the sampling page must show after ``n_tokens`` draws with ``seed``, computed alone here."""
    import torch

    import core

    torch.set_num_threads(1)
    lm = core.load_text_model(MODEL)
    return PROMPT + "".join(s.token for s in core.generate(lm, PROMPT, n_tokens, seed=seed))


def run_load(
    base: str,
    server_pid: int | tuple[int, ...],
    sessions: int,
    seconds: float,
    settle_s: float = 10,
    warm: tuple[str, ...] = (),
) -> LoadResult:
    """Drive the load against a running server (bounded) and check every sampling session's text.

    ``server_pid``: the server's process, or every replica's behind a load balancer (memory and CPU
    are summed over them). ``warm``: the base URLs whose pages are visited first so that every
    model is loaded before memory is measured (default: ``base``; behind a balancer, each replica).
    """
    if isinstance(server_pid, int):
        server_pid = (server_pid,)
    if not 1 <= sessions <= MAX_SESSIONS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"sessions must be 1..{MAX_SESSIONS} and seconds in (0, {MAX_SECONDS}]")
    if not base.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the load test only runs against a server on this machine (loopback)")
    box: dict = {}

    def target() -> None:  # its own thread and event loop: safe next to Playwright's sync API (pytest)
        try:
            box["result"] = asyncio.run(_run(base, server_pid, sessions, seconds, settle_s, warm))
        except BaseException as e:  # re-raised in the caller
            box["error"] = e

    thread = threading.Thread(target=target, name="load-test", daemon=True)
    thread.start()
    thread.join(timeout=seconds + 120 + 40 * sessions + settle_s)
    if thread.is_alive():
        raise TimeoutError("the load test did not finish in its time bound")
    if "error" in box:
        raise box["error"]
    result: LoadResult = box["result"]
    for r in result.results:
        if r.role == "sampling" and r.text is not None:
            r.expected = expected_text(r.seed, r.actions)  # one token per answered "Next token"
    return result


# ---------------------------------------------------------------------------------------------
# Command line: start a server, run the load, print the numbers


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=10, help=f"concurrent browser sessions (max {MAX_SESSIONS})")
    p.add_argument("--seconds", type=float, default=30, help="how long every session works")
    p.add_argument("--settle", type=float, default=10, help="seconds to wait after closing before measuring RSS")
    p.add_argument("--json", type=Path, help="also write the full result here")
    args = p.parse_args(argv)
    with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, pid):
        result = run_load(base, pid, args.sessions, args.seconds, args.settle)
    print(result.summary())
    for r in result.results:
        status = "ok" if not r.errors and r.matches else "FAILED"
        extra = (
            f", {max(0, len(r.text or '') - len(PROMPT))} tokens, seed {r.seed}, branches {r.branches}"
            if r.role == "sampling"
            else ""
        )
        print(f"  session {r.index:2d} {r.role:10s} {r.actions:4d} actions{extra}: {status} {r.errors[:2]}")
        if r.role == "sampling" and not r.matches:
            print(f"    shown    {r.text!r}\n    expected {r.expected!r}")
    if args.json:
        data = asdict(result) | {"held": result.held, "summary": result.summary()}
        args.json.write_text(json.dumps(data, indent=2))
    return 0 if result.held == result.sessions else 1


if __name__ == "__main__":
    sys.exit(main())
