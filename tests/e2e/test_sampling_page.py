"""The Live sampling page in a real browser: auto-play grows the text, a shared link reproduces it.

The texts are compared with ``core.generate`` for the same settings, computed here in the test
process from the same shipped weights.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

import core
from core.checkpoint import MODELS_DIR
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def names() -> core.TextModel:
    if not (MODELS_DIR / "names.safetensors").exists():
        pytest.fail("the shipped model 'names' is missing: the sampling page cannot be tested", pytrace=False)
    return core.load_text_model("names")


def long_name_seed(lm: core.TextModel, prompt: str, length: int, **settings) -> int:
    """The first seed whose name runs at least ``length`` tokens (found with core, not the page)."""
    for seed in range(200):
        if len(list(core.generate(lm, prompt, length, core.SamplingSettings(**settings), seed=seed))) == length:
            return seed
    raise AssertionError("no seed gives a long enough name")


def open_sampling(page: Page, base_url: str, query: str = "") -> None:
    # A fresh server maps its very first request by the pages/ folder before app.py has run
    # (Streamlit's old multipage mode); the home page first makes every later URL resolve normally.
    open_page(page, base_url, "")
    open_page(page, base_url, f"sampling{query}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Live sampling")


def shown_text(page: Page) -> str:
    """The text so far, from the copyable code block under "History and branching"."""
    return page.get_by_test_id("stCode").first.inner_text().strip()


def test_autoplay_grows_the_text_token_by_token(page: Page, server: str):
    if not (MODELS_DIR / "shakespeare.safetensors").exists():
        pytest.fail("the shipped model 'shakespeare' is missing", pytrace=False)
    shakespeare = core.load_text_model("shakespeare")
    expected = "ROMEO:\n" + "".join(s.token for s in core.generate(shakespeare, "ROMEO:\n", 24, seed=3))
    open_sampling(page, server, "?model=shakespeare&prompt=ROMEO%3A%0A&seed=3&tokens=24")
    speed = page.get_by_test_id("stSidebar").get_by_role("slider").last  # the auto-play speed
    speed.focus()
    page.keyboard.press("End")  # max ...
    for _ in range(3):
        page.keyboard.press("ArrowLeft")  # ... 20, 15, down to 10 tokens/s, the target rate
    wait_idle(page)
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=20000)
    status = page.get_by_text(re.compile(r"of 24 tokens drawn"))  # shown under the text while playing fast
    counts: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and page.get_by_role("button", name="Pause").count():
        try:
            n = int(status.first.inner_text(timeout=500).split(" of ")[0].strip("* "))
        except (PlaywrightError, ValueError):
            n = None
        if n is not None and (not counts or n != counts[-1]):
            counts.append(n)
        time.sleep(0.03)
    expect(page.get_by_role("button", name="Play")).to_be_visible()  # playing stopped by itself at the end
    wait_idle(page)
    assert page.get_by_test_id("stCode").first.inner_text().rstrip("\n") == expected  # as core.generate
    assert counts == sorted(counts) and len(counts) >= 2, f"the text should grow in steps; saw counts {counts}"
    assert_no_streamlit_errors(page)


# Recorded in the page: every 25 ms, whether the token strip (or anything in it) is marked stale,
# and how many tiles it shows.
_WATCH_STRIP_JS = """() => {
  window.__strip = [];
  window.__stripTimer = setInterval(() => {
    const strip = document.querySelector('.st-key-sampling_strip');
    const stale = !!(strip && (strip.closest('[data-stale="true"]') || strip.querySelector('[data-stale="true"]')));
    window.__strip.push([stale, strip ? strip.querySelectorAll('span.stMarkdownColoredBackground').length : 0]);
  }, 25);
}"""


def test_play_and_pause_answer_and_the_strip_never_goes_stale_while_playing(page: Page, server: str):
    open_sampling(page, server, "?model=shakespeare&prompt=ROMEO%3A&seed=2&tokens=200")
    speed = page.get_by_test_id("stSidebar").get_by_role("slider").last  # the auto-play speed
    speed.focus()
    page.keyboard.press("End")  # max
    for _ in range(3):
        page.keyboard.press("ArrowLeft")  # 10 tokens/s
    wait_idle(page)
    page.evaluate(_WATCH_STRIP_JS)
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=5000)
    page.wait_for_timeout(3000)  # playing
    at_pause = page.evaluate("() => window.__strip.length")  # samples taken before the Pause click
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=5000)
    wait_idle(page)
    samples = page.evaluate("() => { clearInterval(window.__stripTimer); return window.__strip; }")
    counts = [n for _, n in samples[:at_pause]]
    grew = [i for i in range(1, len(counts)) if counts[i] > max(counts[:i])]  # a new token, not a redraw
    assert len(grew) >= 5, f"the text should have grown token by token while playing; tile counts {counts[::10]}"
    playing = samples[grew[0] : at_pause]  # from the first new token to the Pause click (its rerun redraws)
    assert not any(stale for stale, _ in playing), (
        f"the token strip was greyed out (stale) while playing: {[(i, n) for i, (s, n) in enumerate(samples) if s][:20]} of {len(samples)}, tiles grew at {grew[:3]}...{grew[-3:]}"
    )
    # after Pause nothing more is drawn
    n = page.locator(".st-key-sampling_strip span.stMarkdownColoredBackground").count()
    page.wait_for_timeout(1000)
    assert page.locator(".st-key-sampling_strip span.stMarkdownColoredBackground").count() == n
    assert_no_streamlit_errors(page)


def test_the_first_token_line_after_next_token_and_after_play_at_max(page: Page, server: str, names):
    """Time to the first token, measured: shown after one step, and after auto-play at "max" speed."""
    seed = long_name_seed(names, "ma", 6)
    open_sampling(page, server, f"?model=names&prompt=ma&seed={seed}&tokens=6")
    timing = page.locator(".st-key-sampling_timing")
    expect(timing).to_contain_text("draw a token")
    page.get_by_role("button", name="Next token").click()
    wait_idle(page)
    expect(timing).to_contain_text("first token:")
    expect(timing).to_contain_text("the prompt pass over 3 tokens")  # the start token, m, a
    page.get_by_role("button", name="Start over").click()
    wait_idle(page)
    speed = page.get_by_test_id("stSidebar").get_by_role("slider").last  # the auto-play speed
    speed.focus()
    page.keyboard.press("End")  # max: no waiting between tokens
    wait_idle(page)
    expect(speed).to_have_attribute("aria-valuetext", "max")
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=20000)  # stopped by itself at the end
    wait_idle(page)
    expect(timing).to_contain_text("first token:")
    expect(timing).to_contain_text("auto-play at max waits for nothing")
    assert shown_text(page) == "ma" + "".join(s.token for s in core.generate(names, "ma", 6, seed=seed))
    assert_no_streamlit_errors(page)


def test_a_shared_link_reproduces_the_same_text(page: Page, server: str, names):
    settings = dict(temperature=1.2, top_k=10, top_p=0.9)
    seed = long_name_seed(names, "ma", 4, **settings)
    expected = "ma" + "".join(
        s.token for s in core.generate(names, "ma", 12, core.SamplingSettings(**settings), seed=seed)
    )
    query = f"?model=names&prompt=ma&temperature=1.2&top_k=10&top_p=0.9&seed={seed}&tokens=12"
    open_sampling(page, server, query)
    page.get_by_role("button", name="Finish (12)").click()
    wait_idle(page)
    assert shown_text(page) == expected
    # the same link in a new session gives the same text again, one click at a time
    page.goto("about:blank")
    open_sampling(page, server, query)
    for _ in range(len(expected) - 2):
        page.get_by_role("button", name="Next token").click()
        wait_idle(page)
    assert shown_text(page) == expected
    assert_no_streamlit_errors(page)


def test_bad_link_values_show_a_note_and_the_page_works(page: Page, server: str):
    open_sampling(page, server, "?temperature=-1&top_p=nan&seed=1000000000000000000000000000000&model=../../etc")
    note = page.get_by_test_id("stAlert").filter(has_text="Ignored temperature=")
    expect(note).to_be_visible()
    for word in ("top_p", "seed", "model"):
        expect(note).to_contain_text(f"Ignored {word}=")
    page.get_by_role("button", name="Next token").click()
    wait_idle(page)
    assert len(shown_text(page)) == 1
    assert_no_streamlit_errors(page)


SCREENSHOT_LINKS = {
    "names": "?prompt=ma&temperature=0.9&top_k=8&seed={seed}",
    "shakespeare": "?model=shakespeare&prompt=ROMEO%3A%0AO%20my&temperature=0.8&top_p=0.9&seed=1&tokens=60",
}


@pytest.mark.parametrize("model", ["names", "shakespeare"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(page: Page, request: pytest.FixtureRequest, theme: str, model: str, names):
    """1280x720 views a projector shows: the top of the page, then the history; looked at by a person."""
    if not (MODELS_DIR / f"{model}.safetensors").exists():
        pytest.fail(f"the shipped model {model!r} is missing", pytrace=False)
    base = request.getfixturevalue("server" if theme == "light" else "dark_server")
    seed = long_name_seed(names, "ma", 4, temperature=0.9, top_k=8)
    open_sampling(page, base, SCREENSHOT_LINKS[model].format(seed=seed))
    if model == "shakespeare":
        page.get_by_role("button", name="Finish (60)").click()
        wait_idle(page)
        page.get_by_test_id("stSidebar").get_by_role("slider").first.focus()
        page.keyboard.press("ArrowRight")  # temperature 0.81: the last step is redrawn, not drawn again
        wait_idle(page)
    else:
        for _ in range(3):
            page.get_by_role("button", name="Next token").click()
            wait_idle(page)
    assert_no_streamlit_errors(page)
    screenshot(page, f"sampling-{model}-{theme}", full_page=False)
    page.get_by_test_id("stMain").evaluate("el => el.scrollTo(0, 560)")
    page.wait_for_timeout(300)
    screenshot(page, f"sampling-{model}-{theme}-history", full_page=False)


# ---------------------------------------------------------------------------------------------
# The distribution's numbers during auto-play

# Recorded in the page every 50 ms: whether the live chart's "Numbers as a table" (the first on the page) is
# open, how many tables it holds, and the step the panel's title names.
_WATCH_NUMBERS_JS = """() => {
  window.__numbers = [];
  window.__numbersTimer = setInterval(() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const numbers = [...main.querySelectorAll('[data-testid="stExpander"]')]
      .find(e => (e.querySelector('summary')?.innerText || '').includes('Numbers as a table'));
    const title = [...main.querySelectorAll('[data-testid="stMarkdownContainer"] p')]
      .map(p => p.innerText).find(t => /^Step \\d+/.test(t)) || '';
    window.__numbers.push([
      !!(numbers && numbers.querySelector('details').open),
      numbers ? numbers.querySelectorAll('[data-testid="stDataFrame"]').length : 0,
      (title.match(/^Step (\\d+)/) || [])[1] || '',
    ]);
  }, 50);
}"""


def test_an_open_numbers_table_stays_open_with_each_step_of_auto_play(page: Page, server: str):
    """At 4 tokens/s auto-play redraws the distribution per token, its table with it: an opened "Numbers as a
    table" stays open and filled through every step, the tokens keep their pace and no error (such as a
    duplicate element key) appears. The table's numbers against the chart's: tests/app/test_chart_tables.py."""
    n, speed = 16, 4
    open_sampling(page, server, f"?model=shakespeare&prompt=ROMEO%3A&seed=2&tokens={n}&speed={speed}")
    main = page.get_by_test_id("stMain")
    numbers = main.get_by_test_id("stExpander").filter(has=page.get_by_text("Numbers as a table", exact=True)).first
    numbers.get_by_text("Numbers as a table", exact=True).click()
    expect(numbers.get_by_test_id("stDataFrame")).to_be_visible()
    wait_idle(page)
    page.evaluate(_WATCH_NUMBERS_JS)
    start = time.monotonic()
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=5000)
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=30000)  # stopped by itself at n tokens
    elapsed = time.monotonic() - start
    samples = page.evaluate("() => { clearInterval(window.__numbersTimer); return window.__numbers; }")
    closed = [i for i, (is_open, tables, _) in enumerate(samples) if not is_open or tables != 1]
    assert not closed, f"the table closed or emptied during auto-play at samples {closed[:10]} of {len(samples)}"
    steps = {int(s) for _, _, s in samples if s}
    assert len(steps) >= n - 2, f"auto-play should show each step with its table; saw steps {sorted(steps)}"
    assert elapsed < 1.5 * n / speed + 1, f"{n} tokens at {speed}/s took {elapsed:.1f} s with the table open"
    assert_no_streamlit_errors(page)
