"""Section 5 of the Chain rule page through AppTest: candidates in, a ranked table out, each number equal to
the chain rule read another way (log p(prompt + candidate) - log p(prompt) from core.score of full texts)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.lessons.chain_rule import to_unit
from core.lessons.ranking import MAX_CANDIDATES, RANKING_PRESETS
from pages.chain_rule_uses import ANCHOR
from pages.common import shared_model
from tests.app.helpers import arr, chart

torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "chain_rule.py")
TOTAL = "−log p(c | prompt) ({unit})"


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in elements))


def open_page() -> AppTest:
    return rerun(AppTest.from_file(PAGE, default_timeout=120))


def ranked(at: AppTest, unit: str = "nats"):
    """The ranked table as a DataFrame, or None when the section shows none."""
    tables = [d.value for d in at.dataframe if TOTAL.format(unit=unit) in d.value.columns]
    assert len(tables) <= 1
    return tables[0] if tables else None


def chain_rule_oracle(lm, prompt: str, candidate: str) -> float:
    """log p(candidate | prompt) as log p(prompt + candidate) - log p(prompt), each from a whole-text score
    (the prompt's end-of-name factor, if any, left out: the prompt is only the start of the name)."""
    full = math.fsum(core.score(lm, prompt + candidate).logprobs)
    if not prompt:
        return full
    return full - math.fsum(core.score(lm, prompt).logprobs[: len(lm.vocab.encode(prompt))])


def test_names_model_ranks_its_preset_with_the_chain_rules_numbers():
    at = open_page()
    assert ranked(at) is None  # SmolLM2 is the default and waits for its toggle: nothing loaded yet
    assert at.toggle(key="cr_rank_on").value is False
    at.segmented_control(key="cr_rank_model").set_value("names")
    rerun(at)
    prompt, candidates = RANKING_PRESETS["names"]["endings of jo…"]
    assert at.text_input(key="cr_rank_prompt").value == prompt  # a new model loads its first preset
    lm = core.load_text_model("names")
    oracle = {c: chain_rule_oracle(lm, prompt, c) for c in candidates}
    table = ranked(at)
    assert list(table["candidate"]) == sorted(candidates, key=lambda c: -oracle[c])  # ranked by the total
    assert list(table["rank"]) == list(range(1, len(candidates) + 1))
    assert "it also pays for the end of the name" in texts(at.caption)
    for _, row in table.iterrows():
        c = row["candidate"]
        assert row[TOTAL.format(unit="nats")] == pytest.approx(-oracle[c], abs=1e-4)
        assert row["tokens"] == len(c) + 1  # its characters and the end of the name
        assert row["per token (nats)"] == pytest.approx(-oracle[c] / (len(c) + 1), abs=1e-4)
    # the chart: one bar per candidate, its segments adding up to the total
    spec = chart(at, "cr_rank_chart")
    widths, bars = arr(spec["data"][0]["x"]), spec["data"][0]["y"]
    for label, total in zip(spec["data"][1]["y"], arr(spec["data"][1]["x"]), strict=True):
        assert sum(w for w, b in zip(widths, bars, strict=True) if b == label) == pytest.approx(total)
    assert arr(spec["data"][1]["x"]) == pytest.approx(sorted(-oracle[c] for c in candidates), abs=1e-4)


def test_typed_candidates_drive_the_table_in_the_pages_unit():
    at = open_page()
    at.segmented_control(key="cr_unit").set_value("bits")
    at.segmented_control(key="cr_rank_model").set_value("shakespeare")
    rerun(at)
    at.text_input(key="cr_rank_prompt").set_value("To be, or not to ")
    at.text_area(key="cr_rank_candidates").set_value("see\nbe\n\nbe: that is the question\n")
    rerun(at)
    lm = core.load_text_model("shakespeare")
    oracle = {c: chain_rule_oracle(lm, "To be, or not to ", c) for c in ("see", "be", "be: that is the question")}
    table = ranked(at, "bits")
    assert list(table["candidate"]) == [
        c.replace(" ", "␣") for c in sorted(oracle, key=lambda c: -oracle[c])
    ]  # the empty line is not a candidate; spaces shown as ␣
    for _, row in table.iterrows():
        c = row["candidate"].replace("␣", " ")
        assert row[TOTAL.format(unit="bits")] == pytest.approx(to_unit(-oracle[c], "bits"), abs=1e-4)
    text = texts(at.markdown)
    assert "Ranked by the **total**" in text and "length-fair" in text


def test_bad_candidates_give_messages_in_words_and_the_page_stays_usable():
    at = open_page()
    at.segmented_control(key="cr_rank_model").set_value("names")
    rerun(at)
    at.text_area(key="cr_rank_candidates").set_value("\n\n")
    rerun(at)
    assert "There are no candidates: type at least one continuation" in texts(at.error) and ranked(at) is None
    assert at.metric  # the other sections are still drawn
    at.text_area(key="cr_rank_candidates").set_value("\n".join(f"a{'b' * i}" for i in range(MAX_CANDIDATES + 1)))
    rerun(at)
    assert f"at most {MAX_CANDIDATES} are ranked at once. Remove 1 line." in texts(at.error)
    at.text_area(key="cr_rank_candidates").set_value("hn\nhn5")  # '5' is no letter of a name
    rerun(at)
    assert list(ranked(at)["candidate"]) == ["hn"]
    assert "“hn5” is not ranked: names gives it probability 0 ('5' is not in its vocabulary)" in texts(at.info)
    at.text_input(key="cr_rank_prompt").set_value("jo!")
    rerun(at)
    assert "The prompt has characters names cannot read: '!'" in texts(at.error)
    at.text_input(key="cr_rank_prompt").set_value("jo")  # fixed: the table is back
    rerun(at)
    assert list(ranked(at)["candidate"]) == ["hn"]


def test_presets_fill_prompt_and_candidates_and_the_paradigms_are_listed():
    at = open_page()
    at.segmented_control(key="cr_rank_model").set_value("names")
    rerun(at)
    at.pills(key="cr_rank_presets").set_value("endings of mar…")
    rerun(at)
    prompt, candidates = RANKING_PRESETS["names"]["endings of mar…"]
    assert at.text_input(key="cr_rank_prompt").value == prompt
    assert at.text_area(key="cr_rank_candidates").value == "\n".join(candidates)
    assert at.pills(key="cr_rank_presets").value is None  # the pill acts as a button
    assert sorted(ranked(at)["candidate"]) == sorted(candidates)
    text = texts(at.markdown)
    for paradigm, gives in [("Autoregressive", "exact"), ("VAE", "lower bound"), ("GAN", "none")]:
        assert re.search(rf"\*\*{paradigm}\*\*.*\*\*{gives}\*\*", text), paradigm
    assert f"](#{ANCHOR})" in texts(at.caption)  # the ledger section links to this one
    assert [h for h in at.header if h.value == "5. What a likelihood is for"][0].proto.anchor == ANCHOR


@pytest.mark.slow
def test_smollm2_ranks_its_presets_with_the_chain_rules_numbers():
    llm = core.load_text_model("smollm2")
    at = open_page()
    at.toggle(key="cr_rank_on").set_value(True)
    rerun(at)
    for preset in RANKING_PRESETS["smollm2"]:
        at.pills(key="cr_rank_presets").set_value(preset)
        rerun(at)
        prompt, candidates = RANKING_PRESETS["smollm2"][preset]
        oracle = {  # whole texts scored: the presets' boundaries tokenize the same together and apart
            c: math.fsum(core.score(llm, prompt + c).logprobs) - math.fsum(core.score(llm, prompt).logprobs)
            for c in candidates
        }
        table = ranked(at)
        assert [c.replace("␣", " ") for c in table["candidate"]] == sorted(candidates, key=lambda c: -oracle[c])
        for _, row in table.iterrows():
            c = row["candidate"].replace("␣", " ")
            assert row[TOTAL.format(unit="nats")] == pytest.approx(-oracle[c], abs=2e-3)  # float32 passes
