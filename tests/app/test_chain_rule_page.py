"""The Chain rule page driven through AppTest: controls in, displayed numbers checked against core and hand maths."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
import core.text.language_model
from core.checkpoint import MODELS_DIR, save_checkpoint
from core.lessons.chain_rule import ORDERINGS, random_joint
from core.lessons.ledger import CLASSIFIER_EXAMPLES, LEDGER_EXAMPLES
from core.models.transformer import GPT, GPTConfig
from core.text.vocab import text_vocab
from pages.common import shared_model
from tests.app.helpers import arr, chart

torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "chain_rule.py")
BAC = (1, 0, 2)  # the page's default sequence: x1=B, x2=A, x3=C


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str, exact: bool = False) -> str:
    """The displayed value of the first metric whose label starts with (or is) ``label``."""
    for m in at.metric:
        if m.label == label or (not exact and m.label.startswith(label)):
            return m.value
    raise AssertionError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def texts(elements) -> str:
    """The bodies of these elements as a reader sees them (the page backslash-escapes markdown)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in elements))


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def tiny_shakespeare_checkpoint(directory) -> None:
    """A small random character GPT saved as 'shakespeare', so the page can be tested before training ends."""
    torch.manual_seed(0)
    vocab = text_vocab("\n !$&',-.:;?*ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    config = GPTConfig(block_size=16, vocab_size=vocab.size, n_layer=1, n_head=2, n_embd=16, input_only_ids=(0,))
    net = GPT(config)
    card = {"name": "shakespeare", "kind": "transformer", "config": config.to_dict(), "vocab": vocab.to_dict()}
    save_checkpoint(net.state_dict(), card, directory, "shakespeare")


def models_dir_with(tmp_path, monkeypatch, names: list[str], fake_shakespeare: bool = False):
    """Point the app at a folder holding only ``names`` (links to the shipped files)."""
    for name in names:
        for ext in ("json", "safetensors"):
            src = MODELS_DIR / f"{name}.{ext}"
            (tmp_path / src.name).symlink_to(src)
    if fake_shakespeare:
        tiny_shakespeare_checkpoint(tmp_path)
    monkeypatch.setattr(core.text.language_model, "MODELS_DIR", tmp_path)
    shared_model.clear()  # the cache_resource would otherwise serve models from the real folder


@pytest.fixture(autouse=True)
def fresh_model_cache():
    shared_model.clear()
    yield
    shared_model.clear()


# ---------------------------------------------------------------------------------------------
# 1. The worked example


def test_defaults_show_the_worked_example():
    at = run_page()
    assert at.title[0].value == "Chain rule"
    assert metric(at, "joint p(B, A, C)") == "0.12"
    assert metric(at, "−log joint") == "2.120"
    assert metric(at, "Σ −log terms") == "2.120"
    assert f"{-math.log(0.4 * 0.5 * 0.6):.3f}" == "2.120"  # hand maths: ln(1/0.12)
    assert "0.916 + 0.693 + 0.511 = **2.120 nats**" in texts(at.markdown)


def test_changing_a_factor_and_the_unit_updates_everything():
    at = run_page()
    at.number_input(key="cr_factor_2").set_value(0.3)
    rerun(at)
    assert metric(at, "joint p(B, A, C)") == "0.06"
    assert metric(at, "Σ −log terms") == f"{-math.log(0.06):.3f}" == "2.813"
    assert "0.916 + 0.693 + 1.204" in texts(at.markdown)
    at.segmented_control(key="cr_unit").set_value("bits")
    rerun(at)
    assert metric(at, "−log joint (bits)") == f"{-math.log2(0.06):.3f}"
    assert "1.322 + 1.000 + 1.737" in texts(at.markdown)


def test_a_zero_factor_shows_infinity_and_explains_it():
    at = run_page()
    at.number_input(key="cr_factor_0").set_value(0.0)
    rerun(at)
    assert metric(at, "joint p(B, A, C)") == "0"
    assert metric(at, "−log joint") == "∞"
    assert metric(at, "Σ −log terms") == "∞"
    assert "−log 0 = ∞" in texts(at.warning)
    assert "p(B) = 0" in texts(at.warning)


# ---------------------------------------------------------------------------------------------
# 2. Orderings


def test_every_ordering_reproduces_the_joint():
    at = run_page()
    joint = random_joint(0)  # the page's first distribution
    for order in ORDERINGS:
        at.selectbox(key="cr_order").set_value(order)
        rerun(at)
        assert float(metric(at, "max |product − joint|")) < 1e-15
        assert metric(at, "product of the factors for BAC") == metric(at, "joint p(BAC)") == f"{joint[BAC]:.6g}"


def test_new_distribution_button_draws_a_new_joint():
    at = run_page()
    before = metric(at, "joint p(BAC)")
    at.button(key="cr_new_joint").click()
    rerun(at)
    after = metric(at, "joint p(BAC)")
    assert after == f"{random_joint(1)[BAC]:.6g}" != before
    assert at.number_input(key="cr_joint_seed").value == 1  # "Distribution #", in the link


def test_draws_from_the_joint_one_factor_at_a_time_match_core_and_a_rule_names_the_joint_drawn_from():
    """The section's distance equals core's for the same joint, N and seed; with top-2 on each conditional
    the page shows the distance from the implied joint, and the draws' chart gains that joint's markers."""
    from core.lessons.joint_sampling import ancestral_sample, frequencies, implied_joint, total_variation
    from core.text.sampling import SamplingSettings

    at = run_page()
    joint = random_joint(0)
    at.number_input(key="cr_draws").set_value(5000)
    at.number_input(key="cr_draw_seed").set_value(3)
    rerun(at)
    drawn = frequencies(ancestral_sample(joint, 5000, 3), 3)
    assert metric(at, "draws vs the joint (TV)") == f"{total_variation(drawn, joint):.4f}"
    assert not any(m.label.startswith("draws vs the joint they follow") for m in at.metric)
    at.selectbox(key="cr_draw_top_k").set_value(2)
    rerun(at)
    rule = SamplingSettings(1.0, 2)
    drawn = frequencies(ancestral_sample(joint, 5000, 3, rule), 3)
    q = implied_joint(joint, rule)
    assert metric(at, "draws vs the joint they follow") == f"{total_variation(drawn, q):.4f}"
    assert metric(at, "that joint vs the original") == f"{total_variation(q, joint):.4f}"
    assert "product of the **changed** conditionals" in texts(at.markdown)


# ---------------------------------------------------------------------------------------------
# 3. The ledger


@pytest.mark.parametrize("model", ["names", "names-bigram"])
def test_ledger_total_equals_core_score(model):
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value(model)
    at.text_input(key="cr_ledger_text").set_value("olivia")
    rerun(at)
    s = core.score(core.load_text_model(model), "olivia")
    assert metric(at, "NLL (nats)") == f"{s.nll:.4f}"
    assert metric(at, "NLL (bits)") == f"{s.bits:.4f}"
    assert metric(at, "bits per token") == f"{s.bits / len(s.tokens):.4f}"
    assert metric(at, "perplexity") == f"{s.perplexity:.3f}"
    assert metric(at, "log10 p(text)") == f"{s.joint_log10:.4f}"
    table = next(d.value for d in at.dataframe if "running total (nats)" in d.value.columns)  # the ledger
    assert list(table["token"]) == s.tokens
    assert table["running total (nats)"].iloc[-1] == pytest.approx(s.nll, rel=1e-12)
    assert list(table["p(xᵢ | x<ᵢ)"]) == pytest.approx(s.probs)
    assert list(table["context read"]) == s.context_lengths
    # 7 predictions fit the transformer's block of 16; the bigram always reads one token
    assert ("reads only the previous token" in texts(at.info)) == (model == "names-bigram")


def test_clicking_an_example_scores_it():
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("names-bigram")
    rerun(at)
    at.pills(key="cr_ledger_examples").set_value("xzqvk")
    rerun(at)
    assert at.text_input(key="cr_ledger_text").value == "xzqvk"
    assert at.pills(key="cr_ledger_examples").value is None  # the pill acts as a button
    s = core.score(core.load_text_model("names-bigram"), "xzqvk")
    assert metric(at, "NLL (nats)") == f"{s.nll:.4f}"


def test_long_text_states_the_sliding_window_with_real_context_lengths():
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("names")
    at.text_input(key="cr_ledger_text").set_value("maximilianalexanderjones")
    rerun(at)
    lm = core.load_text_model("names")
    s = core.score(lm, "maximilianalexanderjones")
    note = texts(at.info)
    cut = [c for i, c in enumerate(s.context_lengths) if c < i + 1]
    assert f"windows of {lm.block_size} tokens" in note
    assert f"between {min(cut)} and {max(cut)} tokens of context" in note
    assert metric(at, "NLL (nats)") == f"{s.nll:.4f}"


def test_shakespeare_long_example_is_scored_with_windows():
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("shakespeare")
    rerun(at)
    long_example = max(LEDGER_EXAMPLES["shakespeare"], key=len)
    at.pills(key="cr_ledger_examples").set_value(long_example)
    rerun(at)
    text = at.text_input(key="cr_ledger_text").value
    assert text == long_example and len(text) > 128
    lm = core.load_text_model("shakespeare")
    s = core.score(lm, text)
    cut = [c for i, c in enumerate(s.context_lengths) if c < i + 1]
    note = texts(at.info)
    assert "windows of 128 tokens" in note and f"between {min(cut)} and {max(cut)} tokens of context" in note
    assert metric(at, "NLL (nats)") == f"{s.nll:.4f}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "The text is empty"),
        ("o'brien", "These characters are not in the model's vocabulary: \"'\""),
        ("zoë 2", "' ' (space), '2', 'ë'"),
    ],
)
def test_bad_ledger_text_gives_an_error_and_the_page_stays_usable(text, expected):
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("names-bigram")
    at.text_input(key="cr_ledger_text").set_value(text)
    rerun(at)
    errors = texts(at.error)
    assert expected in errors
    if text:
        assert "Allowed characters: abcdefghijklmnopqrstuvwxyz" in errors
    assert metric(at, "joint p(B, A, C)") == "0.12"  # the rest of the page still works
    at.text_input(key="cr_ledger_text").set_value("anna")
    rerun(at)
    assert metric(at, "NLL (nats)") == f"{core.score(core.load_text_model('names-bigram'), 'anna').nll:.4f}"


def test_missing_shakespeare_is_a_clear_error(tmp_path, monkeypatch):
    models_dir_with(tmp_path, monkeypatch, ["names-bigram"])
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("shakespeare")
    rerun(at)
    errors = texts(at.error)
    assert "The model **shakespeare** is unavailable" in errors and "missing" in errors
    assert "The classifier needs both models" in texts(at.info)
    assert metric(at, "joint p(B, A, C)") == "0.12"
    at.segmented_control(key="cr_ledger_model").set_value("names-bigram")
    rerun(at)
    assert metric(at, "NLL (nats)") == f"{core.score(core.load_text_model('names-bigram'), 'emma').nll:.4f}"


# ---------------------------------------------------------------------------------------------
# 4. Two models, and the classifier


def test_two_models_side_by_side_difference_in_bits():
    at = run_page()
    at.text_input(key="cr_compare_text").set_value("olivia")
    rerun(at)
    a = core.score(core.load_text_model("names"), "olivia").bits
    b = core.score(core.load_text_model("shakespeare"), "olivia").bits
    assert metric(at, "names", exact=True) == f"{a:.3f} bits"
    assert metric(at, "shakespeare", exact=True) == f"{b:.3f} bits"
    winner = "names" if a < b else "shakespeare"
    assert f"**{winner}** explains “olivia” better, by **{abs(a - b):.2f} bits**" in texts(at.success)
    # each score names its event, and the verdict says the two events differ
    captions = " ".join(c.value for c in at.caption)
    assert "p(a name is exactly “olivia”: these letters, then the end)" in captions
    assert "p(a text starts with “olivia”, whatever follows)" in captions
    assert "probabilities of different events" in texts(at.success)


@pytest.mark.parametrize("example", CLASSIFIER_EXAMPLES)
def test_every_offered_example_works_with_the_default_models(example):
    """No ∞ against ∞: each example is scored by at least one default model, and a model that cannot
    score it gets one sentence, not an infinite number."""
    at = run_page()
    at.pills(key="cr_compare_examples").set_value(example)
    rerun(at)
    assert not at.exception and not at.error
    values = [metric(at, "names", exact=True), metric(at, "shakespeare", exact=True)]
    assert all("∞" not in v for v in values) and any(v.endswith(" bits") for v in values)
    assert "∞" not in metric(at, "names (bits/char)", exact=True)
    verdicts = texts(at.success) + texts(at.info)
    assert "explains" in verdicts or "Only **shakespeare** can produce this text" in verdicts


def test_lower_casing_is_shown_next_to_the_figure():
    at = run_page()
    at.text_input(key="cr_compare_text").set_value("ROMEO")
    rerun(at)
    assert "names scored “romeo”: its vocabulary has no capitals, so text is lower-cased first." in texts(at.caption)
    # the same number as the lower-case text, which the caption says was scored
    a = core.score(core.load_text_model("names"), "romeo").bits
    assert metric(at, "names", exact=True) == f"{a:.3f} bits"
    at.text_input(key="cr_compare_text").set_value("romeo")
    rerun(at)
    assert "lower-cased first" not in texts(at.caption)


def test_classifier_margin_and_out_of_vocabulary(tmp_path, monkeypatch):
    models_dir_with(tmp_path, monkeypatch, ["names", "names-bigram"], fake_shakespeare=True)
    at = run_page()
    at.text_input(key="cr_compare_text").set_value("thou")
    rerun(at)
    names = core.load_text_model("names", tmp_path)
    play = core.load_text_model("shakespeare", tmp_path)
    per_char = {lm.name: core.score(lm, "thou").bits / 4 for lm in (names, play)}
    assert metric(at, "names (bits/char)", exact=True) == f"{per_char['names']:.3f}"
    assert metric(at, "shakespeare (bits/char)", exact=True) == f"{per_char['shakespeare']:.3f}"
    winner = min(per_char, key=per_char.get)
    margin = abs(per_char["names"] - per_char["shakespeare"])
    assert f"**{winner}** finds “thou” more likely, by a margin of **{margin:.3f} bits per character**" in texts(
        at.success
    )
    # A comma and a space are outside the names vocabulary: probability 0 there, an infinite margin.
    at.pills(key="cr_compare_examples").set_value("To be, or not to be")
    rerun(at)
    assert metric(at, "names (bits/char)", exact=True) == "p = 0"
    assert "**shakespeare** wins by default. names gives this text probability 0: ' ' (space), ','" in texts(at.info)
    assert "lower-cased" not in texts(at.caption)  # no note on how a text it cannot score was read
    # Typed text is shown literally: no emphasis or $LaTeX$ made from it.
    at.text_input(key="cr_compare_text").set_value("*thou* $art$")
    rerun(at)
    (verdict,) = [s for s in at.info if "wins by default" in s.value]  # the classifier's verdict
    assert "'\\*'" in verdict.value and "'\\$'" in verdict.value
    at.text_input(key="cr_compare_text").set_value("")
    rerun(at)
    assert "The text is empty" in texts(at.error)


# ---------------------------------------------------------------------------------------------
# The real LLM


@pytest.mark.slow
def test_llm_ledger_and_two_prompt_classifier_equal_core_score():
    llm = core.load_text_model("smollm2")
    at = run_page()
    at.segmented_control(key="cr_ledger_model").set_value("smollm2")
    rerun(at)
    at.text_input(key="cr_ledger_text").set_value("The capital of France is Paris.")
    rerun(at)
    s = core.score(llm, "The capital of France is Paris.")
    assert metric(at, "NLL (nats)") == f"{s.nll:.4f}"
    table = next(d.value for d in at.dataframe if "running total (nats)" in d.value.columns)  # the ledger
    assert list(table["token"])[:2] == ["The", "␣capital"]  # real sub-word tokens, the leading space visible
    # two prompts, one text: the bits shown are p(text | prompt) from core.score
    at.toggle(key="cr_pair_on").set_value(True)
    rerun(at)
    text = at.text_input(key="cr_pair_text").value
    bits = [core.score(llm, text, prompt=at.text_input(key=k).value).bits for k in ("cr_prompt_a", "cr_prompt_b")]
    assert metric(at, "−log₂ p(text | prompt A)") == f"{bits[0]:.2f} bits"
    assert metric(at, "−log₂ p(text | prompt B)") == f"{bits[1]:.2f} bits"
    winner = "A" if bits[1] > bits[0] else "B"
    assert f"Prompt **{winner}** explains the text better, by **{abs(bits[1] - bits[0]):.2f} bits**" in texts(
        at.success
    )
    # too long for the LLM's ledger: a clear message with the limit, the rest of the page still there
    at.text_input(key="cr_ledger_text").set_value("a " * 400)  # 400 tokens in 800 characters
    rerun(at)
    assert "scores at most 256 tokens" in texts(at.error) and metric(at, "joint p(B, A, C)")


# ---------------------------------------------------------------------------------------------
# 2b. The ordering pitfall on the trained pair


def test_ordering_section_factors_a_name_both_ways_and_compares_the_heldout_names():
    from core.lessons.ordering import heldout_comparison

    at = run_page()
    forward, backward = core.load_text_model("names"), core.load_text_model("names-reversed")
    at.text_input(key="cr_order_name").set_value("Noelle")  # a held-out name: a dot of the scatter
    rerun(at)
    fwd, rev = core.score(forward, "noelle"), core.score(backward, "elleon")
    assert metric(at, "−log p(name) under names (nats)", exact=True) == f"{fwd.nll:.3f}"
    assert metric(at, "−log p(name) under names-reversed (nats)", exact=True) == f"{rev.nll:.3f}"
    factor_tables = [d.value for d in at.dataframe if "factor" in d.value.columns and "p" in d.value.columns]
    left, right = factor_tables  # the two orders, side by side
    assert left["factor"].tolist()[:2] == ["p(n)", "p(o | n)"] and np.allclose(left["p"], fwd.probs)
    assert right["factor"].tolist()[-1] == "p(end | elleon)" and np.allclose(right["p"], rev.probs)
    assert f"a difference of {rev.nll - fwd.nll:+.3f} nats" in texts(at.markdown)
    c = heldout_comparison(forward, backward)
    assert metric(at, "names: held-out (nats/char)", exact=True) == f"{c.forward_per_token:.4f}"
    assert metric(at, "names-reversed: held-out (nats/char)", exact=True) == f"{c.reversed_per_token:.4f}"
    scatter = chart(at, "cr_order_scatter")
    dots = [d for d in scatter["data"] if d.get("mode") == "markers"][0]
    assert np.allclose(arr(dots["x"]), c.forward) and np.allclose(arr(dots["y"]), c.reversed)
    highlighted = [d for d in scatter["data"] if d.get("mode") == "markers+text"]
    assert highlighted and highlighted[0]["text"] == ["noelle"]  # marked on the scatter
    assert f"Correlation {c.correlation:.3f}" in texts(at.caption)
    # bits follow the page's unit
    at.segmented_control(key="cr_unit").set_value("bits")
    rerun(at)
    assert metric(at, "−log p(name) under names (bits)", exact=True) == f"{fwd.nll / math.log(2):.3f}"
    # a name it cannot score: one message, the page goes on
    at.text_input(key="cr_order_name").set_value("o'neil")
    rerun(at)
    assert "not in the model's vocabulary" in texts(at.error)
    assert at.header[-1].value == "Check yourself" or any(h.value.startswith("4.") for h in at.header)
