"""Section 5 of the Chain rule page in a real browser: type candidates, see them ranked by the chain rule's total."""

from __future__ import annotations

import math
import re

import pytest
import torch
from playwright.sync_api import Page, expect

import core
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, wait_idle

pytestmark = pytest.mark.e2e
torch.set_num_threads(1)
HEADING = "5. What a likelihood is for"


def logp_given(lm, prompt: str, candidate: str) -> float:
    """log p(prompt + candidate) - log p(prompt), each from a whole-text score (the prompt's end factor left out)."""
    full = math.fsum(core.score(lm, prompt + candidate).logprobs)
    return full - math.fsum(core.score(lm, prompt).logprobs[: len(lm.vocab.encode(prompt))])


def test_typed_candidates_are_ranked_in_the_chart(page: Page, server: str):
    open_page(page, server)  # a fresh server's first deep link would meet "Page not found": start at home
    open_page(page, server, "chain_rule?cr_rank_model=names")
    page.get_by_role("heading", name=HEADING).evaluate("e => e.scrollIntoView({block: 'start'})")
    # the link changed the model but kept SmolLM2's prompt: a message in words, and a way out
    expect(page.get_by_text("The prompt has characters names cannot read: ' ' (space)")).to_be_visible()
    prompt_box = page.get_by_label("Prompt", exact=True)
    prompt_box.fill("jo")
    prompt_box.press("Enter")
    wait_idle(page)
    box = page.get_by_label("Candidates, one per line")
    box.fill("hn\nseph\nxqz")
    box.blur()  # a text area commits its value when it loses focus
    wait_idle(page)
    lm = core.load_text_model("names")
    order = sorted(["hn", "seph", "xqz"], key=lambda c: -logp_given(lm, "jo", c))
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="−log p(candidate | prompt)")
    ticks = chart.locator(".ytick text")  # the candidates' labels, rank first
    for rank, candidate in enumerate(order, start=1):
        expect(ticks.filter(has_text=re.compile(rf"^{rank}\. "))).to_have_text(f"{rank}. {candidate}")
    box.fill("")
    box.blur()
    wait_idle(page)
    expect(page.get_by_text("There are no candidates: type at least one continuation")).to_be_visible()
    assert_no_streamlit_errors(page)
