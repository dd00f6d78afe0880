"""core.serving: the LLM's forward passes take turns in arrival order, and a waiter knows its place."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from core.serving import Turnstile, gate_forward


def until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_turns_are_granted_in_arrival_order_one_at_a_time():
    gate = Turnstile()
    order, inside, most_inside = [], [0], [0]
    release = threading.Event()

    def worker(i: int) -> None:
        with gate.turn():
            inside[0] += 1
            most_inside[0] = max(most_inside[0], inside[0])
            order.append(i)
            if i == 0:
                release.wait(10)  # the first holds the turn until every other has queued
            inside[0] -= 1

    threads = [threading.Thread(target=worker, args=(0,))]
    threads[0].start()
    until(lambda: order == [0])
    for i in range(1, 6):  # queue up one after another, in a known order
        threads.append(threading.Thread(target=worker, args=(i,)))
        threads[-1].start()
        until(lambda i=i: gate.waiting == i)
    release.set()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3, 4, 5]
    assert most_inside[0] == 1
    assert gate.turns == 6 and gate.waited_turns == 5 and gate.waiting == 0


def test_a_waiter_is_told_its_place_as_it_moves_up():
    gate = Turnstile()
    holders = [threading.Event() for _ in range(2)]
    started = []

    def holder(i: int) -> None:
        with gate.turn():
            started.append(i)
            holders[i].wait(10)

    first = threading.Thread(target=holder, args=(0,))
    first.start()
    until(lambda: started == [0])
    second = threading.Thread(target=holder, args=(1,))
    second.start()
    until(lambda: gate.waiting == 1)
    places = []

    def waiter() -> None:
        with gate.reporting(places.append), gate.turn():
            places.append("turn")

    third = threading.Thread(target=waiter)
    third.start()
    until(lambda: places == [2])  # two ahead: the holder and the second in line
    holders[0].set()
    until(lambda: places == [2, 1])
    holders[1].set()
    third.join(10)
    first.join(10)
    second.join(10)
    assert places == [2, 1, 0, "turn"]  # 0: the wait is over


def test_a_waiter_that_gives_up_leaves_the_queue():
    gate = Turnstile()
    hold = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with gate.turn():
            holding.set()
            hold.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    holding.wait(10)

    class Abandon(Exception):
        pass

    def give_up(ahead: int) -> None:
        raise Abandon  # as Streamlit stops a script when its user clicks again

    with pytest.raises(Abandon), gate.reporting(give_up), gate.turn():
        pass
    assert gate.waiting == 0  # not stuck in the queue ahead of later callers
    hold.set()
    t.join(10)
    with gate.turn():  # and the turnstile still works
        pass


def test_a_gated_module_computes_the_same_and_keeps_its_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    x = torch.randn(2, 4)
    before, keys = net(x), list(net.state_dict())
    gate = Turnstile()
    gate_forward(net, gate)
    assert torch.equal(net(x), before)
    assert list(net.state_dict()) == keys
    assert gate.turns == 1


def test_the_llm_is_gated_once_per_process():
    from core.text.gguf_llm import gguf_path

    try:
        gguf_path()
    except Exception as e:  # the wheel is installed by make test; without it this says so
        pytest.fail(f"the LLM wheel is missing: {e}", pytrace=False)
    from core.text.language_model import LLM_TURNSTILE, load_text_model

    lm = load_text_model("smollm2")
    assert lm.net.turnstile is LLM_TURNSTILE
    turns = LLM_TURNSTILE.turns
    lm.net(torch.tensor([[1, 2, 3]]))
    assert LLM_TURNSTILE.turns == turns + 1


def test_a_thread_holding_the_turn_passes_straight_through():
    gate = Turnstile()
    with gate.turn(), gate.turn():  # a gated method calling another gated method: no deadlock
        assert gate.waiting == 0
    assert gate.turns == 1
    done = []

    def other() -> None:
        with gate.turn():
            done.append(1)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert done == [1] and gate.turns == 2  # and the turn was passed on
