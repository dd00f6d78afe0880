"""Ranking candidate continuations by log p(candidate | prompt), against the chain rule read another way:
log p(prompt + candidate) - log p(prompt) from scoring the full texts, and one forward pass per token."""

import math

import pytest
import torch

import core
from core.errors import ChainRuleError
from core.lessons.ranking import (
    CANDIDATE_MAX_CHARS,
    MAX_CANDIDATES,
    RANKING_PRESETS,
    boundary_note,
    joint_split_differs,
    parse_candidates,
    rank_candidates,
)
from core.text.language_model import TextModel, next_token_logits, score
from core.text.vocab import names_vocab, text_vocab
from tests.unit.lessons.test_chain_rule import tiny_gpt

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def names_gpt() -> TextModel:  # an end-of-name token: every candidate pays for the end too
    return tiny_gpt(names_vocab(), block_size=8, seed=0, name="names")


@pytest.fixture(scope="module")
def play_gpt() -> TextModel:  # free text, no end token; block 8 so long prompts are read in windows
    return tiny_gpt(text_vocab("ROMEO: thou art, my love!\nabcdefghijklmnopqrstuvwxyz"), 8, seed=1, name="play")


def prefix_logp(lm: TextModel, text: str) -> float:
    """log p(text as the start of a sequence): core.score's factors of text's own tokens (end token left out)."""
    s = score(lm, text)
    return math.fsum(s.logprobs[: len(lm.vocab.encode(text))])


def chain_rule_oracle(lm: TextModel, prompt: str, candidate: str) -> float:
    """log p(candidate | prompt) = log p(prompt + candidate) - log p(prompt), both scored as whole texts;
    with an end token, the candidate also carries the end factor of the full text."""
    full = score(lm, prompt + candidate)
    total = math.fsum(full.logprobs)  # includes the end token, if the model has one
    return total - (prefix_logp(lm, prompt) if prompt else 0.0)


def one_pass_per_token(lm: TextModel, prompt: str, candidate: str) -> list[float]:
    """log p(token | prompt + earlier tokens) with one separate forward pass per token (the uncached path)."""
    ids = lm.vocab.encode(candidate) + ([lm.vocab.eos_id] if lm.vocab.eos_id is not None else [])
    out = []
    for j, i in enumerate(ids):
        prefix = prompt + lm.vocab.decode(lm.vocab.encode(candidate)[:j])
        out.append(torch.log_softmax(next_token_logits(lm, prefix).double(), -1)[i].item())
    return out


@pytest.mark.parametrize(
    ("model", "prompt", "candidates"),
    [
        ("names_gpt", "jo", ["hn", "seph", "sephine", "x"]),
        ("names_gpt", "", ["emma", "olivia"]),
        ("play_gpt", "ROMEO: thou art", [" my love!", ",", " mine"]),  # longer than the block of 8
    ],
)
def test_totals_are_the_chain_rule_and_the_ledger_sums(model, prompt, candidates, request):
    lm = request.getfixturevalue(model)
    ranking = rank_candidates(lm, prompt, candidates)
    assert sorted(c.text for c in ranking.ranked) == sorted(candidates) and not ranking.impossible
    for c in ranking.ranked:
        assert c.logp == pytest.approx(-math.fsum(cost for _, cost in c.costs), abs=1e-12)  # the ledger's sum
        assert c.logp == pytest.approx(chain_rule_oracle(lm, prompt, c.text), abs=1e-5)  # float32 passes
        assert [-cost for _, cost in c.costs] == pytest.approx(one_pass_per_token(lm, prompt, c.text), abs=1e-5)
        end = 1 if lm.vocab.eos_id is not None else 0
        assert c.n_tokens == len(lm.vocab.encode(c.text)) + end
        assert c.logp_per_token == pytest.approx(c.logp / c.n_tokens)
        assert [t for t, _ in c.costs][: len(c.text)] == list(c.text)  # character tokens, in order


def test_ranking_is_by_total_and_the_average_is_the_other_order(names_gpt):
    ranking = rank_candidates(names_gpt, "a", ["n", "nna", "bcdefg", "lexandra"])
    totals = [c.logp for c in ranking.ranked]
    assert totals == sorted(totals, reverse=True)
    oracle = {c: chain_rule_oracle(names_gpt, "a", c) for c in ["n", "nna", "bcdefg", "lexandra"]}
    assert [c.text for c in ranking.ranked] == sorted(oracle, key=lambda c: -oracle[c])
    averages = [c.logp_per_token for c in ranking.by_average]
    assert averages == sorted(averages, reverse=True)
    assert {c.text for c in ranking.by_average} == {c.text for c in ranking.ranked}


def test_ties_keep_the_typed_order(play_gpt):
    # two candidates the character model reads identically cannot exist; the same text twice is refused,
    # so check stability on equal totals through a model whose logits ignore the input.
    class Uniform(torch.nn.Module):
        block_size = 8
        config = None

        def forward(self, idx, targets=None):
            return torch.zeros(*idx.shape, play_gpt.vocab.size), None

    lm = TextModel("uniform", play_gpt.vocab, Uniform(), {"kind": "uniform"})
    ranking = rank_candidates(lm, "a", ["ab", "ba", "a", "aa"])
    assert [c.text for c in ranking.ranked] == ["a", "ab", "ba", "aa"]  # shorter first; equal lengths as typed
    assert ranking.ranked[0].logp == pytest.approx(-math.log(lm.vocab.size))


def test_characters_outside_the_vocabulary_give_probability_zero_not_a_crash(names_gpt):
    ranking = rank_candidates(names_gpt, "jo", ["hn", "hn!", "e5"])
    assert [c.text for c in ranking.ranked] == ["hn"]
    assert {c.text: c.missing_chars for c in ranking.impossible} == {"hn!": ("!",), "e5": ("5",)}
    assert all(c.logp == -math.inf and c.n_tokens == 0 for c in ranking.impossible)


@pytest.mark.parametrize(
    ("prompt", "candidates", "words"),
    [
        ("jo", [], "no candidates"),
        ("jo", ["hn", ""], "Candidate 2 is empty"),
        ("jo", [f"a{'b' * i}" for i in range(MAX_CANDIDATES + 2)], f"at most {MAX_CANDIDATES} are ranked at once"),
        ("jo", ["a" * (CANDIDATE_MAX_CHARS + 1)], f"at most {CANDIDATE_MAX_CHARS}"),
        ("jo", ["hn", "hn"], "appears twice"),
        ("jo!", ["hn"], "The prompt has characters names cannot read: '!'"),
        ("j" * 201, ["hn"], "at most 200 are allowed"),
    ],
)
def test_bad_input_is_a_message_in_words(names_gpt, prompt, candidates, words):
    with pytest.raises(ChainRuleError, match=words.replace("*", r"\*")):
        rank_candidates(names_gpt, prompt, candidates)


def test_too_many_tokens_is_refused_in_words(play_gpt):
    with pytest.raises(ChainRuleError, match="at most 32 tokens"):
        rank_candidates(play_gpt, "a", ["ab" * 20])  # 40 characters: allowed length, too many tokens


def test_candidates_are_lines_kept_exactly():
    assert parse_candidates(" Paris\n London\r\n\n a city\n") == [" Paris", " London", " a city"]
    assert parse_candidates("") == [] and parse_candidates("\n\n") == []


def test_presets_fit_their_models_vocabularies():
    for name in ("names", "names-bigram", "shakespeare"):
        lm = core.load_text_model(name)
        for prompt, candidates in RANKING_PRESETS[name].values():
            ranking = rank_candidates(lm, prompt, list(candidates))
            assert not ranking.impossible and len(ranking.ranked) == len(candidates)


# ---------------------------------------------------------------------------------------------
# SmolLM2's byte-level BPE at the prompt/candidate boundary (the tokenizer alone: no worker needed)


@pytest.fixture(scope="module")
def bpe():
    from core.text.gguf_llm import GGUFModel, build_vocab, gguf_path

    vocab = build_vocab(GGUFModel(gguf_path()))
    return TextModel("smollm2", vocab, net=None, card={})


def test_a_space_at_the_end_of_the_prompt_splits_differently(bpe):
    assert not joint_split_differs(bpe, "The capital of France is", " Paris")
    assert joint_split_differs(bpe, "The capital of France is ", "Paris")  # "Ġ" + "Paris", not "ĠParis"
    note = boundary_note(bpe, "The capital of France is ", ["Paris", "London"])
    assert "tokenized separately" in note and "put the space at the start of each candidate" in note
    assert boundary_note(bpe, "The capital of France is", [" Paris", " London"]) is None


def test_the_llm_presets_have_clean_boundaries(bpe):
    for prompt, candidates in RANKING_PRESETS["smollm2"].values():
        assert boundary_note(bpe, prompt, list(candidates)) is None


@pytest.mark.slow
def test_llm_totals_are_the_chain_rule_over_full_texts_and_the_presets_teach():
    llm = core.load_text_model("smollm2")
    rankings = {}
    for name, (prompt, candidates) in RANKING_PRESETS["smollm2"].items():
        rankings[name] = ranking = rank_candidates(llm, prompt, list(candidates))
        for c in ranking.ranked:  # clean boundaries: the full text tokenizes as prompt tokens + candidate tokens
            oracle = math.fsum(score(llm, prompt + c.text).logprobs) - math.fsum(score(llm, prompt).logprobs)
            assert c.logp == pytest.approx(oracle, abs=2e-3)  # float32 passes of different lengths
            assert c.logp == pytest.approx(-math.fsum(cost for _, cost in c.costs), abs=1e-9)
    assert rankings["a fact"].ranked[0].text == " Paris"
    assert rankings["a translation"].ranked[0].text == " Bonjour."
    longer = rankings["longer pays more"]  # what the preset is for: the two orders disagree at the top
    assert longer.ranked[0].text == " 100 degrees" and longer.by_average[0].text == " 100 degrees Celsius"
