"""The attention page in a real browser: every section renders its heatmaps, in both themes, without errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

THEMES = ["light", "dark"]
SECTIONS = [
    ("mask", "1. The causal mask"),
    ("toy", "Why masked weights are exactly 0"),
    ("learned", "2. Learned attention"),
    ("grid", "All heads of names"),
    ("peeking", "3. What peeking breaks"),
    ("samples", "Samples from names"),
    ("dependence", "4. Check causality, don't trust it"),
    ("families", "The same check on networks without attention"),
]
# mask, full pattern, 3 toy matrices, head heatmap, grid, curves, 2 dependence maps, 4 families' maps
N_CHARTS = 14


def _base_url(request: pytest.FixtureRequest, theme: str) -> str:
    return request.getfixturevalue("server" if theme == "light" else "dark_server")


def _open_attention(page: Page, base_url: str) -> None:
    """Deep-link to the lesson, as a shared link or a bookmark does (on a fresh server too)."""
    open_page(page, base_url, "attention")


def choose_model(page: Page, name: str) -> None:
    """Click a model's option in the Model radio (each option is the model's name over a caption)."""
    page.get_by_test_id("stRadio").get_by_text(name, exact=True).click()


def _scroll_to(page: Page, text: str) -> None:
    """Bring the element with ``text`` to the top of the viewport (Streamlit scrolls its main block)."""
    target = page.get_by_text(text, exact=True).first
    expect(target).to_be_visible()
    target.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # let plotly finish drawing what just came into view


@pytest.mark.parametrize("theme", THEMES)
def test_every_section_renders(page: Page, request: pytest.FixtureRequest, theme: str):
    _open_attention(page, _base_url(request, theme))
    expect(page.get_by_role("heading", level=1)).to_have_text("Attention and causality")
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Attention and causality")).to_be_visible()
    assert_no_streamlit_errors(page)
    expect(page.locator(".js-plotly-plot")).to_have_count(N_CHARTS, timeout=30000)
    # the causal check is stated as a number, and the causal dependence map is exactly 0 above the diagonal
    expect(page.get_by_text("are exactly 0.0: no prediction reads a later token")).to_be_visible()
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics.filter(has_text="names: max above the diagonal").first).to_contain_text("0 (exactly)")
    for name, text in SECTIONS:
        _scroll_to(page, text)
        screenshot(page, f"attention-{name}-{theme}", full_page=False)
    assert_no_streamlit_errors(page)


def test_bad_text_shows_a_message_and_the_page_keeps_working(page: Page, server: str):
    _open_attention(page, server)
    box = page.get_by_label("Text the model reads")
    box.fill("zoë!")
    box.press("Control+Enter")  # text_area submits on Ctrl+Enter
    wait_idle(page)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="not in the model's vocabulary")
    expect(alert).to_contain_text("'ë'")
    expect(alert).to_contain_text("abcdefghijklmnopqrstuvwxyz")
    assert_no_streamlit_errors(page)
    # the mask, the curves and both dependence maps are still drawn; only the learned attention waits
    expect(page.locator(".js-plotly-plot")).to_have_count(N_CHARTS - 2, timeout=30000)
    _scroll_to(page, "Text the model reads")
    screenshot(page, "attention-bad-text-light", full_page=False)


def test_selecting_a_head_in_the_browser(page: Page, server: str):
    _open_attention(page, server)
    head = page.get_by_role("combobox", name="Head")
    head.click()
    head.fill("3")  # Streamlit's selectbox filters its options as you type
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(head).to_have_value("3")
    assert_no_streamlit_errors(page)
    _scroll_to(page, "2. Learned attention")
    expect(page.locator(".js-plotly-plot").filter(has_text="names: layer 1, head 3")).to_have_count(1)
    screenshot(page, "attention-head3-light", full_page=False)


@pytest.mark.parametrize("theme", THEMES)
def test_shakespeare_heatmaps_stay_legible(page: Page, request: pytest.FixtureRequest, theme: str):
    _open_attention(page, _base_url(request, theme))
    choose_model(page, "shakespeare")
    wait_idle(page, timeout=60000)  # first load of the bigger model
    box = page.get_by_label("Text the model reads")
    expect(box).to_have_value(re.compile(r"^ROMEO:"))
    box.fill("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.")
    box.press("Control+Enter")
    wait_idle(page)
    assert_no_streamlit_errors(page)
    expect(page.get_by_text("heatmaps stay legible up to 32 tokens", exact=False)).to_be_visible()
    expect(page.get_by_text("All heads of shakespeare", exact=True)).to_be_visible()
    _scroll_to(page, "2. Learned attention")
    screenshot(page, f"attention-shakespeare-{theme}", full_page=False)
    _scroll_to(page, "All heads of shakespeare")
    screenshot(page, f"attention-shakespeare-grid-{theme}", full_page=False)


@pytest.mark.slow
def test_smollm2_attention_renders_in_the_browser(page: Page, server: str):
    _open_attention(page, server)
    choose_model(page, "smollm2")
    wait_idle(page, timeout=120000)  # first load of the LLM in this server: ~10 s
    assert_no_streamlit_errors(page)
    expect(page.get_by_label("Text the model reads")).to_have_value(re.compile(r"^The capital of France"))
    _scroll_to(page, "2. Learned attention")
    head_map = page.locator(".js-plotly-plot").filter(has_text="smollm2: layer 1, head 1 (kv head 1)")
    expect(head_map).to_have_count(1)
    expect(head_map.locator(".hm, .heatmaplayer image, image").first).to_be_attached()  # the heatmap is drawn
    expect(head_map).to_contain_text("␣Paris")  # BPE tokens with their leading space made visible
    expect(page.get_by_text("All 9 heads of layer 1", exact=True)).to_be_visible()
    expect(page.get_by_text("All 270 heads at a glance", exact=True)).to_be_visible()
    screenshot(page, "attention-smollm2-light", full_page=False)
    assert_no_streamlit_errors(page)
