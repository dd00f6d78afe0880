"""The sampler lab and the teacher's view in a real browser: the chart above the fold at 1280x720,
keyboard shortcuts, a downloaded CSV that matches core.generate, the text surviving a reload, and
the light / dark theme following the browser's preference. Texts are recomputed with core.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

import core
from tests.e2e.helpers import assert_no_streamlit_errors, screenshot, wait_idle
from tests.e2e.test_sampling_page import names, open_sampling, shown_text  # noqa: F401

pytestmark = pytest.mark.e2e
VIEWPORT_HEIGHT = 720


def chart_box(page: Page) -> dict:
    chart = page.locator(".st-key-sampling_distribution, [data-testid='stPlotlyChart']").first
    expect(chart).to_be_visible()
    return chart.bounding_box()


@pytest.mark.parametrize(
    "query, presses",
    [
        ("?seed=3&tokens=20", ["Finish (20)"]),
        ("?model=smollm2&prompt=The%20capital%20of%20France%20is&temperature=0.7&top_k=40&tokens=40", ["Finish (40)"]),
        ("?temperature=0.8&top_k=8&min_p=0.05&repetition=1.3&order=llama.cpp", ["Next token", "Draw N times"]),
    ],
)
def test_the_chart_is_above_the_fold_with_the_sidebar_open(page: Page, server: str, query: str, presses: list[str]):
    open_sampling(page, server, query)
    for label in presses:
        page.get_by_role("button", name=label).first.click()
        wait_idle(page, timeout=120000)
    expect(page.get_by_test_id("stSidebar")).to_be_visible()
    box = chart_box(page)
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_HEIGHT, f"chart at {box}"
    strip = page.locator(".st-key-sampling_strip").bounding_box()
    assert strip["y"] + strip["height"] <= box["y"] + 1, "the text strip overlaps the chart"
    assert_no_streamlit_errors(page)


def test_keyboard_shortcuts_drive_the_demo(page: Page, server: str, names):  # noqa: F811
    open_sampling(page, server, "?seed=8&tokens=20")
    expected = [s.token for s in core.generate(names, "", 20, seed=8)]
    page.get_by_role("heading", level=1).click()  # focus on the page, not on a text field
    for n in (1, 2, 3):
        page.keyboard.press("n")
        wait_idle(page)
        assert shown_text(page) == "".join(expected[:n])
    page.keyboard.press("b")
    wait_idle(page)
    assert shown_text(page) == "".join(expected[:2])
    page.keyboard.press("p")
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=20000)
    page.keyboard.press("p")
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=20000)
    wait_idle(page)
    page.keyboard.press("0")
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Step 1, before the draw"))).to_be_visible()
    # typing in the prompt box types letters; it does not press buttons
    box = page.get_by_test_id("stSidebar").get_by_role("textbox").first
    box.click()
    box.type("np")
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    assert_no_streamlit_errors(page)


def test_history_csv_download_matches_generate_and_reload_keeps_the_text(page: Page, server: str, names):  # noqa: F811
    open_sampling(page, server, "?seed=4&tokens=6&temperature=0.9")
    page.get_by_role("button", name="Finish (6)").click()
    wait_idle(page)
    steps = list(core.generate(names, "", 6, core.SamplingSettings(0.9), seed=4))
    page.get_by_text("Share and export").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the history (CSV)").click()
    download = info.value
    assert download.suggested_filename == "sampling-names-seed4.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [int(r["token_id"]) for r in rows] == [s.token_id for s in steps]
    assert [float(r["p_model"]) for r in rows] == pytest.approx([float(s.stages.raw[s.token_id]) for s in steps])
    assert [float(r["p_temperature"]) for r in rows] == pytest.approx(
        [float(s.stages.final[s.token_id]) for s in steps]
    )
    text = shown_text(page)
    assert "text=" in page.url
    page.reload()
    wait_idle(page)
    assert shown_text(page) == text  # F5 keeps the text
    assert_no_streamlit_errors(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_browser_and_the_lab_is_screenshotted(browser, server: str, scheme: str):
    context = browser.new_context(viewport={"width": 1280, "height": VIEWPORT_HEIGHT}, color_scheme=scheme)
    try:
        page = context.new_page()
        open_sampling(page, server, "?temperature=1.3&top_k=10&min_p=0.02&presence=0.5&seed=2")
        background = page.get_by_test_id("stApp").evaluate("el => getComputedStyle(el).backgroundColor")
        rgb = [int(v) for v in background[background.index("(") + 1 : background.index(")")].split(",")[:3]]
        assert (sum(rgb) / 3 < 80) == (scheme == "dark"), f"{scheme}: background {background}"
        for _ in range(3):
            page.get_by_role("button", name="Next token").click()
            wait_idle(page)
        page.get_by_role("button", name="Draw N times").click()
        wait_idle(page)
        screenshot(page, f"sampler-lab-{scheme}", full_page=False)
        page.get_by_test_id("stMain").get_by_text("Presenter view").click()
        wait_idle(page)
        screenshot(page, f"sampler-lab-presenter-{scheme}", full_page=False)
        assert_no_streamlit_errors(page)
    finally:
        context.close()


def test_home_has_its_declared_path(page: Page, server: str):
    """/home (the home page's url_path) opens the home page, not "Page not found"."""
    page.goto(f"{server}/home")
    expect(page.get_by_role("heading", level=1).first).to_contain_text("Chain Rule Lab", timeout=60000)
    wait_idle(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    assert_no_streamlit_errors(page)
