"""The lesson's close in a real browser: its takeaway links open their pages in the stated state."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from core.lessons.takeaways import TAKEAWAYS
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
LOAD_MS = 180_000
SCENES = [scene for t in TAKEAWAYS for scene in t.scenes if scene.query()]  # the links that state something


@pytest.mark.parametrize("scene", SCENES, ids=[s.title for s in SCENES])
def test_a_takeaway_link_opens_its_page_in_the_stated_state(page: Page, server: str, scene):
    open_page(page, server, "remember", timeout=LOAD_MS)
    expect(page.get_by_role("heading", level=1)).to_have_text("What to remember")
    assert_no_streamlit_errors(page)
    page.get_by_role("link", name=f"Open {scene.title}").click()
    page.wait_for_url(re.compile(rf"/{scene.page}\?"))
    wait_idle(page, timeout=LOAD_MS)
    assert_no_streamlit_errors(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="in the link")).to_have_count(0)  # no note: a good link
    query = {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}
    for key, value in scene.query().items():
        assert query.get(key) == value, (key, query)


def test_the_close_page_at_1280x720(page: Page, server: str):
    open_page(page, server, "remember", timeout=LOAD_MS)
    expect(page.locator(".st-key-takeaway_3")).to_be_visible()
    assert_no_streamlit_errors(page)
    screenshot(page, "remember-light")
