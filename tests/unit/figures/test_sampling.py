"""The live-sampling figures, inspected without a browser: the numbers each one draws, and a valid spec.

The figures skip plotly's validation at run time (it costs ~50 ms per figure); here every figure is
rebuilt with validation on, so a typo in a property name fails a test instead of a classroom demo.
"""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go
import pytest
import torch

from core.figures.sampling import (
    NEWLINE_MARK,
    PROMPT_BAND,
    SPACE_MARK,
    STRIP_LEGEND,
    TILE_BANDS,
    StripToken,
    distribution_figure,
    distribution_view,
    history_strip,
    kv_timing_figure,
    tile_band,
    tile_text,
    token_name,
    token_strip_markdown,
)
from core.lessons.kv_timing import KVTimingResult
from core.lessons.sampling_session import History, SamplingSettings
from core.text.language_model import Step
from core.text.sampling import empirical_counts, next_token_distribution
from core.text.vocab import names_vocab, text_vocab

NAMES = names_vocab()
TEXT = text_vocab("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n.,;:!?'&-<>3$")  # 66 symbols with <s>


def validated(fig: go.Figure) -> dict:
    """The figure as plotly would check it: raises on any unknown property or bad value."""
    return go.Figure(fig.to_dict()).to_dict()


def stages_for(vocab, seed=0, temperature=0.8, top_k=None, top_p=None):
    logits = torch.randn(vocab.size, generator=torch.Generator().manual_seed(seed)) * 2
    logits[vocab.input_only_ids] = float("-inf")  # as the model's logit bias does
    return next_token_distribution(logits, temperature, top_k, top_p)


def test_token_names_make_specials_and_whitespace_visible():
    assert token_name(NAMES, 0) == "'.' end"
    assert token_name(NAMES, 1) == "a"
    assert token_name(TEXT, 0) == "<s> start"
    assert token_name(TEXT, TEXT.stoi[" "]) == f"{SPACE_MARK} space"
    assert token_name(TEXT, TEXT.stoi["\n"]) == f"{NEWLINE_MARK} newline"
    assert tile_text(TEXT, TEXT.stoi[" "]) == SPACE_MARK and tile_text(NAMES, 0) == "."


def test_names_view_has_all_27_symbols_most_probable_first():
    stages = stages_for(NAMES, top_k=5)
    view = distribution_view(stages, NAMES, sampled_id=3)
    assert len(view.token_ids) == 27 and view.rest_count == 0 and None not in view.token_ids
    assert sorted(view.token_ids) == list(range(27))
    assert view.raw == sorted(view.raw, reverse=True)
    assert [name for name, _ in view.layers] == [name for name, _ in stages.stages] == ["raw", "temperature", "top_k"]
    for (_, layer), (_, stage) in zip(view.layers, stages.stages, strict=True):
        assert math.fsum(layer) == pytest.approx(1.0)
        assert layer == [float(stage[i]) for i in view.token_ids]
    assert view.token_ids[view.sampled_index] == 3
    assert sum(p > 0 for p in view.final) == 5  # top-k: five bars survive


def test_large_vocabulary_shows_top_20_and_a_rest_bar():
    stages = stages_for(TEXT, seed=1, top_p=0.9)
    view = distribution_view(stages, TEXT, sampled_id=None, top_n=20)
    assert len(view.token_ids) == 21 and view.token_ids[-1] is None
    assert view.rest_count == TEXT.size - 1 - 20  # the start token never gets a bar
    assert view.names[-1] == f"rest ({view.rest_count} others)"
    top = sorted((i for i in range(1, TEXT.size)), key=lambda i: (-float(stages.raw[i]), i))[:20]
    assert view.token_ids[:20] == top
    for (_, layer), (_, stage) in zip(view.layers, stages.stages, strict=True):
        rest = math.fsum(float(stage[i]) for i in range(1, TEXT.size) if i not in top)
        assert layer[-1] == pytest.approx(rest, abs=1e-12)
        assert math.fsum(layer) == pytest.approx(1.0)


def test_a_sampled_token_outside_the_top_20_gets_its_own_bar():
    stages = stages_for(TEXT, seed=2)
    least = min(range(1, TEXT.size), key=lambda i: float(stages.raw[i]))
    view = distribution_view(stages, TEXT, sampled_id=least, top_n=20)
    assert len(view.token_ids) == 22 and view.token_ids[20] == least and view.sampled_index == 20
    assert view.rest_count == TEXT.size - 1 - 21


def test_distribution_figure_draws_the_view():
    stages = stages_for(NAMES, seed=4, top_p=0.7)
    view = distribution_view(stages, NAMES, sampled_id=int(torch.argmax(stages.final)))
    spec = validated(distribution_figure(view, NAMES, title="step <1>"))
    assert [t["name"] for t in spec["data"]] == [
        "model (T = 1)",
        "after temperature",
        "after top-p (sampled from)",
    ]
    assert [list(t["y"]) for t in spec["data"]] == [ys for _, ys in view.layers]
    assert spec["layout"]["xaxis"]["ticktext"][view.token_ids.index(0)] == "'.'<br>end"
    band = spec["layout"]["shapes"][0]
    assert (band["x0"] + band["x1"]) / 2 == view.sampled_index
    assert spec["layout"]["title"]["text"] == "step &lt;1&gt;"  # text is shown, never parsed as markup


def test_empirical_frequencies_are_drawn_beside_the_last_layer():
    stages = stages_for(NAMES, seed=5, top_k=4)
    counts = empirical_counts(stages.final, 1000, torch.Generator().manual_seed(0))
    view = distribution_view(stages, NAMES, counts=counts)
    assert view.frequencies == [float(counts[i]) / 1000 for i in view.token_ids]
    spec = validated(distribution_figure(view, NAMES, draws=1000))
    diamonds = spec["data"][-1]
    assert diamonds["name"] == "share of 1,000 draws"
    assert list(diamonds["y"]) == [f if f > 0 else None for f in view.frequencies]
    assert sum(f > 0 for f in view.frequencies) <= 4  # nothing outside the top 4 is ever drawn


def test_with_every_knob_off_the_one_layer_says_it_is_sampled_from():
    view = distribution_view(next_token_distribution(torch.randn(27), 1.0), NAMES)
    spec = validated(distribution_figure(view, NAMES))
    assert [t["name"] for t in spec["data"]] == ["model (T = 1) = sampled from"]


def test_distribution_figure_without_a_draw_has_no_band():
    spec = validated(distribution_figure(distribution_view(stages_for(NAMES), NAMES), NAMES))
    assert spec["layout"].get("shapes", []) == [] and "title" not in spec["layout"]


TILE = re.compile(r":(\w+)-background\[:\w+\[((?:\\.|[^\]\\])*)\]\]")  # one tile: its colour and its (escaped) text


def test_strip_wraps_after_each_newline_and_never_inside_a_word():
    toks = [StripToken(c, 0.5, 0.5, newline=c == "\n") for c in ["ab", "c", "␣", "de", "\n", "f"]]
    out = token_strip_markdown(toks)
    lines = out.split("  \n")  # a markdown line break after the newline tile only
    assert len(lines) == 2
    words = [[text for _, text in TILE.findall(w)] for line in lines for w in line.split("\u200b")]
    assert words == [["ab", "c", "␣"], ["de", "\n"], ["f"]]  # a break opportunity only after the space
    sub_words = token_strip_markdown([StripToken(w, 0.5, 0.5, step=1) for w in ["The", "␣capital", "␣of"]])
    assert [[text for _, text in TILE.findall(w)] for w in sub_words.split("\u200b")] == [
        ["The"],
        ["␣capital"],
        ["␣of"],
    ]


def _step(vocab, ids, token_id, position):
    logits = torch.randn(vocab.size, generator=torch.Generator().manual_seed(position))
    stages = next_token_distribution(logits, 1.0, None, 0.9)
    p = float(stages.raw[token_id])
    return Step(vocab.token_text(token_id), token_id, stages, math.log(p), 0.0, position, token_id == vocab.eos_id)


def test_history_strip_colours_each_token_by_its_model_probability():
    h = History(prompt_ids=[0] + NAMES.encode("ab"))
    steps = []
    for tok in "cd":
        steps.append(_step(NAMES, h.ids, NAMES.stoi[tok], len(h.ids)))
        h.push(steps[-1], SamplingSettings())
    steps.append(_step(NAMES, h.ids, 0, len(h.ids)))
    h.push(steps[-1], SamplingSettings(), forced=True)
    toks = history_strip(h, NAMES)
    assert [t.text for t in toks] == ["a", "b", "c", "d", "."]
    assert [t.p_model for t in toks[:2]] == [None, None]
    for t, step in zip(toks[2:], steps, strict=True):
        assert t.p_model == float(step.stages.raw[step.token_id])
        assert t.p_sampled == float(step.stages.final[step.token_id])
    assert [t.forced for t in toks] == [False, False, False, False, True]

    out = token_strip_markdown(toks)
    tiles = TILE.findall(out)
    assert out.startswith("ab:")  # the prompt is plain text, no tile
    assert [text for _, text in tiles] == ["c", "d", "**\\.**"]  # the forced end token is bold
    assert [colour for colour, _ in tiles] == [tile_band(t.p_model) for t in toks[2:]]


def test_tile_bands_cover_every_probability_once():
    assert tile_band(None) is PROMPT_BAND is None
    assert [tile_band(p) for p in (0.0, 0.1999, 0.2, 0.5999, 0.6, 1.0)] == [
        "orange",
        "orange",
        "gray",
        "gray",
        "blue",
        "blue",
    ]
    for upper, colour in TILE_BANDS[:-1]:
        assert colour[:3] in STRIP_LEGEND.replace("grey", "gray") and f"{upper:g}" in STRIP_LEGEND


def test_a_long_strip_shows_its_tail():
    toks = [StripToken("ab", 0.5, 0.5, step=i) for i in range(200)]
    out = token_strip_markdown(toks, max_chars=20)
    assert out.startswith("… ") and len(TILE.findall(out)) == 10
    assert len(TILE.findall(token_strip_markdown(toks, max_chars=None))) == 200


def test_strip_escapes_markup_in_tokens():
    out = token_strip_markdown([StripToken("]*<x>", 0.1, 0.1, step=1), StripToken("$1", 0.5, 0.5, step=2)])
    assert [text for _, text in TILE.findall(out)] == ["\\]\\*\\<x\\>", "\\$1"]  # literal, never markup
    assert token_strip_markdown([StripToken("*<p>", None, None)]) == "\\*\\<p\\>"  # plain prompt text, escaped too


def test_kv_timing_figure_plots_both_runs():
    result = KVTimingResult(
        first_position=3,
        cached_ms=[1.0, 1.1, 1.0],
        uncached_ms=[1.0, 2.0, 3.0],
        cached_tokens=[1, 2, 3],
        uncached_tokens=[1, 2, 3],
        repeats=1,
    )
    spec = validated(kv_timing_figure(result))
    uncached, cached = spec["data"]
    assert list(uncached["x"]) == [3, 4, 5] and list(uncached["y"]) == [1.0, 2.0, 3.0]
    assert list(cached["y"]) == [1.0, 1.1, 1.0]
    assert result.same_tokens and result.speedup == pytest.approx(6.0 / 3.1)


def test_whitespace_ticks_are_visible_marks():
    logits = torch.zeros(TEXT.size)
    logits[0] = float("-inf")
    logits[TEXT.stoi[" "]], logits[TEXT.stoi["\n"]], logits[TEXT.stoi["<"]] = 5.0, 4.0, 3.0
    stages = next_token_distribution(logits, 1.0, None, None)
    spec = validated(distribution_figure(distribution_view(stages, TEXT, top_n=20), TEXT))
    assert spec["layout"]["xaxis"]["ticktext"][:3] == [SPACE_MARK, NEWLINE_MARK, "&lt;"]
    assert spec["data"][0]["customdata"][:2] == [f"{SPACE_MARK} space", f"{NEWLINE_MARK} newline"]  # hover names them


def test_a_strip_of_many_short_lines_shows_only_the_last_two():
    toks = [StripToken(f"w{i}", 0.5, 0.5, step=i, newline=True) for i in range(30)]
    out = token_strip_markdown(toks)
    assert out.startswith("… ") and out.removesuffix("  \n").count("  \n") <= 1
    assert TILE.findall(out)[-1][1] == "w29"


def test_presenter_strip_makes_every_line_a_heading():
    toks = [StripToken(t, 0.5, 0.5, step=i, newline=t == "⏎") for i, t in enumerate(["RO", "⏎", "What", "⏎", "ho"])]
    plain = token_strip_markdown(toks, max_chars=None)  # the whole text: three lines
    big = token_strip_markdown(toks, max_chars=None, heading=True)
    lines = big.split("\n")
    assert len(lines) == plain.count("  \n") + 1 == 3  # one heading per line of the text
    assert all(line.startswith("### ") for line in lines)
    assert [line.removeprefix("### ") for line in lines] == plain.split("  \n")  # the same tiles, line by line


def test_presenter_strip_keeps_one_line_of_the_tail():
    toks = [StripToken(t, 0.5, 0.5, step=i, newline=t == "⏎") for i, t in enumerate(["RO", "⏎", "What", "⏎", "ho"])]
    tail = token_strip_markdown(toks, max_chars=48, heading=True, max_lines=1)
    assert "\n" not in tail and tail.startswith("### … ") and "ho" in tail and "What" not in tail
    long = [StripToken("ab", 0.5, 0.5, step=i) for i in range(100)]
    shown = token_strip_markdown(long, max_chars=48, heading=True, max_lines=1)
    assert shown.count("[ab]") == 24  # 48 characters of the tail
    ends = [StripToken(t, 0.5, 0.5, step=i, newline=t == "⏎") for i, t in enumerate(["RO", "⏎"])]
    assert token_strip_markdown(ends, max_chars=48, heading=True, max_lines=1).count("###") == 1  # no empty heading
