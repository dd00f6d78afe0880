"""The chain-rule lesson's maths against independent oracles: hand maths, brute force, other code paths."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

import core
import core.checkpoint
import core.text.vocab
from core.display import scientific_from_log10
from core.errors import InputError
from core.figures.chain_rule import ledger_bars, worked_waterfall
from core.lessons.chain_rule import (
    ORDERINGS,
    SYMBOLS,
    conditional_tables,
    max_abs_difference,
    ordering_formula,
    product_of_conditionals,
    random_joint,
    sequence_factors,
    to_unit,
    worked_example,
)
from core.lessons.ledger import (
    CLASSIFIER_EXAMPLES,
    LEDGER_EXAMPLES,
    bits_difference,
    build_ledger,
    candidate,
    classify,
    context_note,
    describe_chars,
)
from core.models.transformer import GPT, GPTConfig
from core.text.language_model import TextModel
from core.text.vocab import names_vocab, text_vocab

torch.set_num_threads(1)

# ---------------------------------------------------------------------------------------------
# Small models built here (random weights), so the tests do not wait for the shipped ones.


def tiny_gpt(vocab, block_size: int, seed: int, name: str) -> TextModel:
    torch.manual_seed(seed)
    config = GPTConfig(
        block_size=block_size,
        vocab_size=vocab.size,
        n_layer=2,
        n_head=2,
        n_embd=16,
        input_only_ids=tuple(vocab.input_only_ids),
    )
    net = GPT(config)
    with torch.no_grad():  # larger weights than the init so the distributions are far from uniform
        for p in net.parameters():
            p.mul_(4.0)
    net.eval()
    return TextModel(name=name, vocab=vocab, net=net, card={"kind": "transformer"})


@pytest.fixture(scope="module")
def names_gpt() -> TextModel:
    return tiny_gpt(names_vocab(), block_size=8, seed=0, name="names")


@pytest.fixture(scope="module")
def play_gpt() -> TextModel:
    return tiny_gpt(text_vocab("ROMEO: thou art, my love!\nabcdefghijklmnopqrstuvwxyz"), 8, seed=1, name="shakespeare")


def oracle_logprobs(lm: TextModel, ids: list[int], context_lengths: list[int]) -> list[float]:
    """log p(ids[t+1] | the ctx tokens ending at t), one separate forward pass per prediction."""
    out = []
    for t, ctx in enumerate(context_lengths):
        window = ids[t + 1 - ctx : t + 1]
        logits, _ = lm.net(torch.tensor([window]))  # (1, ctx, V)
        out.append(torch.log_softmax(logits[0, -1].double(), dim=-1)[ids[t + 1]].item())
    return out


# ---------------------------------------------------------------------------------------------
# 1. The worked example


def test_worked_example_matches_hand_maths():
    ex = worked_example()  # p(B) = 0.4, p(A|B) = 0.5, p(C|B,A) = 0.6
    assert ex.joint == pytest.approx(0.12, abs=1e-15)
    # ln 0.4 = -0.916291, ln 0.5 = -0.693147, ln 0.6 = -0.510826 (tables); ln 0.12 = -2.120264
    assert ex.neglogs == pytest.approx((0.916291, 0.693147, 0.510826), abs=1e-6)
    assert ex.running == pytest.approx((0.916291, 1.609438, 2.120264), abs=1e-6)
    assert ex.nll_of_joint == pytest.approx(2.120264, abs=1e-6)
    assert ex.nll_sum == pytest.approx(ex.nll_of_joint, abs=1e-12)  # the two ways agree
    assert f"{ex.joint:.4g}" == "0.12" and f"{ex.nll_sum:.2f}" == "2.12"
    assert to_unit(ex.nll_sum, "bits") == pytest.approx(3.058894, abs=1e-6)  # log2(1/0.12)
    assert ex.zero_factors == []


def test_worked_example_follows_its_factors():
    ex = worked_example([0.5, 0.5, 0.5])
    assert ex.joint == 0.125
    assert to_unit(ex.nll_sum, "bits") == pytest.approx(3.0)  # three fair coin flips: 3 bits


def test_zero_factor_gives_infinite_nll_without_crashing():
    ex = worked_example([0.4, 0.0, 0.6])
    assert ex.joint == 0.0
    assert ex.neglogs[1] == math.inf and math.isfinite(ex.neglogs[0])
    assert ex.nll_of_joint == math.inf and ex.nll_sum == math.inf
    assert ex.zero_factors == ["p(A | B)"]


@pytest.mark.parametrize("bad", [[1.5, 0.5, 0.5], [-0.1, 0.5, 0.5], [math.nan, 0.5, 0.5], [0.5, 0.5]])
def test_worked_example_rejects_non_probabilities(bad):
    with pytest.raises(InputError):
        worked_example(bad)


def test_unknown_unit_is_an_input_error():
    with pytest.raises(InputError, match="nats, bits"):
        to_unit(1.0, "hartleys")


# ---------------------------------------------------------------------------------------------
# 2. Orderings of an exact joint, against brute-force sums over the 27 sequences


def brute_conditional(joint: np.ndarray, fixed: dict[int, int], position: int, symbol: int) -> float:
    """p(x_position = symbol | x_p = s for p, s in fixed), by summing the joint over all sequences."""
    num = den = 0.0
    for seq in itertools.product(range(joint.shape[0]), repeat=joint.ndim):
        if all(seq[p] == s for p, s in fixed.items()):
            den += joint[seq]
            if seq[position] == symbol:
                num += joint[seq]
    return num / den


def test_random_joint_is_a_seeded_distribution():
    a, b, c = random_joint(3), random_joint(3), random_joint(4)
    assert a.shape == (3, 3, 3) and (a > 0).all()
    assert a.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(a, b) and not np.allclose(a, c)


@pytest.mark.parametrize("order", ORDERINGS, ids=["".join(map(str, o)) for o in ORDERINGS])
def test_every_ordering_factors_the_joint_exactly(order):
    joint = random_joint(7)
    for seq in itertools.product(range(3), repeat=3):
        factors = sequence_factors(joint, order, seq)
        assert [f.position for f in factors] == list(order)
        product = 1.0
        for k, f in enumerate(factors):
            expected = brute_conditional(joint, {p: seq[p] for p in order[:k]}, order[k], seq[order[k]])
            assert f.prob == pytest.approx(expected, rel=1e-12)
            assert f.symbol == SYMBOLS[seq[order[k]]]
            product *= expected
        assert product == pytest.approx(joint[seq], rel=1e-12)  # brute-force chain rule
    assert np.allclose(product_of_conditionals(joint, order), joint, rtol=1e-12, atol=0)
    assert max_abs_difference(joint, order) < 1e-15


@pytest.mark.parametrize("order", ORDERINGS)
def test_conditional_tables_are_normalised(order):
    for k, table in enumerate(conditional_tables(random_joint(11), order)):
        assert table.shape == (3,) * (k + 1)
        assert np.allclose(table.sum(axis=-1), 1.0)


def test_factor_labels_and_formula():
    f = sequence_factors(random_joint(0), (2, 0, 1), (1, 0, 2))
    assert [x.label for x in f] == ["p(x3=C)", "p(x1=B | x3=C)", "p(x2=A | x3=C, x1=B)"]
    assert ordering_formula((2, 0, 1)) == r"p(x_3)\,p(x_1 \mid x_3)\,p(x_2 \mid x_3, x_1)"


def test_not_an_ordering_is_an_input_error():
    with pytest.raises(InputError):
        conditional_tables(random_joint(0), (0, 0, 1))


# ---------------------------------------------------------------------------------------------
# 3. The ledger


def test_ledger_totals_equal_core_score_on_the_shipped_bigram():
    lm = core.load_text_model("names-bigram")
    ledger = build_ledger(lm, "Emma")
    s = core.score(lm, "Emma")
    assert ledger.nll == s.nll and ledger.bits == s.bits
    assert ledger.perplexity == pytest.approx(s.perplexity) and ledger.joint_log10 == pytest.approx(s.joint_log10)
    assert [r.token for r in ledger.rows] == ["e", "m", "m", "a", "."]
    # Independent oracle: the count table itself, add-one smoothed and normalised by hand.
    counts = lm.net.counts + lm.net.config.smoothing  # (V, V)
    ids = [0, 5, 13, 13, 1, 0]  # . e m m a .
    hand = [(counts[a, b] / counts[a].sum()).item() for a, b in itertools.pairwise(ids)]
    assert [r.prob for r in ledger.rows] == pytest.approx(hand, rel=1e-6)  # float32 logits
    assert ledger.rows[-1].running == pytest.approx(-sum(math.log(p) for p in hand), rel=1e-6)
    assert ledger.bits_per_token == pytest.approx(ledger.bits / 5)
    assert context_note(ledger).startswith("The bigram model reads only the previous token")


def test_ledger_rows_add_up_and_match_separate_forward_passes(names_gpt):
    text = "maximilianalexander"  # 20 predictions with the end token: more than the block of 8
    ledger = build_ledger(names_gpt, text)
    s = core.score(names_gpt, text)
    ids = [0] + names_gpt.vocab.encode(text) + [0]
    assert ledger.nll == pytest.approx(s.nll, rel=1e-12)
    assert [r.running for r in ledger.rows] == pytest.approx(list(itertools.accumulate(r.neglog for r in ledger.rows)))
    assert ledger.rows[-1].running == pytest.approx(s.nll, rel=1e-12)
    assert ledger.context_lengths == s.context_lengths
    oracle = oracle_logprobs(names_gpt, ids, ledger.context_lengths)
    assert [-r.neglog for r in ledger.rows] == pytest.approx(oracle, abs=1e-5)
    assert ledger.history_cut and ledger.n_tokens == 20


def test_top5_alternatives_are_the_five_largest(names_gpt):
    ledger = build_ledger(names_gpt, "olivia")
    s = core.score(names_gpt, "olivia")
    for i, row in enumerate(ledger.rows):
        probs = s.conditional_probs[i].tolist()
        ranked = sorted(range(len(probs)), key=lambda j: -probs[j])[:5]  # plain Python sort as oracle
        assert [p for _, p in row.alternatives] == pytest.approx([probs[j] for j in ranked])
        assert [t for t, _ in row.alternatives] == [names_gpt.vocab.token_text(j) for j in ranked]
        assert all(a[1] >= b[1] for a, b in itertools.pairwise(row.alternatives))


def test_context_note_states_the_real_context_lengths(names_gpt):
    assert context_note(build_ledger(names_gpt, "emma")) is None  # 5 predictions fit the block of 8
    ledger = build_ledger(names_gpt, "maximilianalexander")
    later = ledger.context_lengths[8:]
    assert min(later) == 5 and max(later) == 8  # windows of 8 advancing by 4: at least 8 // 2 + 1
    note = context_note(ledger)
    assert "windows of 8 tokens" in note and "advance by half a block (4 tokens)" in note
    assert f"between {min(later)} and {max(later)} tokens" in note


def test_ledger_bad_input(names_gpt):
    with pytest.raises(core.InputError, match="empty"):
        build_ledger(names_gpt, "")
    with pytest.raises(core.VocabError) as e:
        build_ledger(names_gpt, "o'brien")
    assert e.value.bad_chars == ["'"] and "abcdefghijklmnopqrstuvwxyz" in str(e.value)


@pytest.mark.parametrize(
    ("log10", "expected"),
    [
        (-6.4935, "3.21 × 10⁻⁷"),
        (-2000.3, "5.01 × 10⁻²⁰⁰¹"),
        (-1e-9, "1"),
        (-4.0000001, "1.00 × 10⁻⁴"),
        (-0.5, "0.316"),
        (math.log10(0.12), "0.12"),
        (2.5, "316"),
        (3.0, "1.00 × 10³"),
    ],
)
def test_scientific_notation_from_log10(log10, expected):
    assert scientific_from_log10(log10) == expected


# ---------------------------------------------------------------------------------------------
# 4. Comparing models and the per-character classifier


def per_char_bits(lm: TextModel, text: str) -> float:
    """-log2 p(text) / len(text), one prefix at a time through logits_for_context (no score())."""
    ids = core.text.language_model.context_ids(lm, text) + ([lm.vocab.eos_id] if lm.vocab.eos_id is not None else [])
    total = 0.0
    for t in range(1, len(ids)):
        logits = core.text.language_model.logits_for_context(lm, ids[:t])  # (V,)
        total -= torch.log_softmax(logits.double(), dim=-1)[ids[t]].item()
    return total / math.log(2) / len(text)


def test_classifier_margin_is_the_difference_of_per_char_nlls(names_gpt, play_gpt):
    for text in ["romeo", "thou", "art"]:
        result = classify([names_gpt, play_gpt], text)
        a, b = per_char_bits(names_gpt, text), per_char_bits(play_gpt, text)
        assert result.winner == ("names" if a < b else "shakespeare")
        assert result.margin == pytest.approx(abs(a - b), abs=1e-6)
        assert [c.bits_per_char for c in result.candidates] == pytest.approx([a, b], abs=1e-6)


def test_text_outside_one_vocabulary_has_probability_zero_there(names_gpt, play_gpt):
    result = classify([names_gpt, play_gpt], "ROMEO: thou")  # ':' and ' ' are not names characters
    names, play = result.candidates
    assert names.ledger is None and set(names.missing_chars) == {":", " "}
    assert names.bits_per_char == math.inf
    assert result.winner == "shakespeare" and result.margin == math.inf
    assert bits_difference(play, names) == math.inf
    neither = classify([names_gpt, play_gpt], "%%")
    assert neither.winner is None


def test_bits_difference_of_two_models(names_gpt):
    bigram = core.load_text_model("names-bigram")
    a, b = candidate(names_gpt, "olivia"), candidate(bigram, "olivia")
    assert bits_difference(a, b) == pytest.approx(
        core.score(bigram, "olivia").bits - core.score(names_gpt, "olivia").bits
    )


def test_names_examples_are_in_the_names_vocabulary():
    for text in LEDGER_EXAMPLES["names"] + LEDGER_EXAMPLES["names-bigram"]:
        names_vocab().encode(text)  # raises VocabError otherwise
    assert any(len(t) + 1 > 16 for t in LEDGER_EXAMPLES["names"])  # one example shows the sliding window


def test_shakespeare_examples_are_in_its_vocabulary():
    card = core.checkpoint.MODELS_DIR / "shakespeare.json"
    vocab = core.text.vocab.Vocab.from_dict(json.loads(card.read_text())["vocab"])
    for text in LEDGER_EXAMPLES["shakespeare"] + CLASSIFIER_EXAMPLES:
        vocab.encode(text)
    assert any(len(t) > 128 for t in LEDGER_EXAMPLES["shakespeare"])


def test_describe_chars_names_invisible_characters():
    assert describe_chars([" ", ",", "\n"]) == "' ' (space), ',', U+000A"


def test_classifier_rejects_empty_text(names_gpt, play_gpt):
    with pytest.raises(InputError, match="empty"):
        classify([names_gpt, play_gpt], "")


# ---------------------------------------------------------------------------------------------
# Figures


def test_waterfall_shows_each_term_and_the_total():
    fig = worked_waterfall(worked_example(), unit="bits")
    (trace,) = fig.data
    assert trace.type == "waterfall"
    assert list(trace.measure) == ["relative", "relative", "relative", "total"]
    assert list(trace.y[:3]) == pytest.approx([-math.log2(0.4), 1.0, -math.log2(0.6)])
    assert trace.text[3] == f"{-math.log2(0.12):.3f}"
    assert "bits" in fig.layout.title.text


def test_waterfall_with_a_zero_factor_labels_infinity():
    fig = worked_waterfall(worked_example([0.4, 0.0, 0.6]))
    (trace,) = fig.data
    assert trace.type == "bar"  # the running total is ∞ from the zero factor on: each term on its own
    assert all(math.isfinite(v) for v in trace.y)  # no inf handed to plotly
    assert list(trace.text) == ["0.916", "", "0.511", ""]
    labels = {a.x: a.text for a in fig.layout.annotations}  # ∞ is written on the bars that run off the top
    assert labels == {"−log p(A | B)": "∞ (p = 0)", "total −log p": "∞"}
    assert trace.y[0] == pytest.approx(-math.log(0.4)) and trace.y[2] == pytest.approx(-math.log(0.6))
    assert trace.y[1] > fig.layout.yaxis.range[1] and trace.y[3] > fig.layout.yaxis.range[1]  # off the top


def test_ledger_bars_carry_the_numbers_and_top5_hover(names_gpt):
    ledger = build_ledger(names_gpt, "emma")
    fig = ledger_bars(ledger, unit="bits")
    bars, line = fig.data
    assert list(bars.y) == pytest.approx([r.neglog / math.log(2) for r in ledger.rows])
    assert list(line.y) == pytest.approx([r.running / math.log(2) for r in ledger.rows])
    assert line.y[-1] == pytest.approx(ledger.bits)
    assert list(fig.layout.xaxis.ticktext) == ["e", "m", "m", "a", "."]
    for row, hover in zip(ledger.rows, bars.hovertext, strict=True):
        for token, p in row.alternatives:
            assert f"{token}: {p:.3f}" in hover
        assert f"p = {row.prob:.4g}" in hover


def test_ledger_bars_escape_special_tokens(play_gpt):
    fig = ledger_bars(build_ledger(play_gpt, "a b"), unit="nats")
    assert list(fig.layout.xaxis.ticktext) == ["a", "␣", "b"]
    assert all("<s>" not in h for h in fig.data[0].hovertext)  # would be eaten as an HTML tag
