"""Driving a real Streamlit page in Chromium: wait until the app is idle, and read its websocket.

Shared by the browser tests (tests/e2e) and the browser benchmarks; it lives here, on the benchmarks'
side, so that tests import benchmarks and never the other way round.

Streamlit marks its root element ``[data-testid=stApp]`` with ``data-test-script-state``
(``initial``, ``running``, ``rerunRequested``, ``notRunning``, ``compilationError``) and
``data-test-connection-state``; waiting on those is exact, where sleeping is flaky.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# Filled with the live servers' log files, so a failure message can point at the traceback.
SERVER_LOGS: list[Path] = []

# How long the app must stay idle before we call it finished: covers the round trip between a widget
# change in the browser and the server announcing the rerun it triggers (a few ms on localhost).
QUIET_MS = 400

# Idle also means no section still waits for work on a background thread: such a section marks itself
# with a container keyed "background_work_pending" (pages/pixelcnn_likelihood.py) and polls until done.
IDLE_JS = """
([quietMs]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app !== null
    && ['notRunning', 'compilationError'].includes(app.getAttribute('data-test-script-state'))
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') === null
    && document.querySelector('[data-testid="stElementContainer"][data-stale="true"]') === null
    && document.querySelector('[data-testid="stSkeleton"]') === null
    && document.querySelector('[class*="st-key-background_work_pending"]') === null;
  if (!idle) { window.__e2eIdleSince = undefined; return false; }
  if (window.__e2eIdleSince === undefined) { window.__e2eIdleSince = performance.now(); }
  return performance.now() - window.__e2eIdleSince >= quietMs;
}
"""


def _state(page: Page) -> str:
    return page.evaluate(
        """() => {
          const app = document.querySelector('[data-testid="stApp"]');
          if (app === null) return 'no stApp element';
          return 'script=' + app.getAttribute('data-test-script-state')
            + ' connection=' + app.getAttribute('data-test-connection-state');
        }"""
    )


def wait_idle(page: Page, timeout: float = 30000) -> None:
    """Wait until the script run has finished and the app stayed idle for QUIET_MS (timeout in ms).

    Call it after every interaction (click, fill, slider move) before asserting on the output.
    A compilation error counts as finished; assert_no_streamlit_errors then reports it.
    """
    page.wait_for_selector('[data-testid="stApp"]', state="visible", timeout=timeout)
    page.evaluate("() => { window.__e2eIdleSince = undefined; }")
    try:
        page.wait_for_function(IDLE_JS, arg=[QUIET_MS], timeout=timeout, polling=100)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"Streamlit did not finish running within {timeout / 1000:.0f} s at {page.url} ({_state(page)}). "
            f"Server logs: {', '.join(str(p) for p in SERVER_LOGS) or 'none'}"
        ) from None


class Wire:
    """What went over a page's websocket, decoded with Streamlit's own protobuf classes.

    The exact signal that an interaction was answered: the browser sent a ``rerun_script`` request
    after it, and the server then finished a script run. The root element's
    ``data-test-script-state`` is not enough: when the run is short or the browser busy, React
    commits "running" and "notRunning" in one render and the attribute never changes (seen in the
    load test: the server ran the click's rerun in 100 ms, the attribute stayed ``notRunning``).
    Works with the sync and the async Playwright API (the handlers are plain functions). Attach it
    before the page opens its websocket.
    """

    def __init__(self, page) -> None:
        self.reruns_sent = 0
        self.requests_before_last_finish = 0  # rerun requests sent before the latest finished run
        self.recent: list[str] = []  # the latest message kinds (not deltas or heartbeats), timed
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _note(self, text: str) -> None:
        self.recent = [*self.recent[-11:], f"{time.monotonic():.2f} {text}"]

    def _sent(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        kind = BackMsg.FromString(payload).WhichOneof("type")
        if kind == "rerun_script":
            self.reruns_sent += 1
        if kind != "app_heartbeat":
            self._note(f"sent {kind}")

    def _received(self, payload) -> None:
        if not isinstance(payload, bytes):
            return
        msg = ForwardMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self.requests_before_last_finish = self.reruns_sent
        if kind == "session_status_changed":
            kind += f"(running={msg.session_status_changed.script_is_running})"
        if kind not in ("delta", "heartbeat_ack"):
            self._note(f"got {kind}")

    def mark(self) -> int:
        """Call before an interaction; pass the result to ``answered``."""
        return self.reruns_sent

    def answered(self, mark: int) -> bool:
        """A rerun was requested after ``mark`` and a script run finished after that request."""
        return self.requests_before_last_finish > mark

    def describe(self, mark: int) -> str:
        sent = self.reruns_sent - mark
        return (
            f"{sent} rerun request(s) sent since the interaction, "
            f"{'a' if self.answered(mark) else 'no'} script run finished after one; "
            f"last messages: {'; '.join(self.recent) or 'none'}"
        )


@contextmanager
def expect_rerun(page: Page, wire: Wire, timeout: float = 30000) -> Iterator[None]:
    """Wrap an interaction that must rerun the script; on exit, wait until that run has finished.

    Stricter than wait_idle alone, which cannot tell "the rerun has not started yet" from "done"
    when the server is slow to answer:

        with expect_rerun(page, wire):
            page.get_by_label("Temperature").fill("2")
    """
    mark = wire.mark()
    yield
    deadline = time.monotonic() + timeout / 1000
    while not wire.answered(mark):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the interaction was not answered within {timeout / 1000:.0f} s: {wire.describe(mark)}"
            )
        page.wait_for_timeout(50)  # lets Playwright deliver the websocket events
    wait_idle(page, timeout=timeout)


def open_page(page: Page, base_url: str, url_path: str = "", timeout: float = 120000) -> None:
    """Navigate to ``base_url/url_path`` and wait until the page's script has finished running.

    The longer default timeout (ms) covers a first visit that loads a model into the shared cache.
    """
    page.goto(f"{base_url.rstrip('/')}/{url_path.lstrip('/')}", wait_until="domcontentloaded", timeout=timeout)
    wait_idle(page, timeout=timeout)


def streamlit_errors(page: Page) -> list[str]:
    """Texts of every exception box, compile error, and error alert that carries a traceback."""
    problems = []
    for box in page.locator('[data-testid="stException"]').all():
        problems.append("exception box: " + box.inner_text().strip())
    for alert in page.locator('[data-testid="stAlert"]').all():
        text = alert.inner_text()
        if "Traceback (most recent call last)" in text or 'File "' in text:
            problems.append("error with traceback: " + text.strip())
    # Streamlit 1.67 answers a deep link opened before the app's first run with this dialog (it makes
    # the page inert); a visitor would see it too, so it counts as an error.
    for dialog in page.get_by_role("dialog").filter(has_text="Page not found").all():
        problems.append("dialog: " + dialog.inner_text().strip())
    state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
    if state == "compilationError":
        problems.append("the page script failed to compile")
    connection = page.locator('[data-testid="stApp"]').get_attribute("data-test-connection-state")
    if connection not in ("CONNECTED", None):
        problems.append(f"lost the connection to the server (state {connection})")
    return problems
