"""The Live sampling page driven through AppTest: every number displayed is checked against core.

The chart's bars are read back from the plotly spec the page sends to the browser and compared
with ``core.text.sampling.SamplingStages`` computed here independently (core.generate, or the model's
logits for the same context); the text is compared with ``core.generate`` for the same settings.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
import core.text.language_model
from core.checkpoint import MODELS_DIR
from core.figures.sampling import distribution_view, layer_label
from core.lessons.sampling_session import kept_count
from core.lessons.settings import MAX_TOKENS
from core.lessons.states import SamplingState
from core.text.language_model import generate, logits_for_context
from core.text.sampling import SamplingSettings, next_token_distribution
from pages.common import shared_model
from tests.app.helpers import chart, click, open_script, run

DEFAULTS = SamplingState()
torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "sampling.py")


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


@pytest.fixture(scope="module")
def names():
    return core.load_text_model("names")


def open_page(**query) -> AppTest:
    return open_script(PAGE, 60, **query)


def bars(at: AppTest) -> dict[str, list[float]]:
    """The three layers of the distribution chart by legend name, plus the bar names."""
    spec = chart(at, "sampling_distribution")
    out = {trace["name"]: trace["y"] for trace in spec["data"]}
    out["names"] = spec["data"][0]["customdata"]
    return out


FLOAT32 = 1e-6  # cached and uncached forward passes agree to float32 rounding, not bit for bit


def final_layer(shown: dict) -> list[float]:
    """The bars of the last stage (what is sampled from), whatever it is called."""
    return next(ys for name, ys in reversed(list(shown.items())) if "sampled from" in name)


def assert_chart_shows(at: AppTest, stages, vocab, sampled_id):
    """The displayed bars equal ``stages`` (sorted as distribution_view sorts them), sampled token banded.

    The page's step ran the network with its key/value cache; ``stages`` here come from the uncached pass over
    the whole context (the oracle): the two agree to float32 rounding (measured differences up to 4e-7)."""
    view = distribution_view(stages, vocab, sampled_id)
    shown = bars(at)
    for j, (name, ys) in enumerate(view.layers):
        assert shown[layer_label(name, j == len(view.layers) - 1)] == pytest.approx(ys, abs=FLOAT32)
    # and, independently of the view's ordering, each named bar holds that token's probability
    for name, p_final in zip(shown["names"], final_layer(shown), strict=True):
        token = "." if name == "'.' end" else name
        assert p_final == pytest.approx(float(stages.final[vocab.stoi.get(token, 0)]), abs=FLOAT32)
    band = chart(at, "sampling_distribution")["layout"]["shapes"]
    if sampled_id is None:
        assert band == []
    else:
        assert (band[0]["x0"] + band[0]["x1"]) / 2 == view.token_ids.index(sampled_id)


def seed_for(lm, prompt: str, length: int, **settings) -> int:
    """The first seed whose text runs at least ``length`` tokens before the end token (found with core)."""
    for seed in range(100):
        steps = list(generate(lm, prompt, length, SamplingSettings(**settings), seed=seed))
        if len(steps) == length and not steps[-1].is_end:
            return seed
    raise AssertionError("no seed gives a long enough name")


def kept_line(at: AppTest) -> str:
    """The line above the chart: the step, its candidates kept and the mass kept."""
    lines = [m.value for m in at.markdown if "candidates kept" in m.value]
    assert len(lines) == 1, lines
    return lines[0]


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def text_shown(at: AppTest) -> str:
    """The text so far, from the copyable code block under "History and branching"."""
    return at.code[0].value


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


# ---------------------------------------------------------------------------------------------
# One step at a time


def test_next_token_shows_cores_stages_for_that_step(names):
    at = open_page()
    at.slider(key="temperature").set_value(0.7)
    at.select_slider(key="top_k").set_value(6)
    at.slider(key="top_p").set_value(0.9)
    run(at)
    assert_chart_shows(at, next_token_distribution(logits_for_context(names, [0]), 0.7, 6, 0.9), names.vocab, None)
    click(at, "sampling_next")
    step = next(
        generate(names, "", 1, SamplingSettings(0.7, 6, 0.9), seed=DEFAULTS.seed)
    )  # the same draw, made by core
    assert text_shown(at) == step.token
    assert_chart_shows(at, step.stages, names.vocab, step.token_id)
    assert f"**{kept_count(step.stages)} of 27** candidates kept" in kept_line(at)
    assert f"**{step.stages.kept_mass:.1%}** of the mass kept" in kept_line(at)
    assert metric(at, "Tokens drawn") == f"1 of {DEFAULTS.tokens}"
    assert metric(at, "log p(generated)") == f"{step.logprob:.2f}"
    assert metric(at, "Perplexity") == f"{math.exp(-step.logprob):.2f}"


def test_moving_a_slider_redraws_the_step_without_sampling_again(names):
    at = open_page(prompt="ma", seed=seed_for(names, "ma", 2))
    click(at, "sampling_next")
    click(at, "sampling_next")
    history = at.session_state["sampling"].history
    generator_state = at.session_state["sampling"].generator.get_state()
    drawn = history.generated_ids
    context = [0] + names.vocab.encode("ma") + drawn[:1]  # step 2 read the prompt and token 1

    at.slider(key="temperature").set_value(2.5)
    at.select_slider(key="top_k").set_value(4)
    run(at)
    assert at.session_state["sampling"].history.generated_ids == drawn  # nothing new was drawn
    assert torch.equal(at.session_state["sampling"].generator.get_state(), generator_state)
    redrawn = next_token_distribution(logits_for_context(names, context), 2.5, 4, None)
    assert_chart_shows(at, redrawn, names.vocab, drawn[1])
    assert "Step 2 redrawn under the current settings" in texts(at.info)
    assert "**4 of 27** candidates kept" in kept_line(at)

    click(at, "sampling_resample")  # now draw step 2 again, under the new settings
    history = at.session_state["sampling"].history
    assert len(history) == 2 and history.generated_ids[0] == drawn[0]
    assert history.entries[-1].step.stages.final.tolist() == pytest.approx(redrawn.final.tolist(), abs=1e-12)
    assert not torch.equal(at.session_state["sampling"].generator.get_state(), generator_state)
    assert history.branches[-1].token_ids == tuple(drawn)  # the replaced draw is kept as a branch
    assert_chart_shows(at, history.entries[-1].step.stages, names.vocab, history.generated_ids[1])


def test_temperature_zero_is_greedy_and_says_so(names):
    at = open_page(temperature=0, prompt="jo")
    assert "greedy" in texts(at.caption)
    click(at, "sampling_next")
    step = next(generate(names, "jo", 1, SamplingSettings(0.0), seed=0))
    assert_chart_shows(at, step.stages, names.vocab, step.token_id)
    assert final_layer(bars(at))[0] == 1.0  # the argmax, first bar, all the mass
    assert "**1 of 27** candidates kept" in kept_line(at)


def test_tiny_top_p_keeps_at_least_one_candidate(names):
    at = open_page(top_p=0.05, temperature=1)
    click(at, "sampling_next")
    stages = at.session_state["sampling"].history.entries[-1].step.stages
    assert kept_count(stages) >= 1
    assert f"**{kept_count(stages)} of 27** candidates kept" in kept_line(at)


# ---------------------------------------------------------------------------------------------
# Reproducible and shareable


@pytest.mark.parametrize(
    "query",
    [
        dict(model="names", prompt="ma", temperature=1.2, top_k=10, top_p=0.9, seed=7, tokens=12),
        dict(model="names", prompt="", temperature=0.8, seed=123, tokens=15),
    ],
)
def test_query_params_reproduce_core_generate(names, query):
    at = open_page(**query)
    assert at.slider(key="temperature").value == query["temperature"]
    assert at.number_input(key="seed").value == query["seed"]
    click(at, "sampling_finish")
    top_k, top_p = query.get("top_k"), query.get("top_p")
    knobs = SamplingSettings(query["temperature"], top_k, top_p)
    steps = generate(names, query["prompt"], query["tokens"], knobs, query["seed"])
    expected = query["prompt"] + "".join(s.token for s in steps)
    assert text_shown(at) == expected
    # pressing Next token one step at a time gives the same text (and the uncached path agrees too)
    at = open_page(**query)
    for _ in range(len(expected) - len(query["prompt"])):
        click(at, "sampling_next")
    assert text_shown(at) == expected
    uncached = generate(names, query["prompt"], query["tokens"], knobs, query["seed"], use_cache=False)
    assert query["prompt"] + "".join(s.token for s in uncached) == expected


def shared_link(at: AppTest) -> dict[str, list[str]]:
    """The query of the link "Share and export" shows (the browser's address bar holds the same:
    the widgets are bound to it, which only a real browser shows; see tests/e2e)."""
    (link,) = [c.value for c in at.code if "?" in c.value or c.value.startswith(("http", "/"))] or [""]
    return parse_qs(link.partition("?")[2])


def test_settings_are_written_to_the_url_and_defaults_are_left_out(names):
    at = open_page()
    assert "temperature" not in shared_link(at) and "seed" not in shared_link(at)
    at.slider(key="temperature").set_value(0.42)
    at.number_input(key="seed").set_value(99)
    at.text_area(key="prompt").input("li")
    run(at)
    link = shared_link(at)
    assert link["temperature"] == ["0.42"] and link["seed"] == ["99"] and link["prompt"] == ["li"]
    assert "top_p" not in link and "model" not in link  # defaults are left out
    at.slider(key="temperature").set_value(1.0)
    run(at)
    assert "temperature" not in shared_link(at)


def test_bad_query_params_fall_back_with_a_visible_note(names):
    at = open_page(temperature=-1, top_p="nan", seed=10**30, model="../../etc", top_k="many", tokens="abc")
    notes = texts(at.warning).replace("\\", "")  # the page escapes markdown in URL values
    for word in ("temperature", "top_p", "seed", "model", "top_k", "tokens"):
        assert f"Ignored {word}=" in notes
    assert at.slider(key="temperature").value == DEFAULTS.temperature
    assert at.slider(key="top_p").value == DEFAULTS.top_p
    assert at.number_input(key="seed").value == DEFAULTS.seed
    assert at.selectbox(key="model").value == "names"
    click(at, "sampling_next")  # the page is usable
    assert len(at.session_state["sampling"].history) == 1
    click(at, "sampling_dismiss_notes")
    assert not at.warning


def test_token_count_beyond_the_maximum_is_clamped_with_a_note(names):
    at = open_page(tokens=10**6)
    assert f"At most {MAX_TOKENS} tokens" in texts(at.warning)  # the URL's notes
    assert at.number_input(key="tokens").value == MAX_TOKENS
    at = open_page()
    at.number_input(key="tokens").set_value(5000)
    run(at)
    assert f"using {MAX_TOKENS} instead of 5000" in texts(at.info)
    assert at.button(key="sampling_finish").label == f"Finish ({MAX_TOKENS})"


def test_top_k_above_the_vocabulary_is_turned_off_with_a_note(names):
    at = open_page(top_k=50)
    assert "more than the 27 symbols" in texts(at.info)
    assert at.select_slider(key="top_k").value == 0


# ---------------------------------------------------------------------------------------------
# History, branching, forcing


def test_rewind_branch_and_force(names):
    at = open_page(prompt="a", temperature=1.0, seed=seed_for(names, "a", 3), tokens=5)
    click(at, "sampling_finish")
    first = at.session_state["sampling"].history.generated_ids
    assert len(first) >= 3

    at.selectbox(key="sampling_rewind_step").set_value(1)
    click(at, "sampling_rewind")
    history = at.session_state["sampling"].history
    assert history.generated_ids == first[:1]
    assert "Earlier branches" in texts(at.markdown)
    branches = next(d.value for d in at.dataframe if "text" in d.value.columns)  # Earlier branches
    assert branches["text"].tolist()[0] == names.vocab.decode([*names.vocab.encode("a"), *first])

    z = names.vocab.stoi["z"]
    at.selectbox(key="sampling_force_step").set_value(1)
    at.selectbox(key="sampling_force_token").set_value(z)
    click(at, "sampling_force")
    history = at.session_state["sampling"].history
    assert history.generated_ids == [z] and history.entries[0].forced
    assert text_shown(at) == "az"
    # the ledger uses the model's probability of the forced token in its context
    p = float(torch.softmax(logits_for_context(names, [0, names.vocab.stoi["a"]]).double(), 0)[z])
    assert metric(at, "log p(generated)") == f"{math.log(p):.2f}"
    click(at, "sampling_next")  # the continuation is conditioned on the forced token
    step = at.session_state["sampling"].history.entries[-1].step
    expected = next_token_distribution(logits_for_context(names, [0, names.vocab.stoi["a"], z]), 1.0, None, None)
    assert step.stages.final.tolist() == pytest.approx(expected.final.tolist(), abs=1e-12)
    table = next(d.value for d in at.dataframe if "how" in d.value.columns)  # the history
    assert table["how"].tolist() == ["forced", "sampled"]


def test_start_over_repeats_the_same_text(names):
    at = open_page(seed=seed_for(names, "", 3), tokens=8)
    click(at, "sampling_finish")
    first = text_shown(at)
    at.selectbox(key="sampling_rewind_step").set_value(1)
    click(at, "sampling_rewind")
    click(at, "sampling_next")
    click(at, "sampling_restart")
    assert text_shown(at).strip() == ""
    click(at, "sampling_finish")
    assert text_shown(at) == first


def test_play_draws_tokens_that_match_generate(names):
    # Auto-play is a loop at the end of the page script: one run plays until the text ends or
    # reaches its length (a click would interrupt it in a browser), then reruns to show Play again.
    seed = seed_for(names, "", 3)
    at = open_page(seed=seed, tokens=6)
    click(at, "sampling_play")
    history = at.session_state["sampling"].history
    assert not at.session_state["sampling"].clock.playing
    assert len(history) == 6 or history.finished
    assert history.generated_ids == [s.token_id for s in generate(names, "", 6, seed=seed)][: len(history)]
    assert at.button(key="sampling_play").label == "Play"


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("prompt, shown", [("a b", "' ' (space)"), ("zoë", "'ë'"), ("x1", "'1'")])
def test_prompt_outside_the_vocabulary_is_a_clear_error(names, prompt, shown):
    at = open_page()
    at.text_area(key="prompt").input(prompt)
    run(at)
    error = texts(at.error).replace("\\", "")  # the page escapes markdown in the message
    assert "not in the model's vocabulary" in error and shown in error
    assert "Allowed characters: abcdefghijklmnopqrstuvwxyz" in error
    at.text_area(key="prompt").input("ab")
    run(at)
    assert not at.error
    click(at, "sampling_next")


def test_empty_prompt_starts_from_the_start_token(names):
    at = open_page()
    assert "starts from the start token" in texts(at.caption)
    click(at, "sampling_next")
    assert at.session_state["sampling"].history.entries[0].step.position == 1  # after the start token only


def test_missing_model_is_a_clear_error_and_the_page_stays_usable(tmp_path, monkeypatch, names):
    for ext in ("json", "safetensors"):
        (tmp_path / f"names.{ext}").symlink_to(MODELS_DIR / f"names.{ext}")
    monkeypatch.setattr(core.text.language_model, "MODELS_DIR", tmp_path)  # a folder without shakespeare
    shared_model.clear()
    at = open_page(model="shakespeare")
    assert "shakespeare" in texts(at.error) and "unavailable" in texts(at.error)
    assert not at.button  # nothing to draw from, but the controls remain
    at.selectbox(key="model").set_value("names")
    run(at)
    assert not at.error
    click(at, "sampling_next")


# ---------------------------------------------------------------------------------------------
# Why caching matters


def test_timing_both_ways_reports_the_same_tokens(names):
    at = open_page(prompt="ma", seed=4, kv_model="names")
    click(at, "sampling_kv_run")
    assert "Both runs produced the same" in texts(at.success)
    result = at.session_state["sampling_kv"][1]
    assert result.cached_tokens == [s.token_id for s in generate(names, "ma", 13, seed=4, use_cache=True)]
    assert metric(at, "Speed-up with the cache") == f"{result.speedup:.1f}×"
    spec = chart(at, "sampling_kv_chart")
    assert [t["y"] for t in spec["data"]] == [result.uncached_ms, result.cached_ms]


def test_timing_the_llm_is_bounded_says_so_and_offers_a_stop(monkeypatch):
    """SmolLM2's whole block, uncached, would hold the model for minutes: 256 tokens, once per mode."""
    import pages.sampling_kv
    from core.errors import InputError

    asked = []

    def timing(lm, prompt, settings, seed, repeats, max_new_tokens):
        asked.append((lm.name, repeats, max_new_tokens))
        raise InputError("not run in this test")

    monkeypatch.setattr(pages.sampling_kv, "time_kv_cache", timing)
    at = open_page(model="smollm2", kv_model="smollm2", prompt="The capital of France is", seed=3)
    assert "the first **256** tokens after the prompt" in " ".join(m.value for m in at.markdown)
    click(at, "sampling_kv_run")
    assert asked == [("smollm2", 1, pages.sampling_kv.LLM_KV_TOKENS)] and pages.sampling_kv.LLM_KV_TOKENS == 256
    assert at.button(key="sampling_kv_stop")  # shown while it runs: a click ends the run
    assert "not run in this test" in texts(at.error)


# ---------------------------------------------------------------------------------------------
# A large vocabulary (shakespeare's shape, with small random weights so it runs before training ends)


def fake_shakespeare(tmp_path, monkeypatch) -> core.TextModel:
    """A random GPT with shakespeare's 65 characters + <s>, saved beside a link to the shipped names."""
    from core.checkpoint import save_checkpoint
    from core.models.transformer import GPT, GPTConfig
    from core.text.vocab import text_vocab

    torch.manual_seed(0)
    vocab = text_vocab("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    config = GPTConfig(block_size=32, vocab_size=vocab.size, n_layer=1, n_head=2, n_embd=16, input_only_ids=(0,))
    card = {"name": "shakespeare", "kind": "transformer", "config": config.to_dict(), "vocab": vocab.to_dict()}
    save_checkpoint(GPT(config).state_dict(), card, tmp_path, "shakespeare")
    for ext in ("json", "safetensors"):
        (tmp_path / f"names.{ext}").symlink_to(MODELS_DIR / f"names.{ext}")
    monkeypatch.setattr(core.text.language_model, "MODELS_DIR", tmp_path)
    shared_model.clear()
    return core.load_text_model("shakespeare", tmp_path)


def test_large_vocabulary_shows_top_20_and_a_rest_bar(tmp_path, monkeypatch, names):
    lm = fake_shakespeare(tmp_path, monkeypatch)
    assert lm.vocab.size == 66
    at = open_page(model="shakespeare", prompt="ROMEO:\nO", temperature=1.5, top_p=0.8, seed=9, tokens=10)
    click(at, "sampling_next")
    step = next(generate(lm, "ROMEO:\nO", 1, SamplingSettings(1.5, None, 0.8), seed=9))
    shown = bars(at)
    view = distribution_view(step.stages, lm.vocab, step.token_id, top_n=20)
    assert shown["names"][-1] == f"rest ({view.rest_count} others)"
    assert len(shown["names"]) in (21, 22)  # 20 bars, the sampled token if not among them, the rest
    assert final_layer(shown) == pytest.approx(view.final, abs=1e-12)
    assert sum(shown["model (T = 1)"]) == pytest.approx(1.0)  # <s> has no bar and no mass
    assert "of 65** candidates kept" in kept_line(at)
    click(at, "sampling_finish")
    expected = "ROMEO:\nO" + "".join(
        s.token for s in generate(lm, "ROMEO:\nO", 10, SamplingSettings(1.5, None, 0.8), seed=9)
    )
    assert text_shown(at) == expected


def test_switching_to_a_smaller_vocabulary_turns_a_large_top_k_off(tmp_path, monkeypatch, names):
    fake_shakespeare(tmp_path, monkeypatch)
    at = open_page(model="shakespeare", top_k=50)
    assert at.select_slider(key="top_k").value == 50
    at.selectbox(key="model").set_value("names")
    run(at)
    assert "top-k = 50 is more than the 27 symbols of names" in texts(at.info).replace("\\", "")
    assert at.select_slider(key="top_k").value == 0
    assert str(at.query_params.get("top_k", "0")).strip("[]'") == "0"


@pytest.mark.slow
def test_the_llm_samples_the_same_tokens_as_generate():
    llm = core.load_text_model("smollm2")
    at = open_page(model="smollm2", prompt="The capital of France is", seed=3, tokens=3)
    assert at.select_slider(key="top_k").options[:3] == ["off", "1", "2"]  # steps, not 49,153 choices
    click(at, "sampling_finish")
    expected = [s.token_id for s in generate(llm, "The capital of France is", 3, seed=3)]
    assert at.session_state["sampling"].history.generated_ids == expected
    spec = chart(at, "sampling_distribution")
    assert spec["data"][0]["customdata"][-1].startswith("rest (49,1")  # top 20 and the rest of 49,152


def test_a_classroom_prompt_fills_the_prompt_box_and_the_text_continues_it():
    from core.lessons.settings import CLASSROOM_PROMPTS

    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["model"] = "shakespeare"
    at.run()
    pick = CLASSROOM_PROMPTS["shakespeare"][1]
    at.pills(key="sampling_prompt_pick").set_value(pick).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_area(key="prompt").value == pick
    at.button(key="sampling_next").click().run()
    lm = core.load_text_model("shakespeare")
    assert at.session_state["sampling"].history.generated_ids == [next(core.generate(lm, pick, 1, seed=0)).token_id]
