"""Live training (core.text.live_training) and its job runner (core.jobs): it learns, it is reproducible,
the leaky run copies, a stopped run keeps a usable model, bad input is refused in words.
"""

from __future__ import annotations

import statistics
import time
from functools import partial

import pytest
import torch

import core
from core.errors import InputError
from core.jobs import JobRunner
from core.models.transformer import GPT, GPTConfig
from core.text.language_model import heldout_nll
from core.text.live_training import LIVE_KINDS, build_net, decode_upload, parameter_count, prefix_nll, train_live
from core.text.vocab import text_vocab

torch.set_num_threads(1)


def run(**kw) -> list:
    return list(train_live("names", **kw))


@pytest.fixture(scope="module")
def causal_run():
    return run(n_layer=1, n_embd=32, steps=200, eval_every=100, seed=1)


def test_names_loss_falls_below_the_bigram_and_the_model_uses_the_public_api(causal_run):
    held = [e for e in causal_run if e.heldout_loss is not None]
    ref = causal_run[0].reference
    assert ref["bigram"] == pytest.approx(2.4331, abs=1e-3)  # the shipped bigram card's held-out figure
    assert ref["uniform"] == pytest.approx(torch.log(torch.tensor(27.0)).item())
    assert held[-1].heldout_loss < ref["uniform"] - 0.7 and held[-1].heldout_loss < held[0].heldout_loss + 1e-9
    model = causal_run[-1].model
    assert model is not None and causal_run[-1].step == 200
    s = core.score(model, "emma")
    assert len(s.tokens) == 5 and all(0 < p <= 1 for p in s.probs)
    text = "".join(st.token for st in core.generate(model, "", 10, seed=3))
    assert text and set(text) <= set("abcdefghijklmnopqrstuvwxyz.")
    assert causal_run[-1].samples == [
        "".join(st.token for st in core.generate(model, "", 40, seed=k) if not st.is_end) for k in range(4)
    ]


def test_same_settings_same_losses_and_samples():
    a, b = (
        run(n_layer=1, n_embd=32, steps=30, eval_every=15, seed=4),
        run(n_layer=1, n_embd=32, steps=30, eval_every=15, seed=4),
    )
    assert [e.train_loss for e in a] == [e.train_loss for e in b]
    assert [e.samples for e in a] == [e.samples for e in b] and a[-1].heldout_loss == b[-1].heldout_loss


def test_the_leaky_run_copies_in_training_and_fails_honestly(causal_run):
    leaky = run(n_layer=1, n_embd=32, steps=200, eval_every=100, seed=1, causal=False)
    tail = statistics.mean(e.train_loss for e in leaky[-30:])
    causal_tail = statistics.mean(e.train_loss for e in causal_run[-30:])
    assert tail < causal_tail - 0.8  # it reads the answer from its input
    assert leaky[-1].heldout_loss > tail + 1.0  # scored with the past only, it is far worse than it looked
    assert leaky[-1].heldout_loss > causal_run[-1].heldout_loss


def test_prefix_scoring_equals_one_pass_for_a_causal_model():
    torch.manual_seed(0)
    net = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=32)).eval()
    x = torch.randint(0, 11, (5, 8))
    y = torch.randint(0, 11, (5, 8))
    y[0, 5:] = -1
    assert prefix_nll(net, x, y) == pytest.approx(heldout_nll(net, x, y), abs=1e-6)


def test_breaking_out_stops_and_a_snapshot_is_usable():
    events = []
    for e in train_live("names", n_layer=1, n_embd=32, steps=500, eval_every=10):
        events.append(e)
        if e.step == 25:
            break
    snap = [e.snapshot for e in events if e.snapshot is not None][-1]
    assert snap.card["metrics"]["steps"] == 20
    assert core.score(snap, "ann").nll > 0


def test_bigram_is_one_exact_pass():
    (event,) = list(train_live("names", kind="bigram"))
    shipped = core.load_text_model("names-bigram")
    assert event.heldout_loss == pytest.approx(shipped.card["metrics"]["heldout_nll"], abs=1e-6)
    assert event.model is not None and event.step == 1


def test_your_own_text_has_its_own_vocabulary_and_held_out_tail():
    text = "the quick brown fox jumps over the lazy dog. " * 20
    events = list(train_live(text, n_layer=1, n_embd=32, block_size=16, steps=40, eval_every=20))
    model = events[-1].model
    assert set(model.vocab.chars[1:]) == set(text)
    assert events[-1].heldout_loss < events[0].reference["uniform"]


@pytest.mark.parametrize(
    "text, kw, says",
    [
        ("", {}, "empty"),
        ("   ", {}, "empty"),
        ("abc" * 10, {}, "at least 200"),
        ("a" * 500, {}, "one character repeated"),
        ("ab" * 150, dict(block_size=64), "shorter than one context window"),
        ("names", dict(n_layer=9), "n_layer must be a whole number from 1 to 4"),
        ("names", dict(n_embd=40), "multiple of 16"),
        ("names", dict(lr=5.0), "learning rate"),
        ("names", dict(steps=0), "steps must be"),
        ("names", dict(kind="lstm"), "one of transformer, mlp, wavenet, gru, bigram"),
    ],
)
def test_bad_input_is_refused_in_words(text, kw, says):
    with pytest.raises(InputError, match=says):
        list(train_live(text, **kw))


def test_uploads_must_be_small_utf8_text():
    assert decode_upload("héllo".encode()) == "héllo"
    with pytest.raises(InputError, match="not UTF-8"):
        decode_upload(bytes([0xFF, 0xFE, 0x00, 0x81]))
    with pytest.raises(InputError, match="at most 200,000"):
        decode_upload(b"a" * 200_001)


# ---------------------------------------------------------------------------------------------
# the job runner


def slow(n: int, dt: float = 0.01):
    for i in range(n):
        time.sleep(dt)
        yield i


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_one_slot_queues_the_second_job_and_frees_it_on_stop():
    runner = JobRunner(slots=1)
    a = runner.submit("alice", partial(slow, 10_000))
    b = runner.submit("bob", partial(slow, 3))
    wait_for(lambda: a.state == "running")
    assert runner.position(a) == 0 and runner.position(b) == 1 and b.state == "queued"
    with pytest.raises(InputError, match="already has a training job"):
        runner.submit("alice", partial(slow, 1))
    a.stop()
    wait_for(lambda: b.state == "done")
    assert a.state == "stopped" and b.events == [0, 1, 2] and runner.position(b) == -1


def test_pause_resume_budget_and_abandon():
    runner = JobRunner(slots=2, budget_s=0.3, abandon_after_s=60)
    job = runner.submit("a", partial(slow, 10_000))
    wait_for(lambda: len(job.events) > 2)
    job.pause()
    time.sleep(0.3)
    n = len(job.events)
    time.sleep(0.3)
    assert len(job.events) <= n + 1 and job.state == "paused"  # at most the event in flight
    job.resume()
    wait_for(lambda: job.finished)
    assert job.state == "stopped" and "time budget" in job.message
    gone = JobRunner(abandon_after_s=0.2).submit("b", partial(slow, 10_000))
    wait_for(lambda: gone.finished)
    assert "closed" in gone.message


def test_a_failing_job_says_why_and_frees_its_slot():
    runner = JobRunner(slots=1)
    bad = runner.submit("a", partial(train_live, ""))
    wait_for(lambda: bad.finished)
    assert bad.state == "failed" and "empty" in bad.message
    ok = runner.submit("a", partial(slow, 2))
    wait_for(lambda: ok.state == "done")


@pytest.mark.parametrize("kind", [k for k in LIVE_KINDS if k != "bigram"])
def test_parameter_count_without_building_matches_a_built_net(kind):
    """Counted on the meta device (shapes only), the number equals a real network's parameters."""
    vocab = text_vocab("abcdefghij\n")
    built = sum(p.numel() for p in build_net(kind, vocab, 16, 2, 32).parameters())
    assert parameter_count(kind, vocab, 16, 2, 32) == built
