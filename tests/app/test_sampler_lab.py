"""The sampler lab on the Live sampling page, through AppTest: every new control drives what is shown,
and every number is recomputed here with core (SamplingSettings, generate, compare_decoders).
"""

from __future__ import annotations

import pytest
import torch

from core.lessons.decoders import common_prefix, compare_decoders
from core.text.language_model import generate, logits_for_context, seeded_generator
from core.text.sampling import SamplingSettings, apply_penalties, empirical_counts
from tests.app.helpers import chart
from tests.app.test_sampling_page import assert_chart_shows, click, open_page, run, shared_link

torch.set_num_threads(1)


def current_ids(at) -> list[int]:
    return at.session_state["sampling"].history.ids


def test_min_p_typical_and_the_order_drive_the_chart(names_lm):
    at = open_page(temperature=2.0, top_p=0.5, seed=4)
    logits = logits_for_context(names_lm, [0])
    hf = SamplingSettings(2.0, None, 0.5).stages(logits, [])
    assert_chart_shows(at, hf, names_lm.vocab, None)
    at.radio(key="order").set_value("llama.cpp")
    run(at)
    llama = SamplingSettings(2.0, None, 0.5, order="llama.cpp").stages(logits, [])
    assert_chart_shows(at, llama, names_lm.vocab, None)
    assert not torch.equal(hf.final, llama.final)  # same knobs, different distributions
    assert shared_link(at)["order"] == ["llama.cpp"]
    at.slider(key="min_p").set_value(0.2)
    at.slider(key="typical_p").set_value(0.9)
    run(at)
    both = SamplingSettings(2.0, None, 0.5, 0.2, 0.9, "llama.cpp").stages(logits, [])
    assert_chart_shows(at, both, names_lm.vocab, None)
    stages_line = next(c.value for c in at.caption if c.value.startswith("Stages, in the order applied"))
    for _, count, _ in both.survivors():
        assert f"**{count:,}** kept" in stages_line


def test_penalties_are_a_stage_and_the_text_matches_generate(names_lm):
    at = open_page(repetition=1.5, presence=0.5, seed=2, tokens=8)
    click(at, "sampling_finish")
    s = SamplingSettings(repetition=1.5, presence=0.5)
    expected = [st.token_id for st in generate(names_lm, "", 8, s, seed=2)]
    assert at.session_state["sampling"].history.generated_ids == expected
    # the current step's chart: raw, then the penalised distribution
    ids = current_ids(at)
    context = ids[:-1]
    stages = s.stages(logits_for_context(names_lm, context), context[1:])
    assert_chart_shows(at, stages, names_lm.vocab, ids[-1])
    penalised = torch.softmax(apply_penalties(logits_for_context(names_lm, context), context[1:], 1.5, 0.5), 0)
    assert torch.allclose(stages.stages[1][1], penalised)


def test_draw_n_times_shows_the_frequencies_of_the_sessions_draws(names_lm):
    at = open_page(temperature=0.9, top_k=5, seed=7)
    at.selectbox(key="sampling_draws_n").set_value(1000)
    click(at, "sampling_draw_many")
    spec = chart(at, "sampling_distribution")
    diamonds = spec["data"][-1]
    assert diamonds["name"] == "share of 1,000 draws"
    final = SamplingSettings(0.9, 5).stages(logits_for_context(names_lm, [0]), []).final
    counts = empirical_counts(final, 1000, seeded_generator(7))  # the session's draws generator, seeded
    bar_ids = [names_lm.vocab.stoi.get("." if n == "'.' end" else n, 0) for n in spec["data"][0]["customdata"]]
    assert [y or 0.0 for y in diamonds["y"]] == pytest.approx([float(counts[i]) / 1000 for i in bar_ids])
    assert sum(1 for y in diamonds["y"] if y) <= 5
    # the draws did not touch the text's generator: Next gives core.generate's first token
    click(at, "sampling_next")
    assert at.session_state["sampling"].history.generated_ids == [
        next(generate(names_lm, "", 1, SamplingSettings(0.9, 5), seed=7)).token_id
    ]


def test_compare_shows_greedy_sampled_and_beam(names_lm):
    at = open_page(prompt="ma", temperature=1.0, seed=3, tokens=12)
    at.select_slider(key="sampling_beam_width").set_value(4)
    click(at, "sampling_compare")
    rows = next(d.value for d in at.dataframe if "decoder" in d.value.columns)
    expected = compare_decoders(names_lm, "ma", SamplingSettings(), 3, 12, 4)
    assert list(rows["decoder"]) == [d.method for d in expected]
    assert list(rows["log p"]) == pytest.approx([d.logprob for d in expected])
    # each continuation written out whole (without the prompt), split where it leaves greedy's
    lines = [m.value for m in at.markdown if "(continuation only)" in m.value]
    assert len(lines) == 3
    greedy = expected[0].token_ids
    for line, d in zip(lines, expected, strict=True):
        shared = common_prefix(greedy, d.token_ids)
        assert shared == next((i for i in range(min(len(greedy), len(d.token_ids))) if greedy[i] != d.token_ids[i]),
                              min(len(greedy), len(d.token_ids)))  # fmt: skip
        plain = line.replace("\\", "").replace("**", "").replace(" ‖ ", "")
        assert plain.endswith(names_lm.vocab.decode(list(d.token_ids)))
        assert ("‖" in line) == (d is not expected[0] and shared < len(d.token_ids))
    assert rows["log p"].iloc[2] >= rows["log p"].iloc[0] - 1e-9  # beam never worse than greedy


def test_back_removes_the_last_token_and_a_branch_can_be_restored(names_lm):
    at = open_page(seed=5, tokens=6)
    for _ in range(3):
        click(at, "sampling_next")
    first = list(at.session_state["sampling"].history.generated_ids)
    click(at, "sampling_back")
    assert at.session_state["sampling"].history.generated_ids == first[:2]
    click(at, "sampling_resample")  # a different third token (or the same one: listed once either way)
    branches = at.session_state["sampling"].history.branches
    assert [b.token_ids for b in branches].count(tuple(first)) == 1
    at.selectbox(key="sampling_branch_pick").set_value(len(branches))  # the oldest: the first text
    click(at, "sampling_branch_restore")
    assert at.session_state["sampling"].history.generated_ids == first


def test_the_url_carries_the_text_and_a_reload_brings_it_back_with_the_generator(names_lm):
    at = open_page(seed=11, tokens=10, temperature=0.8)
    for _ in range(4):
        click(at, "sampling_next")
    text = at.query_params["text"]
    drawn = at.session_state["sampling"].history.generated_ids
    assert text == ".".join(map(str, drawn))
    click(at, "sampling_next")
    fifth = at.session_state["sampling"].history.generated_ids[-1]
    # a reload: a new session from the URL of the page after four draws
    again = open_page(seed=11, tokens=10, temperature=0.8, text=text)
    assert again.session_state["sampling"].history.generated_ids == drawn
    click(again, "sampling_next")
    assert again.session_state["sampling"].history.generated_ids[-1] == fifth  # the generator was replayed


@pytest.mark.parametrize(
    "query, says",
    [
        (dict(min_p="lots"), "min-p must be a number from 0"),
        (dict(order="vllm"), "the order must be one of hf, llama.cpp"),
        (dict(repetition="9"), "repetition penalty must be a number from 0.5 to 2"),
        (dict(text="1.2.x"), "token ids joined by '.'"),
        (dict(text="1.999"), "never predicts"),
        (dict(text="1.0.2"), "cut short"),  # a token after the end token
    ],
)
def test_bad_links_say_what_was_ignored_and_the_page_works(names_lm, query, says):
    at = open_page(**query)
    shown = [w.value.replace("\\", "") for w in at.warning]  # the page escapes markdown
    assert any(says in w for w in shown), shown
    h = at.session_state["sampling"].history
    if h.finished:  # "1.0.2": the text ended at the end token; what came before it was kept
        assert h.generated_ids == [1, 0]
        click(at, "sampling_back")
    click(at, "sampling_next")
    assert len(at.session_state["sampling"].history) >= 1


def test_presenter_view_hides_the_secondary_panels(names_lm):
    at = open_page(seed=1)
    click(at, "sampling_next")
    assert at.subheader and any(h.value == "History and branching" for h in at.subheader)
    at.toggle(key="presenter").set_value(True)
    run(at)
    headers = [h.value for h in at.subheader]
    assert "History and branching" not in headers and "Why caching matters" not in headers
    spec = chart(at, "sampling_distribution")
    assert spec["layout"]["height"] == 370 and spec["layout"]["xaxis"]["tickfont"]["size"] == 18  # larger labels


def test_every_button_has_a_shortcut_and_the_page_lists_them(names_lm):
    at = open_page()
    for key in ("sampling_play", "sampling_next", "sampling_back", "sampling_resample", "sampling_finish"):
        assert at.button(key=key).proto.shortcut, key
    assert any("Keyboard: P play/pause" in c.value for c in at.caption)
