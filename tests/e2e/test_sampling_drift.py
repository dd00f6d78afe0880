"""The Live sampling page's "Drift, side by side" in a real browser: switched on, both strips show, and their
text is what core.generate draws without and with the forced token (computed here, in the test process)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

import core
from core.figures.sampling import tile_text
from core.lessons.drift import surviving_tokens
from core.text.language_model import context_ids
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "ROMEO:\n"


def strip_text(page: Page, key: str) -> str:
    """The tiles of one strip as the browser shows them (the label before the colon dropped)."""
    box = page.locator(f".st-key-{key}")
    expect(box).to_be_visible()
    text = box.inner_text()
    return text.split("): ", 1)[1].replace("\u200b", "").replace("\n", "")


def tiles(lm: core.TextModel, steps) -> str:
    return "".join(tile_text(lm.vocab, s.token_id) for s in steps)


def test_drift_strips_show_core_generate_with_and_without_the_forced_token(page: Page, server: str):
    lm = core.load_text_model("shakespeare")
    settings = core.SamplingSettings(0.8)
    open_page(page, server, "")  # a fresh server maps its first request by the pages/ folder
    open_page(page, server, "sampling?model=shakespeare&prompt=ROMEO%3A%0A&seed=2&temperature=0.8&drift_tokens=12")
    heading = page.get_by_role("heading", name="Drift, side by side")
    heading.scroll_into_view_if_needed()
    page.get_by_text("Draw both continuations").click()
    wait_idle(page, timeout=60000)
    forced = surviving_tokens(lm, context_ids(lm, PROMPT), settings)[-1]  # the default pick
    assert strip_text(page, "drift_strip_a") == tiles(lm, core.generate(lm, PROMPT, 12, settings, 2))
    assert strip_text(page, "drift_strip_b") == tiles(lm, core.generate(lm, PROMPT, 12, settings, 2, first=forced))
    expect(page.locator(".st-key-drift_chart")).to_be_visible()

    typed = page.get_by_role("textbox", name="…or type any token")
    typed.fill("Z")
    typed.press("Enter")
    wait_idle(page, timeout=60000)
    z = lm.vocab.stoi["Z"]
    assert strip_text(page, "drift_strip_b") == tiles(lm, core.generate(lm, PROMPT, 12, settings, 2, first=z))
    assert strip_text(page, "drift_strip_b").startswith("Z")

    typed.fill("ZZ")
    typed.press("Enter")
    wait_idle(page, timeout=60000)
    expect(page.get_by_text("That token cannot be forced.")).to_be_visible()
    expect(page.locator(".st-key-drift_strip_b")).to_have_count(0)
    assert_no_streamlit_errors(page)
