"""The Live sampling page's timing (time to first token, later steps, the page's pace) and the growth of the
caching experiment's totals, driven through AppTest.

Oracles: the session's own record read back independently (each entry's fed count and step time),
the prompt's length from core (context_ids), core.generate for the drawn tokens, and the fits
recomputed here from the stored result (core.lessons.kv_timing.growth_fits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.lessons.kv_timing import growth_fits, growth_words
from core.lessons.settings import MAX_SPEED
from core.lessons.stream_timing import stream_timing
from core.text.language_model import context_ids, generate
from pages.common import shared_model
from tests.app.helpers import arr, chart, click, open_script, run

torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "sampling.py")


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


def open_page(**query) -> AppTest:
    return open_script(PAGE, 90, **query)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_first_token_line_appears_after_a_step():
    at = open_page(model="names", prompt="ma", seed=1)
    assert "draw a token" in captions(at) and "first token:" not in captions(at)
    click(at, "sampling_next")
    entry = at.session_state["sampling"].history.entries[0]
    n_prompt = len(context_ids(core.load_text_model("names"), "ma"))
    assert entry.fed == n_prompt
    shown = captions(at)
    assert f"first token: {entry.step.elapsed_s * 1000:.1f} ms (the prompt pass over {n_prompt} tokens)" in shown
    assert "later tokens: none yet" in shown and "auto-play waits 250 ms per token" in shown
    click(at, "sampling_next")
    timing = stream_timing(at.session_state["sampling"].history)
    assert f"later tokens: median {timing.median_later_ms:.1f} ms each (1 steps)" in captions(at)
    spec = chart(at, "sampling_timing_chart")
    assert arr(spec["data"][0]["y"]).tolist() == [timing.first_ms]  # the prompt pass
    assert arr(spec["data"][1]["y"]).tolist() == [timing.later_ms[0]]
    assert arr(spec["data"][2]["y"])[-1] == pytest.approx(timing.latency_to_last_ms, rel=1e-12)


def test_max_speed_plays_without_waiting_and_says_so():
    names = core.load_text_model("names")
    at = open_page(model="names", seed=5, tokens=6)
    at.select_slider(key="speed").set_value(MAX_SPEED)
    run(at)
    assert at.session_state["sampling"].clock.speed == MAX_SPEED
    click(at, "sampling_play")
    s = at.session_state["sampling"]
    assert not s.clock.playing and (len(s.history) == 6 or s.history.finished)
    assert s.history.generated_ids == [t.token_id for t in generate(names, "", 6, seed=5)][: len(s.history)]
    assert "auto-play at max waits for nothing" in captions(at) and "first token:" in captions(at)


def test_a_link_with_speed_max_opens_at_max():
    at = open_page(model="names", speed="max")
    assert at.select_slider(key="speed").value == MAX_SPEED and not at.warning


def test_the_caching_section_draws_both_fits_and_states_them():
    at = open_page(model="names", kv_model="names", prompt="ma", seed=19)  # seed 19: 9 tokens before the end
    click(at, "sampling_kv_run")
    result = at.session_state["sampling_kv"][1]
    fits = growth_fits(result)
    assert fits is not None, "the names text ended too soon for this test: pick another seed"
    spec = chart(at, "sampling_kv_totals")
    names = [t["name"] for t in spec["data"]]
    assert len(names) == 4 and "fitted quadratic" in names[1] and "fitted line" in names[3]
    np.testing.assert_allclose(arr(spec["data"][0]["y"]), result.uncached_totals_ms)
    np.testing.assert_allclose(arr(spec["data"][1]["y"]), fits[0](range(1, len(result.uncached_ms) + 1)))
    np.testing.assert_allclose(arr(spec["data"][3]["y"]), fits[1](range(1, len(result.cached_ms) + 1)))
    assert growth_words(*fits) in captions(at)


def test_the_caching_section_defaults_to_shakespeare_and_keeps_its_own_model():
    at = open_page(model="names")
    assert at.selectbox(key="kv_model").value == "shakespeare"
    assert "up to the block size of **shakespeare** (128 tokens" in " ".join(m.value for m in at.markdown)
