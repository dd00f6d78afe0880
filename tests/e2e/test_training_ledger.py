"""The Training page's "loss is the ledger" section in a real browser: the two numbers agree with each other
and with core for the batch drawn, another batch seed (in the link) draws another batch, the heatmap hovers."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

import core
from core.lessons.loss_ledger import draw_batch, loss_ledger
from core.text.live_training import NAMES_BLOCK, prepare
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, wait_idle

pytestmark = pytest.mark.e2e


def two_numbers(page: Page) -> tuple[str, str]:
    metric = page.get_by_test_id("stMetric")
    mean = metric.filter(has_text="Mean of the heatmap").get_by_test_id("stMetricValue").inner_text()
    loss = metric.filter(has_text="The loss the optimizer sees").get_by_test_id("stMetricValue").inner_text()
    return mean.strip(), loss.strip()


def core_loss(seed: int) -> str:
    lm = core.load_text_model("names")
    ledger = loss_ledger(lm, *draw_batch(prepare("names", NAMES_BLOCK), 8, seed, "training", NAMES_BLOCK))
    return f"{ledger.loss:.4f} nats"


def test_the_loss_is_the_ledger_in_the_browser(page: Page, server: str):
    open_page(page, server, "")
    open_page(page, server, "training", timeout=120000)
    heading = page.get_by_role("heading", name="The loss is the ledger")
    heading.scroll_into_view_if_needed()
    expect(heading).to_be_visible()
    assert two_numbers(page) == (core_loss(0), core_loss(0))
    seed_box = page.get_by_role("spinbutton", name="Batch seed")
    seed_box.fill("7")
    seed_box.press("Enter")
    wait_idle(page)
    assert two_numbers(page) == (core_loss(7), core_loss(7)) != (core_loss(0), core_loss(0))
    assert "training_ledger_seed=7" in page.url
    chart = page.get_by_test_id("stPlotlyChart").last
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)  # the first cell: example 1, position 1
    expect(page.locator(".hovertext").first).to_contain_text("example 1, position 1")
    expect(page.locator(".hovertext").first).to_contain_text("next token")
    assert_no_streamlit_errors(page)
