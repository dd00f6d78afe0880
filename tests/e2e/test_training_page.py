"""The Training page in a real browser: train a small model on the names, watch it finish, use it on
Live sampling in the same browser session; screenshots of the live curves (light and dark).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def set_select_slider(page: Page, label: str, presses: int, key: str = "Home") -> None:
    """Move a select_slider from one end with the keyboard (Home, then ArrowRight ``presses`` times)."""
    slider = page.get_by_role("slider", name=re.compile(f"^{label}")).first
    slider.focus()
    page.keyboard.press(key)
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    wait_idle(page)


def test_train_a_model_and_sample_from_it(page: Page, server: str):
    open_page(page, server, "")
    open_page(page, server, "training", timeout=120000)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Training")
    set_select_slider(page, "Layers", 0)  # 1 layer
    set_select_slider(page, "Width", 0)  # 32 wide
    set_select_slider(page, "Steps", 0)  # 100 steps
    page.get_by_role("button", name="Train").first.click()
    expect(page.get_by_text(re.compile(r"^Step [\d,]+ / "))).to_be_visible(timeout=60000)
    expect(page.get_by_text(re.compile(r"Done.* after 100 steps"))).to_be_visible(timeout=120000)
    wait_idle(page)
    screenshot(page, "training-done-light", full_page=False)
    page.get_by_test_id("stPlotlyChart").first.scroll_into_view_if_needed()
    screenshot(page, "training-curves-light", full_page=False)
    page.get_by_role("button", name="Use this model on Live sampling").click()
    wait_idle(page)
    expect(page.get_by_text("Added for this browser session")).to_be_visible()
    # the same browser session: navigate in the app, not by loading a new page
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Live sampling").click()
    wait_idle(page, timeout=60000)
    sidebar = page.get_by_test_id("stSidebar")
    model_box = sidebar.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Model", exact=True))
    model_box.click()  # near the sidebar's bottom edge: a long option list is cut there, so type to filter it
    page.keyboard.type("my-model")
    page.get_by_role("option", name="my-model").click()
    wait_idle(page)
    expect(sidebar.get_by_text("your model from the Training page")).to_be_visible()
    page.get_by_role("button", name="Next token").first.click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"Step 1:"))).to_be_visible()
    assert_no_streamlit_errors(page)


def test_training_page_dark(browser, dark_server: str):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme="dark")
    try:
        page = context.new_page()
        open_page(page, dark_server, "")
        open_page(page, dark_server, "training", timeout=120000)
        page.get_by_text("bigram counts").click()
        wait_idle(page)
        page.get_by_role("button", name="Train").first.click()
        expect(page.get_by_text(re.compile(r"Done.* after 1 steps"))).to_be_visible(timeout=60000)
        wait_idle(page)
        screenshot(page, "training-bigram-dark", full_page=False)
        assert_no_streamlit_errors(page)
    finally:
        context.close()
