"""core.text.llm_engine, driven in this process (no worker): batches, prefix caches, eviction, cancellation.

The oracle is the network decoding one sequence alone with its own KVCache (``core.generate`` on a
TextModel around the same in-process network): a session's numbers and tokens must not depend on
who shares its batch, on how its cache was rebuilt, or on a neighbour's cancelled request.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
import torch

import core
from core.text.gguf_llm import load_smollm2
from core.text.language_model import TextModel
from core.text.llm_engine import PREFILL_CHUNK, LLMEngine
from core.text.sampling import SamplingSettings, sample_token

torch.set_num_threads(1)

PROMPTS = [
    "The capital of France is",
    "Once upon a time",
    "def add(a, b):\n    return",
    "ROMEO:\nBut soft, what light through yonder window breaks?",
    "1, 2, 3,",
    "Hello",
]


@functools.cache
def local() -> TextModel:
    """The served format, loaded in this process: the unbatched oracle (core.generate decodes with a KVCache)."""
    net, vocab, info = load_smollm2("q4")
    vocab.eos_id = None  # as load_llm sets it: plain continuation
    return TextModel("smollm2-local", vocab, net, card=info)


def engine(budget_bytes: int | None = None) -> LLMEngine:
    lm = local()
    return LLMEngine(lm.net, lm.card, budget_bytes=budget_bytes)


def run(e: LLMEngine, requests: dict[int, tuple[str, object]]) -> dict[int, object]:
    """Submit every request, then step until each has its answer; returns {id: answer}."""
    for call_id, (op, payload) in requests.items():
        e.submit(call_id, op, payload)
    answers = {}
    for _ in range(10_000):
        for call_id, kind, value in e.step():
            assert kind == "done", value
            answers[call_id] = value
        if len(answers) == len(requests):
            return answers
    raise AssertionError("the engine did not answer")


def alone(ids: list[int]) -> np.ndarray:
    """(V,) next-token logits after ``ids``, the network decoding alone with its own cache."""
    net = local().net
    with torch.no_grad():
        cache = net.new_cache()
        if len(ids) > 1:
            net.forward_detailed(torch.tensor([ids[:-1]]), cache=cache)
        return net.forward_detailed(torch.tensor([ids[-1:]]), cache=cache).logits[0, -1].numpy()


def context(text: str) -> list[int]:
    return core.text.language_model.context_ids(local(), text)


def test_a_batch_of_sessions_at_different_lengths_gives_each_its_unbatched_logits():
    e = engine()
    windows = [context(p) for p in PROMPTS]
    run(e, {i: ("next", (i, w)) for i, w in enumerate(windows)})  # each session's prompt into its slot
    passes = e.counts["passes"]
    answers = run(e, {10 + i: ("next", (i, w + [42 + i])) for i, w in enumerate(windows)})  # one token each
    assert e.counts["passes"] == passes + 1 and e.counts["largest_batch"] == len(PROMPTS)  # one pass for all
    for i, w in enumerate(windows):
        assert np.abs(answers[10 + i] - alone(w + [42 + i])).max() <= 1e-4


def test_tokens_for_a_seed_equal_core_generate_over_many_seeds_and_batch_mixes():
    """Sessions draw with their own seeded generators; each round a different mix of them asks for its next
    token (some join, some skip a round), as clicks and auto-plays arrive on a server."""
    settings_list = [SamplingSettings(), SamplingSettings(temperature=0.8, top_k=40), SamplingSettings(top_p=0.9)]
    sessions = []
    for k in range(12):
        settings = settings_list[k % len(settings_list)]
        prompt = PROMPTS[k % len(PROMPTS)]
        sessions.append(dict(prompt=prompt, settings=settings, seed=100 + k, ids=context(prompt), tokens=[]))
        sessions[-1]["generator"] = torch.Generator().manual_seed(100 + k)
    n_tokens, mix, e = 8, random.Random(7), engine()
    for round_ in range(200):
        waiting = [i for i, s in enumerate(sessions) if len(s["tokens"]) < n_tokens]
        if not waiting:
            break
        chosen = [i for i in waiting if mix.random() < 0.6] or waiting[:1]
        answers = run(e, {1000 * round_ + i: ("next", (i, sessions[i]["ids"])) for i in chosen})
        for i in chosen:
            s = sessions[i]
            stages = s["settings"].stages(torch.from_numpy(answers[1000 * round_ + i]), s["ids"][1:])
            token = sample_token(stages.final, s["generator"])
            s["tokens"].append(token)
            s["ids"] = s["ids"] + [token]
    assert e.counts["largest_batch"] >= 4  # batches really mixed sessions
    for s in sessions:
        expected = [st.token_id for st in core.generate(local(), s["prompt"], n_tokens, s["settings"], s["seed"])]
        assert s["tokens"] == expected, (s["prompt"], s["seed"])


def test_an_evicted_session_is_rebuilt_from_its_ids_exactly():
    e = engine(budget_bytes=1)  # every slot not in use is evicted after each step
    a, b = context(PROMPTS[0]), context(PROMPTS[3])
    for t in range(4):
        answers = run(e, {2 * t: ("next", (1, a)), 2 * t + 1: ("next", (2, b))})
        assert np.abs(answers[2 * t] - alone(a)).max() <= 1e-4
        assert np.abs(answers[2 * t + 1] - alone(b)).max() <= 1e-4
        a, b = a + [int(answers[2 * t].argmax())], b + [int(answers[2 * t + 1].argmax())]
    assert e.counts["evicted"] >= 6 and e.counts["rebuilt"] >= 6 and not e.slots


def test_a_session_that_rewinds_or_edits_reuses_its_cache_only_where_the_ids_agree():
    e = engine()
    text = context(PROMPTS[3])
    run(e, {1: ("next", (7, text))})
    assert e.stats()["slot_tokens"][7] == len(text)
    edited = text[:5] + [1234, 99]  # a forced token at step 6: the cache keeps the 5 shared ids only
    answer = run(e, {2: ("next", (7, edited))})[2]
    assert np.abs(answer - alone(edited)).max() <= 1e-4 and e.stats()["slot_tokens"][7] == len(edited)
    rewound = text[:3]
    answer = run(e, {3: ("next", (7, rewound))})[3]
    assert np.abs(answer - alone(rewound)).max() <= 1e-4


def test_a_long_request_goes_in_chunks_between_the_decoding_passes_and_equals_one_pass():
    e = engine()
    ledger = [local().vocab.bos_id] + local().vocab.encode("To be, or not to be, that is the question: " * 4)
    decoding = context("Hi")
    run(e, {2: ("next", (5, decoding))})  # a session in the middle of its text
    e.submit(1, "logits", (np.array([ledger]), False))
    passes_while_long, answers = 0, {}
    for step in range(100):
        if 1 in e.requests:  # the session keeps decoding while the ledger is fed a chunk at a time
            e.submit(100 + step, "next", (5, decoding))
            passes_while_long += 1
        for call_id, _, value in e.step():
            answers[call_id] = value
            if call_id >= 100:
                decoding = decoding + [int(value.argmax())]
        if 1 in answers and not e.requests:
            break
    logits, attention = answers[1]
    n_chunks = -(-len(ledger) // PREFILL_CHUNK)
    assert attention is None and logits.shape == (1, len(ledger), local().vocab.size)
    assert passes_while_long >= n_chunks - 1  # one decoding step per chunk, not one wait for the whole
    with torch.no_grad():
        one_pass = local().net(torch.tensor([ledger]))[0].numpy()
    assert np.abs(logits - one_pass).max() <= 1e-4


def test_cancelling_a_request_frees_its_place_and_computes_nothing_more():
    e = engine()
    long = [0] + local().vocab.encode("a long text to feed in many chunks " * 6)
    e.submit(1, "next", (3, long))
    e.step()  # one chunk fed into session 3's slot
    fed = e.stats()["slot_tokens"][3]
    assert 0 < fed < len(long) - 1 and e.stats()["requests"] == 1
    e.cancel(1)  # the page moved on
    assert e.stats()["requests"] == 0 and not e.busy() and e.counts["cancelled"] == 1
    chunks = e.counts["chunks"]
    assert e.step() == [] and e.counts["chunks"] == chunks  # nothing more is computed for it
    # what was fed stays usable, and the next request on the handle is exact
    answer = run(e, {2: ("next", (3, long))})[2]
    assert np.abs(answer - alone(long)).max() <= 1e-4
    e.note("free", 3)  # the session ended
    assert 3 not in e.slots


def test_a_newer_request_of_a_session_replaces_its_older_one():
    e = engine()
    e.submit(1, "next", (4, context(PROMPTS[3])))
    e.submit(2, "next", (4, context(PROMPTS[0])))  # a rerun asked again before the first was answered
    assert e.counts["cancelled"] == 1 and list(e.requests) == [2]
    out = []
    for _ in range(50):
        out += e.step()
        if not e.busy():
            break
    assert [r[0] for r in out] == [2]


@pytest.mark.parametrize(
    "payload, words",
    [((1, []), "1 to 2048 tokens"), ((1, [0, 49152]), "0..49151"), ((None, list(range(2049))), "not 2049")],
)
def test_bad_requests_are_refused_in_words(payload, words):
    e = engine()
    e.submit(1, "next", payload)
    [(call_id, kind, (name, message, users))] = e.step()
    assert call_id == 1 and kind == "error" and users and words in message
