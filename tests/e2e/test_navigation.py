"""The app as a visitor meets it: a live server, headless Chromium, every lesson reached from the sidebar."""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Page, expect

from pages.navigation import PageInfo, existing_pages
from tests.e2e.helpers import ROOT, assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

LESSONS = existing_pages(ROOT)
THEMES = ["light", "dark"]
README_SCREENSHOT = ROOT / "docs" / "home.png"
# A lesson's first visit loads its models into the shared cache; on a busy 2-core CI machine that
# has taken over a minute, so the wait is generous (it only costs time when something is broken).
FIRST_LOAD_MS = 180_000


def _base_url(request: pytest.FixtureRequest, theme: str) -> str:
    return request.getfixturevalue("server" if theme == "light" else "dark_server")


def _nav_link(page: Page, url_path: str):
    """The sidebar navigation link whose href ends in /<url_path>."""
    return page.get_by_test_id("stSidebarNav").locator(f'a[data-testid="stSidebarNavLink"][href$="/{url_path}"]')


@pytest.mark.parametrize("theme", THEMES)
def test_home_page_loads(page: Page, request: pytest.FixtureRequest, theme: str):
    open_page(page, _base_url(request, theme))
    expect(page.get_by_role("heading", level=1)).to_have_text("Chain Rule Lab")
    # The chain-rule identity is typeset by KaTeX, not left as raw LaTeX source.
    expect(page.locator('[data-testid="stMarkdownContainer"] .katex').first).to_be_visible()
    assert_no_streamlit_errors(page)
    screenshot(page, f"home-{theme}")


def test_sidebar_lists_exactly_the_existing_lessons(page: Page, server: str):
    open_page(page, server)
    if not LESSONS:  # a single page gets no navigation at all
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        return
    hrefs = (
        page.get_by_test_id("stSidebarNav")
        .locator('a[data-testid="stSidebarNavLink"]')
        .evaluate_all("links => links.map(a => new URL(a.href).pathname.replace(/^\\//, ''))")
    )
    # The default page (home) is served at the root path.
    assert sorted(hrefs) == sorted(["", *[info.url_path for info in LESSONS]])


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("info", LESSONS, ids=[info.url_path for info in LESSONS])
def test_lesson_opens_from_sidebar(page: Page, request: pytest.FixtureRequest, theme: str, info: PageInfo):
    base_url = _base_url(request, theme)
    open_page(page, base_url, timeout=FIRST_LOAD_MS)
    _nav_link(page, info.url_path).click()
    page.wait_for_url(re.compile(rf"/{re.escape(info.url_path)}$"))
    wait_idle(page, timeout=FIRST_LOAD_MS)
    # The lesson's h1 carries its navigation title (case-insensitive, may say more).
    expect(page.get_by_role("heading", level=1).first).to_contain_text(info.title, ignore_case=True)
    assert_no_streamlit_errors(page)
    screenshot(page, f"{info.url_path}-{theme}")


def test_readme_screenshot(page: Page, server: str):
    """docs/home.png, embedded by the README: the home page at 1280x720, light theme."""
    open_page(page, server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Chain Rule Lab")
    assert_no_streamlit_errors(page)
    shot = screenshot(page, "readme-home", full_page=False)
    new = Image.open(shot).convert("RGB")
    assert new.size == (1280, 720)
    # Rewrite the committed file only when the picture changed, so test runs leave git clean.
    if README_SCREENSHOT.exists():
        old = Image.open(README_SCREENSHOT).convert("RGB")
        if old.size == new.size and ImageChops.difference(old, new).getbbox() is None:
            return
    README_SCREENSHOT.parent.mkdir(exist_ok=True)
    new.save(README_SCREENSHOT, optimize=True)
