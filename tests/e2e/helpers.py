"""Helpers for browser tests: open a page, wait for Streamlit to finish, check for errors, screenshot.

Streamlit marks its root element ``[data-testid=stApp]`` with ``data-test-script-state``
(``initial``, ``running``, ``rerunRequested``, ``notRunning``, ``compilationError``) and
``data-test-connection-state``; waiting on those is exact, where sleeping is flaky.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Filled by conftest with the live servers' log files, so a failure message can point at the traceback.
SERVER_LOGS: list[Path] = []

# How long the app must stay idle before we call it finished: covers the round trip between a widget
# change in the browser and the server announcing the rerun it triggers (a few ms on localhost).
QUIET_MS = 400

_IDLE_JS = """
([quietMs]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app !== null
    && ['notRunning', 'compilationError'].includes(app.getAttribute('data-test-script-state'))
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') === null
    && document.querySelector('[data-testid="stElementContainer"][data-stale="true"]') === null
    && document.querySelector('[data-testid="stSkeleton"]') === null;
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
        page.wait_for_function(_IDLE_JS, arg=[QUIET_MS], timeout=timeout, polling=100)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"Streamlit did not finish running within {timeout / 1000:.0f} s at {page.url} ({_state(page)}). "
            f"Server logs: {', '.join(str(p) for p in SERVER_LOGS) or 'none'}"
        ) from None


_COUNT_RUNS_JS = """
() => {
  window.__e2eRuns = 0;
  if (window.__e2eRunObserver) window.__e2eRunObserver.disconnect();
  const app = document.querySelector('[data-testid="stApp"]');
  window.__e2eRunObserver = new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.getAttribute('data-test-script-state') === 'running') window.__e2eRuns += 1;
    }
  });
  window.__e2eRunObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}
"""


@contextmanager
def expect_rerun(page: Page, timeout: float = 30000) -> Iterator[None]:
    """Wrap an interaction that must rerun the script; on exit, wait until that run has finished.

    Stricter than wait_idle alone, which cannot tell "the rerun has not started yet" from "done"
    when the server is slow to answer:

        with expect_rerun(page):
            page.get_by_label("Temperature").fill("2")
    """
    page.evaluate(_COUNT_RUNS_JS)
    yield
    try:
        page.wait_for_function("() => window.__e2eRuns > 0", timeout=timeout, polling=50)
    except PlaywrightTimeoutError:
        raise AssertionError(f"the interaction did not rerun the script within {timeout / 1000:.0f} s") from None
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


def assert_no_streamlit_errors(page: Page) -> None:
    """Fail with the error texts if Streamlit shows an exception or a traceback on the page.

    Plain ``st.error``/``st.warning`` messages without a traceback are allowed: they are how pages
    report user mistakes and missing models.
    """
    problems = streamlit_errors(page)
    if problems:
        logs = ", ".join(str(p) for p in SERVER_LOGS) or "none"
        details = "\n---\n".join(p[:2000] for p in problems)
        raise AssertionError(
            f"Streamlit shows {len(problems)} error(s) at {page.url}:\n{details}\n"
            f"(client.showErrorDetails hides the traceback in the browser; it is in the server log: {logs})"
        )


# Streamlit scrolls inside its own containers (main area and sidebar), not the document, so a
# "full page" screenshot means growing the viewport until neither container needs to scroll.
_NEEDED_HEIGHT_JS = """
() => {
  const extra = (sel) => {
    const el = document.querySelector(sel);
    return el === null ? 0 : Math.max(0, el.scrollHeight - el.clientHeight);
  };
  return window.innerHeight + Math.max(extra('[data-testid="stMain"]'), extra('[data-testid="stSidebarContent"]'));
}
"""
_TWO_FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
MAX_SCREENSHOT_HEIGHT = 16000  # px; Chromium cannot capture much taller images


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save a PNG to test-artifacts/<name>.png and return its path.

    ``full_page`` captures the whole scrollable main area and sidebar (the viewport is grown for the
    shot, then restored with its scroll position); ``full_page=False`` captures the visible viewport.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    viewport = page.viewport_size
    if not full_page or viewport is None:
        page.screenshot(path=str(path))
        return path
    main = page.locator('[data-testid="stMain"]')
    scroll_top = main.evaluate("el => el.scrollTop") if main.count() else 0
    try:
        for _ in range(3):  # growing the page can reflow it taller (e.g. width-dependent charts)
            needed = min(page.evaluate(_NEEDED_HEIGHT_JS), MAX_SCREENSHOT_HEIGHT)
            if needed <= page.viewport_size["height"]:
                break
            page.set_viewport_size({"width": viewport["width"], "height": needed})
            page.evaluate(_TWO_FRAMES_JS)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(viewport)
        page.evaluate(_TWO_FRAMES_JS)
        if main.count():
            main.evaluate("(el, top) => { el.scrollTop = top; }", scroll_top)
    return path
