"""The Chain rule page in a real browser: type text, see the ledger update; screenshots in both themes."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import Page, expect

import core
from core.checkpoint import MODELS_DIR
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
torch.set_num_threads(1)

# The transformer if it has been trained, else the bigram (shipped first).
LEDGER_MODEL = "names" if (MODELS_DIR / "names.safetensors").exists() else "names-bigram"


def metric_value(page: Page, label: str):
    """The value element of the metric whose label contains ``label``."""
    return (
        page.get_by_test_id("stMetric")
        .filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
        .get_by_test_id("stMetricValue")
    )


def scroll_to_heading(page: Page, text: str) -> None:
    """Scroll the app so that heading ``text`` is at the top of the viewport."""
    page.get_by_role("heading", name=text).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # let plotly redraw after the scroll


def tall_screenshot(page: Page, name: str) -> None:
    """The whole page in one image: Streamlit scrolls inside its main container, so full_page alone
    captures only the viewport. Grow the viewport to the content's height, shoot, and restore it."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight), document.documentElement.scrollHeight)"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(height, 12000)})
    wait_idle(page)
    page.wait_for_timeout(500)  # plotly charts resize to the new viewport
    screenshot(page, name, full_page=False)
    page.set_viewport_size(size)


def type_text(page: Page, label: str, text: str) -> None:
    box = page.get_by_label(label)
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_typing_text_updates_the_ledger(page: Page, request: pytest.FixtureRequest, theme: str):
    base_url = request.getfixturevalue("server" if theme == "light" else "dark_server")
    # A fresh server answers the very first deep link with a "Page not found" dialog (the pages are
    # registered by app.py's first run), so the session starts at home like a visitor would.
    open_page(page, base_url)
    open_page(page, base_url, "chain_rule")
    expect(page.get_by_role("heading", level=1)).to_have_text("Chain rule")
    expect(metric_value(page, "joint p(B, A, C)")).to_have_text("0.12")
    expect(metric_value(page, "Σ −log terms (nats)")).to_have_text("2.120")
    assert_no_streamlit_errors(page)
    screenshot(page, f"chain-rule-top-{theme}", full_page=False)

    ledger_model = page.get_by_role("radiogroup", name="Model", exact=True)  # not section 5's "Model that ranks"
    ledger_model.get_by_role("radio", name=LEDGER_MODEL, exact=True).click()
    wait_idle(page)
    lm = core.load_text_model(LEDGER_MODEL)
    for text in ["olivia", "xzqvk"]:
        type_text(page, "Text to score", text)
        s = core.score(lm, text)
        expect(metric_value(page, "NLL (nats)")).to_have_text(f"{s.nll:.4f}")
        expect(metric_value(page, "perplexity")).to_have_text(f"{s.perplexity:.3f}")
    assert_no_streamlit_errors(page)

    # Hovering a bar of the ledger shows the five most likely tokens at that position.
    # the ledger's chart by its key (Streamlit gives a keyed element's container the class st-key-<key>)
    chart = (
        page.locator(".st-key-cr_ledger_chart")
        .get_by_test_id("stPlotlyChart")
        .or_(page.locator("[data-testid=stPlotlyChart].st-key-cr_ledger_chart"))
    )
    chart.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    # plotly's drag layer sits on top of the bars and takes the pointer: move the mouse to the bar
    box = chart.locator(".bars .point path").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = chart.locator(".hoverlayer")
    expect(tooltip).to_contain_text("most likely here")
    alternatives = [lm.vocab.token_text(i) for i in s.conditional_probs[0].topk(5).indices.tolist()]
    for token in alternatives:
        expect(tooltip).to_contain_text(f"{token}: ")
    screenshot(page, f"chain-rule-ledger-{theme}", full_page=False)

    # Characters outside the vocabulary: an error in words, and the page keeps working.
    type_text(page, "Text to score", "o'brien")
    expect(page.get_by_test_id("stAlert").filter(has_text="not in the model's vocabulary").first).to_be_visible()
    assert_no_streamlit_errors(page)
    type_text(page, "Text to score", "anna")
    expect(metric_value(page, "NLL (nats)")).to_have_text(f"{core.score(lm, 'anna').nll:.4f}")

    scroll_to_heading(page, "2. The order does not change the joint")
    screenshot(page, f"chain-rule-orderings-{theme}", full_page=False)
    scroll_to_heading(page, "4. Likelihood scores are meaningful")
    screenshot(page, f"chain-rule-compare-{theme}", full_page=False)
    tall_screenshot(page, f"chain-rule-full-{theme}")


def test_the_ordering_section_factors_a_typed_name_both_ways(page: Page, server: str):
    open_page(page, server)
    open_page(page, server, "chain_rule")
    forward, backward = core.load_text_model("names"), core.load_text_model("names-reversed")
    scroll_to_heading(page, "The order does change what a model learns")
    type_text(page, "A name to factor both ways", "xavier")
    expect(metric_value(page, "−log p(name) under names (nats)")).to_have_text(
        f"{core.score(forward, 'xavier').nll:.3f}"
    )
    expect(metric_value(page, "−log p(name) under names-reversed (nats)")).to_have_text(
        f"{core.score(backward, 'reivax').nll:.3f}"
    )
    scatter = page.locator(".stPlotlyChart, [data-testid=stPlotlyChart]").filter(has_text="held-out names")
    expect(scatter.first).to_be_visible()
    assert_no_streamlit_errors(page)
    screenshot(page, "chain-rule-ordering-trained", full_page=False)


def test_sampling_the_joint_one_factor_at_a_time_from_a_link_and_by_hand(page: Page, server: str):
    """A link sets N, the seed and top-2: the page shows core's distances for those draws; typing another N
    redraws, and the draws' chart shows the changed joint's markers."""
    from core.lessons.chain_rule import random_joint
    from core.lessons.joint_sampling import ancestral_sample, frequencies, implied_joint, total_variation
    from core.text.sampling import SamplingSettings

    joint, rule = random_joint(0), SamplingSettings(1.0, 2)
    open_page(page, server, "", timeout=120_000)
    open_page(page, server, "chain_rule?cr_draws=5000&cr_draw_seed=3&cr_draw_top_k=2", timeout=120_000)
    q = implied_joint(joint, rule)
    drawn = frequencies(ancestral_sample(joint, 5000, 3, rule), 3)
    expect(metric_value(page, "draws vs the joint they follow")).to_have_text(f"{total_variation(drawn, q):.4f}")
    expect(metric_value(page, "that joint vs the original")).to_have_text(f"{total_variation(q, joint):.4f}")
    box = page.locator(".st-key-cr_draws input")
    box.fill("200000")
    box.press("Enter")
    wait_idle(page)
    drawn = frequencies(ancestral_sample(joint, 200_000, 3, rule), 3)
    expect(metric_value(page, "draws vs the joint they follow")).to_have_text(f"{total_variation(drawn, q):.4f}")
    assert "cr_draws=200000" in page.url
    page.get_by_text("Sampling it one factor at a time").evaluate("e => e.scrollIntoView({block: 'start'})")
    legend = page.locator(".st-key-cr_draws_chart").get_by_text("product of the changed conditionals", exact=True)
    expect(legend).to_be_visible()  # the chart's legend (its numbers' table names the same series)
    assert_no_streamlit_errors(page)
