"""core.lessons.sampling_session.SamplingSession: the live demo's state, driven with a fake clock.

Oracles: core.generate for the same seed (what the session draws step by step must be the same
text), and the clock's arithmetic written out by hand (tokens due = 1 + elapsed * speed).
"""

from __future__ import annotations

import pytest
import torch

import core
from core.lessons.sampling_session import MAX_CATCH_UP, PlayClock, SamplingSession, SamplingSettings
from core.text.language_model import context_ids

torch.set_num_threads(1)
SETTINGS = SamplingSettings(temperature=1.0)


@pytest.fixture(scope="module")
def lm():
    return core.load_text_model("shakespeare")


def expected(lm, seed: int, n: int) -> list[int]:
    return [s.token_id for s in core.generate(lm, "ROMEO:", n, seed=seed)]


def new_session(lm, seed: int) -> SamplingSession:
    return SamplingSession.start(context_ids(lm, "ROMEO:"), seed)


def test_clock_arithmetic():
    clock = PlayClock(playing=True, speed=4.0)
    clock.restart(now=100.0, length=3)
    assert clock.due(100.0) == 4  # one at once
    assert clock.due(100.24) == 4 and clock.due(100.25) == 5  # then one every 1/speed s
    assert clock.due(101.0) == 8
    assert clock.next_due_at(5) == 100.5 and clock.due(100.5) == 6  # 5 tokens long: the 6th is due then


def test_auto_play_on_time_draws_one_token_per_tick_and_matches_generate(lm):
    s = new_session(lm, seed=7)
    s.toggle_play(now=0.0)
    for tick in range(12):
        assert s.play_tick(lm, SETTINGS, limit=50, now=tick * 0.25) == 1
    assert s.history.generated_ids == expected(lm, 7, 12)


def test_an_early_tick_waits_and_a_late_tick_catches_up_a_little(lm):
    s = new_session(lm, seed=3)
    s.toggle_play(now=0.0)
    assert s.play_tick(lm, SETTINGS, 50, now=0.0) == 1
    assert s.play_tick(lm, SETTINGS, 50, now=0.1) == 0  # next one is due at 0.25 s
    assert s.play_tick(lm, SETTINGS, 50, now=10.0) == MAX_CATCH_UP  # 40 due, but never a burst
    assert len(s.history) == 1 + MAX_CATCH_UP
    assert s.history.generated_ids == expected(lm, 3, 1 + MAX_CATCH_UP)


def test_play_stops_at_the_limit(lm):
    s = new_session(lm, seed=1)
    s.toggle_play(now=0.0)
    for tick in range(10):
        s.play_tick(lm, SETTINGS, limit=4, now=tick * 1.0)
    assert len(s.history) == 4 and not s.clock.playing


def test_pausing_stops_drawing(lm):
    s = new_session(lm, seed=1)
    s.toggle_play(now=0.0)
    s.play_tick(lm, SETTINGS, 50, now=0.0)
    s.toggle_play(now=0.1)
    assert s.play_tick(lm, SETTINGS, 50, now=5.0) == 0 and len(s.history) == 1


def test_start_over_reseeds_and_resample_keeps_a_branch(lm):
    s = new_session(lm, seed=11)
    assert s.finish(lm, SETTINGS, limit=6)
    first = s.history.generated_ids
    assert first == expected(lm, 11, 6)
    s.resample(lm, SETTINGS)
    assert len(s.history) == 6 and s.history.branches[-1].token_ids == tuple(first)
    s.start_over()
    s.finish(lm, SETTINGS, limit=6)
    assert s.history.generated_ids == first  # the same seed gives the same text again


def test_a_failed_action_is_recorded_not_raised(lm):
    s = new_session(lm, seed=0)
    s.finish(lm, SETTINGS, limit=2)
    assert not s.rewind(5)  # there is no step 6
    assert "between 0 and 2" in s.last_error
    assert not s.force(lm, SETTINGS, at_step=1, token_id=lm.vocab.bos_id)  # the start token is input-only
    assert "cannot be forced" in s.last_error
    assert s.next(lm, SETTINGS) and s.last_error is None


def test_step_logits_are_memoised_per_context(lm):
    s = new_session(lm, seed=0)
    ids = s.history.ids
    a = s.step_logits(lm, ids)
    assert s.step_logits(lm, ids) is a  # no second forward pass
    assert torch.equal(a, core.next_token_logits(lm, "ROMEO:"))


def test_a_large_vocabulary_keeps_only_the_current_steps_distribution():
    from core.models.transformer import GPT, GPTConfig
    from core.text.language_model import TextModel
    from core.text.vocab import Vocab

    V = 1500  # above KEEP_STAGES_UP_TO
    torch.manual_seed(0)
    net = GPT(GPTConfig(block_size=8, vocab_size=V, n_layer=1, n_head=1, n_embd=8, input_only_ids=(0,))).eval()
    big = TextModel(
        "big", Vocab(chars=["<s>"] + [chr(0x4E00 + i) for i in range(V - 1)], bos_id=0, eos_id=None), net, {}
    )
    s = SamplingSession.start([0], seed=5)
    drawn = list(core.generate(big, "", 4, seed=5))  # the page's own path: the key/value cache
    assert s.finish(big, SETTINGS, limit=4)
    assert [e.step.stages is None for e in s.history.entries] == [True, True, True, False]
    for e, d in zip(s.history.entries, drawn, strict=True):  # the numbers the strip and table show survive
        assert e.p_model == float(d.stages.raw[d.token_id]) and e.p_sampled == float(d.stages.final[d.token_id])
