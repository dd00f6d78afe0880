"""Helpers for browser tests: open a page, wait for Streamlit to finish, check for errors, screenshot.

Waiting and reading the websocket (``wait_idle``, ``Wire``, ``expect_rerun``) live in
``benchmarks/page_driver.py``, shared with the browser benchmarks: tests import benchmarks, never
the other way round.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from benchmarks.page_driver import (  # noqa: F401 (re-exported for the tests)
    QUIET_MS,
    SERVER_LOGS,
    Wire,
    expect_rerun,
    open_page,
    streamlit_errors,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


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
