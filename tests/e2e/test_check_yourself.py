"""Check yourself in a real browser on every lesson page: a wrong answer, then the right one (worked
out here from the question's own numbers or with core), each screenshotted; bad input gets a message.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
from playwright.sync_api import Page, expect

import core
from core.text.language_model import logits_for_context
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def chain_rule_answer(text: str) -> float:
    return -math.fsum(math.log(float(p)) for p in re.findall(r"= (\d\.\d+|\d)", text))


def mask_answer(text: str) -> float:
    n = int(re.search(r"a (\d+)×", text).group(1))
    return n * (n - 1) // 2


def sampling_answer(text: str) -> float:
    k = int(re.search(r"top-k = (\d+)", text).group(1))
    p = float(re.search(r"top-p = ([\d.]+)", text).group(1))
    logits = logits_for_context(core.load_text_model("names"), [0])
    return int(torch.count_nonzero(core.next_token_distribution(logits, 1.0, k, p).final))


def bits_answer(text: str) -> float:
    return int(re.search(r"= (\d+) nats", text).group(1)) / 784 / math.log(2)


CASES = [  # (url path, page key, question number, how to work out its answer)
    ("chain_rule", "chain_rule", 1, chain_rule_answer),
    ("attention", "attention", 1, mask_answer),
    ("sampling", "sampling", 1, sampling_answer),
    ("pixelcnn", "pixelcnn", 2, bits_answer),
]


@pytest.mark.parametrize("path, key, n, answer", CASES, ids=[c[0] for c in CASES])
def test_wrong_then_right_answer(page: Page, server: str, path: str, key: str, n: int, answer):
    open_page(page, server, "")
    open_page(page, server, path, timeout=180000)
    wait_idle(page, timeout=120000)
    box = page.locator(f".st-key-quiz_{key}_{n}")
    box.scroll_into_view_if_needed()
    text = box.get_by_test_id("stMarkdownContainer").first.inner_text()
    right = answer(text)
    field = box.get_by_role("textbox")

    def answer(typed: str, says: str) -> None:
        field.fill(typed)
        field.press("Enter")
        wait_idle(page)
        box.get_by_role("button", name="Check").click()
        wait_idle(page)
        expect(box.get_by_text(says)).to_be_visible()
        box.scroll_into_view_if_needed()

    answer("twelve", "is not a number")
    answer(f"{right + 7:.4f}", "Not quite.")
    screenshot(page, f"quiz-{path}-wrong", full_page=False)
    answer(f"{right:.4f}", "Right.")
    screenshot(page, f"quiz-{path}-right", full_page=False)
    assert_no_streamlit_errors(page)
