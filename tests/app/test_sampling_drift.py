"""The Live sampling page's "Drift, side by side" section through AppTest: the two strips hold the tokens
core.generate draws without and with the forced token (``first=``; at temperature 0, core.generate on the
context with the token appended), the controls change them, and a bad typed token gets a message in words."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.figures.sampling import tile_text
from core.lessons.drift import DEFAULT_PICK, surviving_tokens
from core.text.language_model import context_ids
from pages.common import shared_model
from tests.app.helpers import arr, chart, open_script, run

torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "sampling.py")
TILE = re.compile(r":\w+-background\[:\w+\[(.*?)\]\]")


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


def open_page(**query) -> AppTest:
    return open_script(PAGE, 120, **query)


def strip(at: AppTest, label: str) -> str:
    """The tiles' text of one strip (markdown escapes removed, bold marks of the forced token too)."""
    (line,) = [m.value for m in at.markdown if m.value.startswith(f"**{label}**")]
    return "".join(re.sub(r"\\(.)", r"\1", t).replace("**", "") for t in TILE.findall(line))


def tiles(lm, ids) -> str:
    return "".join(tile_text(lm.vocab, i) for i in ids)


def ids_of(steps) -> list[int]:
    return [s.token_id for s in steps]


@pytest.mark.parametrize("model, prompt", [("names", "ma"), ("shakespeare", "ROMEO:\n")])
def test_strips_are_core_generate_without_and_with_the_forced_token(model, prompt):
    lm = core.load_text_model(model)
    at = open_page(model=model, prompt=prompt, seed=4, temperature=0.9, drift_on="true", drift_tokens=15)
    assert any(h.value == "Drift, side by side" for h in at.subheader)
    settings = core.SamplingSettings(0.9)
    context = context_ids(lm, prompt)
    survivors = surviving_tokens(lm, context, settings)
    forced = survivors[-1]  # the default: the least likely token that survives the knobs
    assert at.selectbox(key="drift_pick").value == DEFAULT_PICK
    a = ids_of(core.generate(lm, prompt, 15, settings, 4))
    b = ids_of(core.generate(lm, prompt, 15, settings, 4, first=forced))
    assert strip(at, "A, drawn") == tiles(lm, a)
    assert strip(at, "B, forced") == tiles(lm, b) and b[0] == forced
    spec = chart(at, "drift_chart")
    log_a = [t for t in spec["data"] if t.get("name") == "log p, A (drawn)"][0]
    expected = [s.logprob for s in core.generate(lm, prompt, 15, settings, 4)]
    assert arr(log_a["y"]) == pytest.approx(expected, abs=1e-9)

    # the controls drive it: a picked token, then a typed one, then another length
    pick = next(name for name in at.selectbox(key="drift_pick").options if name != DEFAULT_PICK)
    at.selectbox(key="drift_pick").set_value(pick)
    run(at)
    first = survivors[0]  # the first listed after the default: the most probable survivor
    assert strip(at, "B, forced") == tiles(lm, ids_of(core.generate(lm, prompt, 15, settings, 4, first=first)))
    at.text_input(key="drift_typed").set_value("z").run()
    z = lm.vocab.encode("z")[0]
    assert strip(at, "B, forced") == tiles(lm, ids_of(core.generate(lm, prompt, 15, settings, 4, first=z)))
    at.number_input(key="drift_tokens").set_value(6).run()
    assert strip(at, "A, drawn") == tiles(lm, a[:6])


def test_greedy_b_continues_like_core_generate_after_the_token():
    lm = core.load_text_model("names")
    at = open_page(temperature=0, drift_on="true", drift_tokens=10, drift_typed="q")
    q = lm.vocab.stoi["q"]
    greedy = core.SamplingSettings(0.0)
    b = [q] + ids_of(core.generate(lm, [lm.vocab.bos_id, q], 9, greedy, 0))
    assert strip(at, "B, forced") == tiles(lm, b[: b.index(lm.vocab.eos_id) + 1] if lm.vocab.eos_id in b else b)
    assert strip(at, "A, drawn") == tiles(lm, ids_of(core.generate(lm, "", 10, greedy, 0)))


def test_the_fork_follows_the_drawn_text():
    lm = core.load_text_model("shakespeare")
    at = open_page(model="shakespeare", prompt="KING:\n", drift_on="true", drift_tokens=8)
    at.button(key="sampling_next").click().run()
    at.button(key="sampling_next").click().run()
    drawn = ids_of(core.generate(lm, "KING:\n", 2, core.SamplingSettings(), 0))
    context = context_ids(lm, "KING:\n") + drawn
    assert strip(at, "A, drawn") == tiles(lm, ids_of(core.generate(lm, context, 8, core.SamplingSettings(), 0)))
    assert any("Fork at step 3" in m.value for m in at.markdown)


@pytest.mark.parametrize(
    "typed, words", [("zz", "2 tokens for names, not one"), ("é", "not in the model's vocabulary")]
)
def test_a_bad_typed_token_gets_a_message_and_the_page_goes_on(typed, words):
    at = open_page(drift_on="true")
    at.text_input(key="drift_typed").set_value(typed).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("That token cannot be forced" in e and words in e for e in errors), errors
    assert not [m for m in at.markdown if m.value.startswith("**B, forced**")]
    at.text_input(key="drift_typed").set_value("").run()  # cleared: back to the pick
    assert [m for m in at.markdown if m.value.startswith("**B, forced**")] and not at.error


def test_off_by_default_and_not_in_presenter_view():
    at = open_page()
    assert any(h.value == "Drift, side by side" for h in at.subheader)
    assert not [m for m in at.markdown if m.value.startswith("**A, drawn**")]  # nothing drawn until switched on
    at = open_page(presenter="true", drift_on="true")
    assert not any(h.value == "Drift, side by side" for h in at.subheader)


def test_the_forced_p_is_the_models():
    lm = core.load_text_model("names")
    at = open_page(drift_on="true", drift_typed="x")
    x = lm.vocab.stoi["x"]
    p = float(torch.softmax(core.next_token_logits(lm, "").double(), 0)[x])
    line = next(m.value for m in at.markdown if m.value.startswith("**Fork at step 1.**"))
    assert f"B forces x (p = {p:.3g})" in line and math.isfinite(p)
