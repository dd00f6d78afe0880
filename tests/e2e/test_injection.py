"""No injection in a real browser: HTML and script typed into every text box stays text.

Each payload is typed into every text box of the chain-rule, attention and sampling pages (and
put in the sampling page's link). The test records every JavaScript dialog the page opens (an
executed ``alert`` would open one), checks that no element the payload describes exists in the
DOM, and that the page answers with its vocabulary error instead of an exception.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PAYLOADS = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
# (url path, heading, [(label, is_text_area)]) for every text box of the pages
BOXES = [
    ("chain_rule", "Chain rule", [("Text to score", False), ("A string to judge", False)]),
    (
        "attention",
        "Attention and causality",
        [("Text the model reads", True), ("A name to probe (this section and the next)", False)],
    ),
    ("sampling", "Live sampling", [("Prompt", True)]),
]
VOCAB_ERROR = r"not in (the model's|its) vocabulary"

_INJECTED_JS = """
() => ({
  images: document.querySelectorAll('img[src="x"], img[onerror]').length,
  scripts: [...document.scripts].filter(s => s.textContent.includes('alert(')).length,
  handlers: document.querySelectorAll('[onerror], [onload]:not(body):not(iframe)').length,
})
"""


def assert_not_injected(page: Page, dialogs: list[str]) -> None:
    assert dialogs == [], f"the page opened JavaScript dialogs: {dialogs}"
    found = page.evaluate(_INJECTED_JS)
    assert found == {"images": 0, "scripts": 0, "handlers": 0}, found


def submit(page: Page, label: str, text: str, is_text_area: bool) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Control+Enter" if is_text_area else "Enter")  # text_area submits on Ctrl+Enter
    wait_idle(page)
    expect(box).to_have_value(text)  # the payload is kept as literal text in the box


def test_typed_html_and_script_stay_text(page: Page, server: str):
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    open_page(page, server)  # a fresh server resolves deep links only after app.py has run once
    for url_path, heading, boxes in BOXES:
        open_page(page, server, url_path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        for label, is_text_area in boxes:
            for payload in PAYLOADS:
                submit(page, label, payload, is_text_area)
                # the names vocabulary has no '<': the page says so, listing the characters as text
                alerts = page.get_by_test_id("stAlert").filter(has_text=re.compile(VOCAB_ERROR))
                expect(alerts.first).to_be_visible()
                expect(alerts.first).to_contain_text("'<'")
                assert_not_injected(page, dialogs)
                assert_no_streamlit_errors(page)
        alerts.first.scroll_into_view_if_needed()  # the shot shows the message about the last payload
        screenshot(page, f"injection-{url_path}", full_page=False)

    # the same payloads arriving through a shared link
    query = "&".join(f"{k}={quote(v)}" for k, v in (("prompt", PAYLOADS[0]), ("model", PAYLOADS[1])))
    open_page(page, server, f"sampling?{query}")
    warning = page.get_by_test_id("stAlert").filter(has_text="Ignored model=")
    expect(warning).to_contain_text(f"Ignored model='{PAYLOADS[1]}'")  # repeated back literally
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(PAYLOADS[0])
    assert_not_injected(page, dialogs)
    assert_no_streamlit_errors(page)
    screenshot(page, "injection-sampling-link", full_page=False)
    wait_idle(page)
