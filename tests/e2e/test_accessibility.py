"""Every page, light and dark, passes axe-core with no serious or critical violation.

axe-core runs inside the page (bundled by ``axe-playwright-python``) after Streamlit has finished
the page's script. Three things are left out of the check, each because we cannot fix it in our code:

- Streamlit's sidebar navigation puts ``<div>`` wrappers between its ``<ul>`` and ``<li>`` items
  (rules ``list`` and ``listitem``). The navigation is checked on its own with every other rule.
- A disabled widget is drawn faded by Streamlit; WCAG 1.4.3 exempts inactive controls from the
  contrast minimum, but axe cannot tell that Streamlit's ``<div>`` labels belong to a disabled control.
- Dark theme only: Streamlit uses the one primary colour both behind white button text and as text
  on the dark background (slider values, the chosen segment of a segmented control). No colour is
  4.5:1 against both white (needs relative luminance <= 0.18) and our dark background (needs >= 0.21),
  so the primary stays readable on buttons and its use as text is not counted here.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from pages.navigation import existing_pages
from tests.e2e.helpers import ROOT, open_page, wait_idle

pytestmark = pytest.mark.e2e

URL_PATHS = ["", *[info.url_path for info in existing_pages(ROOT)]]  # "" is the home page
THEMES = ["light", "dark"]
BLOCKING = {"serious", "critical"}
FIRST_LOAD_MS = 180_000  # a page's first visit may load its models (see test_navigation.py)
NAV = "[data-testid='stSidebarNav']"
DARK_PRIMARY = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]["dark"]["primaryColor"]

# True when the element at the selector sits in a widget Streamlit shows disabled.
_IN_DISABLED_WIDGET_JS = """
sel => {
  const el = document.querySelector(sel);
  const box = el && el.closest('[data-testid="stElementContainer"], .stElementContainer');
  return !!(box && box.querySelector(':disabled, [aria-disabled="true"], [data-disabled="true"], [data-disabled=""]'));
}
"""


def _is_settled(page: Page) -> bool:
    """No rerun under way and no element faded as stale (axe would measure the faded colours)."""
    return page.evaluate(
        """() => document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') === 'notRunning'
              && document.querySelectorAll('[data-stale="true"]').length === 0"""
    )


def _blocking(page: Page, violations: list[dict], theme: str) -> list[str]:
    """One line per serious or critical node we are responsible for (see the module docstring)."""
    lines = []
    for v in violations:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"]:
            target = node["target"]
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if v["id"] == "color-contrast":
                simple = len(target) == 1 and isinstance(target[0], str)
                if simple and page.evaluate(_IN_DISABLED_WIDGET_JS, target[0]):
                    continue
                if theme == "dark" and f"foreground color: {DARK_PRIMARY.lower()}" in summary.lower():
                    continue
            lines.append(f"{v['id']} [{v['impact']}] {target} {node['html'][:160]!r}: {summary[-220:]}")
    return lines


def _scan(page: Page, theme: str) -> list[str]:
    """Run axe on a settled page (again if a rerun started meanwhile); the blocking lines."""
    axe = Axe()
    for _ in range(3):
        wait_idle(page, timeout=FIRST_LOAD_MS)
        main = axe.run(page, context={"exclude": [[NAV]]})
        violations = main.response["violations"]
        if page.locator(NAV).count():
            off = {"list": {"enabled": False}, "listitem": {"enabled": False}}
            nav = axe.run(page, context={"include": [[NAV]]}, options={"resultTypes": ["violations"], "rules": off})
            violations = violations + nav.response["violations"]
        if _is_settled(page):
            break
    return _blocking(page, violations, theme)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("url_path", URL_PATHS, ids=[p or "home" for p in URL_PATHS])
def test_page_has_no_serious_accessibility_violation(
    page: Page, request: pytest.FixtureRequest, theme: str, url_path: str
):
    base_url = request.getfixturevalue("server" if theme == "light" else "dark_server")
    open_page(page, base_url, url_path, timeout=FIRST_LOAD_MS)
    problems = _scan(page, theme)
    assert not problems, f"axe-core at /{url_path} ({theme}): {len(problems)} serious or critical:\n" + "\n".join(
        problems
    )


def _tab_to(page: Page, matches: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies the JS predicate ``matches`` (fails after ``limit``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!el && ({matches}); }}"):
            return
    raise AssertionError(f"Tab never reached an element with {matches} in {limit} presses")


def test_the_tour_works_with_tab_and_enter_alone(page: Page, server: str):
    """Without the mouse and without the arrow shortcuts: Tab reaches Next, Enter moves on a step, and
    Tab reaches the step's "Open" link, whose Enter opens the page it names."""
    open_page(page, server, "tour", timeout=FIRST_LOAD_MS)
    heading = page.get_by_role("heading", level=1).first
    first = heading.inner_text()
    _tab_to(page, "el.tagName === 'BUTTON' && el.innerText.trim().startsWith('Next')")  # "Next →"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"tour_step=2\b"), timeout=60_000)
    wait_idle(page, timeout=FIRST_LOAD_MS)
    assert heading.inner_text() != first and heading.inner_text().startswith("Tour 2. ")
    _tab_to(page, "el.getAttribute('data-testid') === 'stPageLink-NavLink' && el.innerText.includes('Open ')")
    target = page.evaluate("() => new URL(document.activeElement.href).pathname")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(target)), timeout=60_000)
    wait_idle(page, timeout=FIRST_LOAD_MS)
    assert target.strip("/") != "tour"
