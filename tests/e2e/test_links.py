"""Every page is a link, in a real browser: the address bar holds the page's state (a bound widget writes
it), F5 brings back the same widgets and figures, a hostile link opens with a note, and a fresh server
answers a deep link inside the app. A long paste is cut to the box's limit, and says so."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import Page, expect

from benchmarks.common import stop_process_group
from core.lessons.page_state import Text, linked_fields, to_query
from core.lessons.states import AttentionState, ChainRuleState, PixelState, SamplingState, TrainingState
from tests.e2e.conftest import start_server
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, wait_idle

pytestmark = pytest.mark.e2e
LOAD_MS = 180_000

STATES = {
    "chain_rule": ChainRuleState(
        cr_unit="bits", cr_factor_0=0.25, cr_ledger_model="shakespeare", cr_ledger_text="ROMEO:"
    ),
    "attention": AttentionState(attention_model="names-leaky", attention_text="isabella", attention_layer=3),
    "sampling": SamplingState(model="shakespeare", prompt="ROMEO:", temperature=0.7, top_k=5, seed=42),
    "training": TrainingState(training_source="shakespeare", training_layers=3, training_seed=7),
    "pixelcnn": PixelState(pcnn_raster_i=30, pcnn_rf_row=20, pcnn_l_index=7, pcnn_l_dx=-2),
}
# One control per page a student moves, and the query value it must write: (key, how, value in the link)
MOVES = {
    "chain_rule": ("cr_unit", "click:bits", "bits"),
    "attention": ("attention_model", "click:names-leaky", "names-leaky"),
    "sampling": ("temperature", "key:ArrowRight", "1.01"),
    "training": ("training_source", "click:shakespeare", "shakespeare"),
    "pixelcnn": ("pcnn_raster_i", "key:ArrowRight", "11"),
}

_FIGURES_JS = "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => JSON.stringify(p.data))"


def query_of(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query, keep_blank_values=True).items()}


def widget_text(page: Page, key: str) -> str:
    """What a widget shows: its visible text and the values of its inputs."""
    box = page.locator(f".st-key-{key}").first
    values = box.locator("input, textarea").evaluate_all("els => els.map(e => e.value)")
    return box.inner_text() + "|" + json.dumps(values)


def fingerprint(page: Page, state) -> tuple:
    keys = [f.name for f in linked_fields(type(state)) if page.locator(f".st-key-{f.name}").count()]
    return {k: widget_text(page, k) for k in keys}, page.evaluate(_FIGURES_JS)


@pytest.mark.parametrize("url_path", list(STATES))
def test_a_link_opens_the_page_in_its_state_and_f5_keeps_it(page: Page, server: str, url_path: str):
    state = STATES[url_path]
    query = to_query(state)
    open_page(page, server, "", timeout=LOAD_MS)  # a fresh server resolves deep links once app.py has run
    open_page(page, server, f"{url_path}?{urlencode(query)}", timeout=LOAD_MS)
    assert_no_streamlit_errors(page)
    assert query_of(page) == {**query_of(page), **query}  # the address bar reproduces what is on screen
    before = fingerprint(page, state)
    for name, value in query.items():
        if page.locator(f".st-key-{name}").count():
            shown = widget_text(page, name)
            assert value in shown or value.replace(".0", "") in shown or name.endswith(("_unit", "_model")), (
                name,
                shown,
            )
    page.reload(wait_until="domcontentloaded")
    wait_idle(page, timeout=LOAD_MS)
    assert query_of(page) == {**query_of(page), **query}
    assert fingerprint(page, state) == before  # F5: the same widgets, the same figures


@pytest.mark.parametrize("url_path", list(MOVES))
def test_moving_a_control_writes_the_address_bar(page: Page, server: str, url_path: str):
    key, how, expected = MOVES[url_path]
    open_page(page, server, "", timeout=LOAD_MS)
    open_page(page, server, url_path, timeout=LOAD_MS)
    assert key not in query_of(page)  # a default stays out of the link
    box = page.locator(f".st-key-{key}").first
    kind, what = how.split(":")
    if kind == "click":
        box.get_by_text(what, exact=True).first.click()
    else:
        box.get_by_role("slider").first.focus()
        page.keyboard.press(what)
    wait_idle(page, timeout=LOAD_MS)
    expect(page).to_have_url(re.compile(rf"[?&]{key}={re.escape(expected)}(&|$)"))
    page.reload(wait_until="domcontentloaded")
    wait_idle(page, timeout=LOAD_MS)
    assert query_of(page).get(key) == expected
    assert_no_streamlit_errors(page)


@pytest.mark.parametrize("url_path", list(STATES))
def test_a_hostile_link_opens_with_a_note_and_a_clean_address(page: Page, server: str, url_path: str):
    """1e999 in an integer box crashes Streamlit 1.67's own URL seeding: the rules read the link first."""
    fields = [f.name for f in linked_fields(type(STATES[url_path])) if not isinstance(f.metadata["rule"], Text)]
    open_page(page, server, "", timeout=LOAD_MS)
    open_page(page, server, f"{url_path}?" + urlencode({name: "1e999" for name in fields}), timeout=LOAD_MS)
    assert_no_streamlit_errors(page)
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("in the link")
    assert "1e999" not in page.url  # nothing unusable stays in the address bar


def test_a_fresh_server_opens_a_deep_link_inside_the_app(page: Page):
    """The very first request of a new server is /sampling?seed=3 (pages.navigation.require_app)."""
    proc, base = start_server(name="fresh-deep-link")
    try:
        page.goto(f"{base}/sampling?seed=3", wait_until="domcontentloaded", timeout=LOAD_MS)
        wait_idle(page, timeout=LOAD_MS)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Live sampling")
        expect(page.get_by_test_id("stSidebarNav")).to_contain_text("Chain rule")  # inside the app's navigation
        assert page.locator(".st-key-seed input").input_value() == "3"
        assert_no_streamlit_errors(page)
    finally:
        stop_process_group(proc)


def test_a_long_paste_is_cut_to_the_limit_and_says_so(browser, server: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 720}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    try:
        open_page(page, server, "", timeout=LOAD_MS)
        open_page(page, server, "chain_rule", timeout=LOAD_MS)
        box = page.locator(".st-key-cr_ledger_text input")
        page.evaluate("text => navigator.clipboard.writeText(text)", "ab" * 2500)  # 5,000 characters
        box.click()
        box.press("Control+a")
        box.press("Control+v")
        box.press("Enter")
        wait_idle(page, timeout=LOAD_MS)
        expect(page.get_by_test_id("stAlertContentInfo").filter(has_text="only the first 1,000")).to_be_visible()
        assert len(box.input_value()) == 1000
        assert_no_streamlit_errors(page)
    finally:
        context.close()
