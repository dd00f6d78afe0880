"""Streaming, measured (core.lessons.stream_timing and the session's step record).

Oracles: a fresh full forward pass over the prompt (the first token's distribution must be the
uncached model's), core.generate without the cache (the same tokens), the prompt's length (the
first step feeds all of it, each later one a single token), and sums written out here. No timing
thresholds: only how the recorded numbers relate to each other.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import core
from core.lessons.page_state import from_query
from core.lessons.sampling_session import MAX_CATCH_UP, PlayClock, SamplingSession, SamplingSettings
from core.lessons.settings import MAX_SPEED, SPEEDS, speed_label
from core.lessons.states import SamplingState
from core.lessons.stream_timing import StreamTiming, pace_words, stream_timing, timing_line
from core.text.language_model import context_ids, logits_for_context

torch.set_num_threads(1)
SETTINGS = SamplingSettings(temperature=1.0)
PROMPT = "ROMEO:"


@pytest.fixture(scope="module")
def lm():
    return core.load_text_model("shakespeare")


def drawn_session(lm, n: int, seed: int = 3) -> SamplingSession:
    s = SamplingSession.start(context_ids(lm, PROMPT), seed)
    assert s.finish(lm, SETTINGS, limit=n), s.last_error
    return s


def test_first_token_is_a_pass_over_the_whole_prompt(lm):
    s = drawn_session(lm, 12)
    prompt_ids = context_ids(lm, PROMPT)
    first = s.history.entries[0]
    assert first.fed == len(prompt_ids)  # one prompt pass over every prompt token (start token included)
    assert [e.fed for e in s.history.entries[1:]] == [1] * 11  # then one token per step, from the cache
    oracle = torch.softmax(logits_for_context(lm, prompt_ids), dim=-1)  # a fresh, uncached full forward
    torch.testing.assert_close(first.step.stages.raw.float(), oracle.float(), rtol=1e-5, atol=1e-6)
    uncached = [st.token_id for st in core.generate(lm, PROMPT, 12, SETTINGS, seed=3, use_cache=False)]
    assert s.history.generated_ids == uncached


def test_latency_to_last_is_first_plus_the_later_steps(lm):
    s = drawn_session(lm, 9)
    t = stream_timing(s.history)
    elapsed_ms = [e.step.elapsed_s * 1000 for e in s.history.entries]
    assert t.first_ms == elapsed_ms[0] and list(t.later_ms) == elapsed_ms[1:]
    assert t.first_fed == len(context_ids(lm, PROMPT)) and t.later_fed == (1,) * 8
    assert t.latency_to_last_ms == elapsed_ms[0] + math.fsum(elapsed_ms[1:])
    middle = sorted(elapsed_ms[1:])[3:5]  # 8 values: the median is the mean of the middle two
    assert t.median_later_ms == pytest.approx((middle[0] + middle[1]) / 2, rel=1e-12)
    assert t.model_rate == 1000 / t.median_later_ms


def test_median_of_an_even_count_and_the_rate():
    t = StreamTiming(first_fed=7, first_ms=12.0, later_ms=(1.0, 4.0, 2.0, 3.0), later_fed=(1, 1, 1, 1))
    assert t.median_later_ms == 2.5 and t.model_rate == 400.0 and t.latency_to_last_ms == 22.0


def test_a_rewind_makes_the_next_step_read_the_context_again(lm):
    s = drawn_session(lm, 5)
    assert s.back() and s.next(lm, SETTINGS)
    context = s.history.context_of(4)
    assert s.history.entries[-1].fed == len(context)  # the cache held a longer text: emptied, re-read
    assert stream_timing(s.history).refed == 1
    assert s.next(lm, SETTINGS) and s.history.entries[-1].fed == 1  # and then one token again


def test_back_to_an_empty_text_and_start_over_give_a_prompt_pass_again(lm):
    s = drawn_session(lm, 3)
    s.start_over()
    assert stream_timing(s.history) is None
    assert s.next(lm, SETTINGS) and s.history.entries[0].fed == len(context_ids(lm, PROMPT))


def test_forced_and_restored_tokens_are_not_timed(lm):
    s = drawn_session(lm, 3)
    ids = s.history.generated_ids
    r = SamplingSession.start(context_ids(lm, PROMPT), 3)
    assert r.restore(lm, SETTINGS, ids, forced=set())
    assert [e.fed for e in r.history.entries] == [0, 0, 0] and stream_timing(r.history) is None
    assert r.next(lm, SETTINGS) and r.history.entries[-1].fed == 1  # the restore filled the cache
    assert s.force(lm, SETTINGS, 1, ids[0]) and stream_timing(s.history) is None


def test_max_speed_never_waits():
    clock = PlayClock(playing=True, speed=MAX_SPEED)
    clock.restart(now=100.0, length=3)
    assert clock.due(100.0) > 10**6 and clock.next_due_at(50) == 100.0


def test_max_speed_draws_a_catch_up_batch_per_tick(lm):
    s = SamplingSession.start(context_ids(lm, PROMPT), 3)
    s.set_speed(MAX_SPEED, now=0.0)
    s.toggle_play(now=0.0)
    assert s.play_tick(lm, SETTINGS, limit=50, now=0.0) == MAX_CATCH_UP  # no clock to wait for


def test_speed_in_a_link_reads_max_and_the_old_numbers():
    assert SPEEDS[-1] == MAX_SPEED and speed_label(MAX_SPEED) == "max" and speed_label(20) == "20"
    assert from_query(SamplingState, {"speed": ["max"]})[0].speed == MAX_SPEED
    assert from_query(SamplingState, {"speed": ["15"]})[0].speed == 15  # links made before "max" still work
    state, notes = from_query(SamplingState, {"speed": ["0"]})
    assert state.speed == SamplingState().speed and "max" in " ".join(notes)


def test_a_pace_faster_than_the_model_is_said_in_words():
    slow = StreamTiming(first_fed=9, first_ms=300.0, later_ms=(150.0, 160.0, 154.0), later_fed=(1, 1, 1))
    assert slow.model_rate == pytest.approx(1000 / 154)
    words = pace_words(slow, 20)
    assert "faster than the model's measured pace (~6.5 tokens/s)" in words and "waits 50 ms per token" in words
    assert "faster" not in pace_words(slow, 4)  # 4 tokens/s: the model keeps up
    assert "waits for nothing" in pace_words(slow, MAX_SPEED)
    line = timing_line(slow, 4)
    assert "first token: 300.0 ms (the prompt pass over 9 tokens)" in line and "median 154.0 ms" in line
    assert "auto-play waits 250 ms per token" in line


# ---------------------------------------------------------------------------------------------
# The served LLM: the tokens the session says each step fed are the ones its worker's engine fed


class InProcessWorker:
    """core.workers' client contract (call, notify) answered by core.text.llm_engine in this process;
    it records how many tokens the engine was left to feed for each "next" request: the oracle."""

    def __init__(self, engine):
        self.engine, self.calls, self.fed = engine, itertools.count(1), []

    def call(self, op, payload):
        call_id = next(self.calls)
        self.engine.submit(call_id, op, payload)
        if op == "next":
            self.fed.append(int(self.engine.requests[call_id].todo.shape[1]))
        for _ in range(10_000):
            for done_id, kind, value in self.engine.step():
                if done_id == call_id:
                    assert kind == "done", value
                    return value
        raise AssertionError("the engine did not answer")

    def notify(self, *args):
        pass


def test_the_served_llm_feeds_what_the_session_records():
    from core.text.gguf_llm import load_smollm2
    from core.text.language_model import TextModel
    from core.text.llm_engine import LLMEngine
    from core.text.served_llm import ServedLlama

    net, vocab, info = load_smollm2("q4")
    vocab.eos_id = None
    worker = InProcessWorker(LLMEngine(net, info))
    lm = TextModel("smollm2-in-process", vocab, ServedLlama(worker, net.config, info), card=info)
    s = SamplingSession.start(context_ids(lm, "The capital of France is"), seed=1)
    s.step_logits(lm, s.history.ids)  # the chart before the first draw: the prompt is already in the worker
    worker.fed.clear()
    assert s.finish(lm, SETTINGS, limit=5), s.last_error
    assert s.back() and s.next(lm, SETTINGS)
    s.step_logits(lm, s.history.context_of(1))  # a look at an earlier step: the worker's cache is cut back
    worker.fed.pop()
    assert s.next(lm, SETTINGS)
    assert [e.fed for e in s.history.entries] == worker.fed[:4] + worker.fed[5:]  # the replaced 5th step dropped
    assert s.history.entries[0].fed == len(s.history.prompt_ids)  # a fresh cache: the whole prompt
    assert s.history.entries[-1].fed > 1  # the cache caught up from step 2
