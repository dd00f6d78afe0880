"""The tour in a real browser, from the keyboard alone: → walks every step (each its own URL), ← goes back,
F5 keeps the step, and every step's "Open" link lands on its page in the stated state."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from core.lessons.tour import STEPS
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
LOAD_MS = 180_000


def heading(page: Page, k: int):
    return page.get_by_role("heading", name=f"{k}. {STEPS[k - 1].title}")


def test_the_keyboard_walks_the_whole_tour_and_reload_keeps_the_step(page: Page, server: str):
    open_page(page, server, "tour", timeout=LOAD_MS)
    expect(heading(page, 1)).to_be_visible()
    for k in range(2, len(STEPS) + 1):
        page.locator("body").press("ArrowRight")
        expect(heading(page, k)).to_be_visible(timeout=60_000)
        expect(page).to_have_url(re.compile(rf"tour_step={k}\b"))
        wait_idle(page, timeout=LOAD_MS)
        assert_no_streamlit_errors(page)
    page.locator("body").press("ArrowLeft")
    expect(heading(page, len(STEPS) - 1)).to_be_visible(timeout=60_000)
    wait_idle(page, timeout=LOAD_MS)
    page.reload()
    wait_idle(page, timeout=LOAD_MS)
    expect(heading(page, len(STEPS) - 1)).to_be_visible()
    screenshot(page, "tour-step")


SCENES = [(k, s.scene) for k, s in enumerate(STEPS, start=1) if s.scene is not None]


@pytest.mark.parametrize("k,scene", SCENES, ids=[f"step{k}" for k, _ in SCENES])
def test_a_step_opens_its_page_in_the_stated_state(page: Page, server: str, k, scene):
    open_page(page, server, f"tour?tour_step={k}", timeout=LOAD_MS)
    expect(heading(page, k)).to_be_visible(timeout=60_000)  # a first visit may rerun once (require_app)
    wait_idle(page, timeout=LOAD_MS)
    page.get_by_role("link", name=f"Open {scene.title}").click()
    page.wait_for_url(re.compile(rf"/{scene.page}(\?|$)"))
    wait_idle(page, timeout=LOAD_MS)
    assert_no_streamlit_errors(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="in the link")).to_have_count(0)
    query = {key: v[-1] for key, v in parse_qs(urlparse(page.url).query).items()}
    for key, value in scene.query().items():
        assert query.get(key) == value, (key, query)
