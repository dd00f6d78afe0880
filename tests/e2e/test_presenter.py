"""Presenter view in a real browser at 1280x720: every lesson page opened with its flag in the link folds the
sidebar away, and its main chart, scrolled into view, lies inside the screen with every x-axis tick label (Live
sampling's without a scroll)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import VIEWPORT
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

# page: (link, the main chart's key)
PAGES = {
    "chain_rule": ("chain_rule?cr_presenter=true", "cr_waterfall"),
    "attention": ("attention?attention_presenter=true", "attention_mask_fig"),
    "sampling": ("sampling?presenter=true&model=shakespeare&seed=3&prompt=The%20best%20of", "sampling_distribution"),
    "training": ("training?training_presenter=true&training_kind=mlp&training_steps=100", "training_curve_fig"),
    "pixelcnn": ("pixelcnn?pcnn_presenter=true", "pcnn_raster_fig"),
    "tour": ("tour?tour_presenter=true&tour_step=1", "tour_worked"),
}
OPEN_ON_SCREEN = {"sampling"}  # the other pages' main charts come after their first controls: scrolled to
BOXES_JS = "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"


def sidebar_shown(page: Page) -> bool:
    box = page.get_by_test_id("stSidebar").bounding_box()
    return box is not None and box["x"] + box["width"] > 0


def inside(box: list[float], slack: float = 1.0) -> bool:
    """Within the screen, give or take a sub-pixel (a scroll moves by whole pixels)."""
    left, top, right, bottom = box
    return (
        left >= -slack and top >= -slack and right <= VIEWPORT["width"] + slack and bottom <= VIEWPORT["height"] + slack
    )


@pytest.mark.parametrize("name", list(PAGES))
def test_the_main_chart_fits_the_screen_and_the_sidebar_is_folded(page: Page, server: str, name: str):
    link, key = PAGES[name]
    open_page(page, server, link)
    if name == "sampling":
        for _ in range(3):
            page.get_by_role("button", name="Next token").click()
            wait_idle(page)
    if name == "training":
        page.get_by_role("button", name="Train").click()
        page.wait_for_selector(f".st-key-{key} .xtick text", timeout=120000)
        wait_idle(page, timeout=120000)
    assert not sidebar_shown(page)
    assert page.get_by_test_id("stMain").get_by_text("Presenter view").is_visible()
    chart = page.locator(f".st-key-{key}")
    if name in OPEN_ON_SCREEN:  # the live demo's chart is whole on the screen as the page opens, unscrolled
        box = chart.bounding_box()
        assert box is not None and inside([box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]]), box
    chart.evaluate("e => e.scrollIntoView({block: 'nearest'})")  # wholly into view, if it fits
    page.wait_for_timeout(300)  # the scroll settles
    box = chart.bounding_box()
    assert box is not None and inside([box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]]), box
    ticks = page.locator(f".st-key-{key} .xtick text").evaluate_all(BOXES_JS)
    assert ticks, "the chart has x-axis tick labels"
    assert all(inside(t) for t in ticks), [t for t in ticks if not inside(t)]
    screenshot(page, f"presenter-{name}", full_page=False)
    assert_no_streamlit_errors(page)


def test_turning_presenter_view_off_brings_the_sidebar_back(page: Page, server: str):
    open_page(page, server, "chain_rule?cr_presenter=true")
    assert not sidebar_shown(page)
    page.get_by_test_id("stMain").get_by_text("Presenter view").click()
    wait_idle(page)
    page.wait_for_timeout(500)  # the sidebar slides in
    assert sidebar_shown(page)
    assert "cr_presenter" not in page.url
