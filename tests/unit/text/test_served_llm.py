"""core.text.served_llm: the real LLM as core.load_text_model gives it, computed in its worker process.

Oracles: the same network in this process (core.text.gguf_llm.load_smollm2), the ledger against the
steps (one number per token), and the served model's own answers before a fault.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

import core
from core.errors import WorkerError
from core.text.language_model import cached_logits, context_ids, logits_for_context, score
from core.text.served_llm import ServedLlama
from core.workers import wait_hook

torch.set_num_threads(1)

TEXTS = [
    "The cat sat on the mat.",
    "Once upon a time, in a land far away, there lived a dragon who loved tea.",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)",
    "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
    "1 2 3 4 5 6 7 8 9 10",
    "Zürich, São Paulo and 東京 are cities. 🦙",
    "a",
    "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer " * 3,
]


@pytest.fixture(scope="module")
def llm() -> core.TextModel:
    return core.load_text_model("smollm2")


def stats(lm) -> dict:
    return lm.net.worker.call("stats")


def steps_logprobs(lm, text: str, cache) -> list[float]:
    """log p of each token of ``text`` one step at a time: the session's cache in the worker, or recomputed (None)."""
    ids = context_ids(lm, text)
    out = []
    for t in range(1, len(ids)):
        logits = cached_logits(lm, ids[:t], cache) if cache is not None else logits_for_context(lm, ids[:t])
        out.append(torch.log_softmax(logits.double(), -1)[ids[t]].item())
    return out


def test_the_web_process_holds_no_llm_weights(llm):
    assert isinstance(llm.net, ServedLlama)
    assert not [k for k, v in vars(llm.net).items() if isinstance(v, torch.Tensor | torch.nn.Module)]
    assert llm.net.worker.pid not in (None, os.getpid())
    assert llm.card["num_params"] == 134_515_008 and llm.net.num_params() == 134_515_008
    assert llm.card["format"] == "q4" and llm.block_size == 2048


def test_served_logits_equal_the_network_in_this_process(llm):
    from core.text.gguf_llm import load_smollm2

    net = load_smollm2("q4")[0]
    ids = context_ids(llm, TEXTS[3])
    with torch.no_grad():
        here = net(torch.tensor([ids]))[0]
    served = llm.net(torch.tensor([ids]))[0]
    assert served.shape == here.shape and (served - here).abs().max().item() <= 1e-4
    out = llm.net.forward_detailed(torch.tensor([ids[:8]]), need_weights=True)
    assert len(out.attention) == 30 and out.attention[0].shape == (1, 9, 8, 8)


def test_one_number_per_token_the_ledger_and_the_steps_agree(llm):
    """Item 6: the ledger (one pass) and the steps (one token at a time against the session's cache, or
    recomputed) give each token the same log p, to 1e-3 nats (measured: 0), over many texts and lengths."""
    worst, n = 0.0, 0
    for text in TEXTS:
        ledger = score(llm, text).logprobs
        cached = steps_logprobs(llm, text, llm.net.new_cache())
        assert len(cached) == len(ledger)
        worst = max(worst, np.abs(np.array(ledger) - np.array(cached)).max())
        n += len(ledger)
    recomputed = steps_logprobs(llm, TEXTS[0], None)
    worst = max(worst, np.abs(np.array(score(llm, TEXTS[0]).logprobs) - np.array(recomputed)).max())
    print(f"{len(TEXTS)} texts, {n} tokens: worst |ledger - steps| = {worst:.2e} nats")
    assert worst <= 1e-3


def test_sessions_stepping_at_once_are_batched_and_each_gets_its_own_numbers(llm):
    """The batched path, held to the same bound: sessions in threads decode at once (the worker batches
    their steps); every one's log p equals its ledger."""
    before = stats(llm)
    results: dict[int, list[float]] = {}

    def session(i: int) -> None:
        results[i] = steps_logprobs(llm, TEXTS[i], llm.net.new_cache())

    threads = [threading.Thread(target=session, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    for i in range(6):
        assert np.abs(np.array(results[i]) - np.array(score(llm, TEXTS[i]).logprobs)).max() <= 1e-3
    after = stats(llm)
    assert after["batched_rows"] - before["batched_rows"] > after["passes"] - before["passes"]  # passes were shared


def test_generate_is_the_same_with_and_without_the_cache(llm):
    for seed in (0, 1, 2):
        cached = [s.token_id for s in core.generate(llm, "The capital of France is", 12, seed=seed)]
        uncached = [s.token_id for s in core.generate(llm, "The capital of France is", 12, seed=seed, use_cache=False)]
        assert cached == uncached


def test_an_abandoned_wait_cancels_the_request_in_the_worker(llm):
    class Rerun(BaseException):  # what Streamlit raises when the page's user clicked again
        pass

    def hook(status):
        raise Rerun

    cancelled = stats(llm)["cancelled"]
    with pytest.raises(Rerun), wait_hook(hook):
        score(llm, TEXTS[-1] * 4)  # a long ledger: its first chunks are still being computed
    for _ in range(100):
        now = stats(llm)
        if now["cancelled"] > cancelled:
            break
        time.sleep(0.05)
    assert now["cancelled"] == cancelled + 1 and now["requests"] == 0


def test_a_session_cache_is_freed_when_its_session_ends(llm):
    cache = llm.net.new_cache()
    cached_logits(llm, context_ids(llm, TEXTS[0]), cache)
    assert cache.handle in stats(llm)["slot_tokens"]
    handle = cache.handle
    del cache  # the browser session ended: its SamplingSession, and the handle with it, are gone
    assert handle not in stats(llm)["slot_tokens"]  # freed by the next message to the worker


def test_a_killed_llm_worker_fails_the_waiting_request_in_words_and_the_next_request_starts_a_new_one(llm):
    before = score(llm, TEXTS[0]).logprobs
    worker, first = llm.net.worker, llm.net.worker.pid
    outcome: dict = {}

    def long_ledger() -> None:
        try:
            score(llm, TEXTS[-1] * 6)
        except Exception as e:
            outcome["error"] = e

    t = threading.Thread(target=long_ledger)
    t.start()
    deadline = time.monotonic() + 60
    while worker.in_flight == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(first, signal.SIGKILL)  # as the out-of-memory killer would
    t.join(60)
    assert isinstance(outcome.get("error"), WorkerError)
    assert "stopped before answering" in str(outcome["error"]) and "was kept" in str(outcome["error"])
    assert score(llm, TEXTS[0]).logprobs == before  # a new worker, the same numbers
    assert worker.pid != first
