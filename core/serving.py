"""One model shared by many sessions: its forward passes take turns, first come first served.

A server answers every browser session from its own thread. The tiny models cost a millisecond a
forward pass; the real LLM costs tens of milliseconds and reads 123 MB of weights each time, so
three sessions generating with it at once would take three threads on a 2-core machine and starve
everyone else. ``gate_forward`` puts one ``Turnstile`` in front of a module's forward: at most one
pass runs at a time, server-wide, the others wait in arrival order, and a waiting session can be
told its place in the queue.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import nn

POLL_S = 0.05  # how often a waiter re-checks its place (and reports it)


class Turnstile:
    """A first-come-first-served lock that knows its queue."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()  # tickets; the head holds the turn
        self._local = threading.local()  # per thread: the callback told about waits, turns held
        self.turns = 0  # turns granted so far
        self.waited_turns = 0  # of those, turns that had to wait for another

    @property
    def waiting(self) -> int:
        """Callers queued behind the one whose turn it is."""
        with self._cond:
            return max(0, len(self._queue) - 1)

    @contextmanager
    def reporting(self, on_wait: Callable[[int], None]) -> Iterator[None]:
        """While inside, this thread's waits call ``on_wait(ahead)`` (callers ahead of it) as its place
        changes, and ``on_wait(0)`` when a reported wait ends."""
        previous = getattr(self._local, "on_wait", None)
        self._local.on_wait = on_wait
        try:
            yield
        finally:
            self._local.on_wait = previous

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this caller's turn (arrival order), hold it inside the block, pass it on.

        Re-entrant: a thread that holds the turn passes straight through (one gated method may
        call another).
        """
        if getattr(self._local, "held", 0):
            self._local.held += 1
            try:
                yield
            finally:
                self._local.held -= 1
            return
        ticket = object()
        on_wait = getattr(self._local, "on_wait", None)
        told = None
        with self._cond:
            self._queue.append(ticket)
            waited = self._queue[0] is not ticket
        try:
            while True:
                with self._cond:
                    if self._queue[0] is ticket:
                        break
                    ahead = self._queue.index(ticket)
                if on_wait is not None and ahead != told:
                    on_wait(ahead)  # outside the lock: it may draw on a page, or raise to abandon the wait
                    told = ahead
                with self._cond:
                    if self._queue[0] is not ticket:
                        self._cond.wait(POLL_S)
        except BaseException:  # abandoned while waiting (a rerun stopped the script): leave the queue
            with self._cond:
                self._queue.remove(ticket)
                self._cond.notify_all()
            raise
        if told:  # it had said "n ahead": now none is
            on_wait(0)
        self.turns += 1
        self.waited_turns += waited
        self._local.held = 1
        try:
            yield
        finally:
            self._local.held = 0
            with self._cond:
                self._queue.popleft()
                self._cond.notify_all()


def gate_forward(net: nn.Module, turnstile: Turnstile, methods: tuple[str, ...] = ("forward",)) -> nn.Module:
    """Make every call of ``net``'s ``methods`` take a turn at ``turnstile``; returns ``net``.

    Set on the instance, so the weights, their names and the class stay as they were.
    """
    for name in methods:
        inner = getattr(net, name)

        def gated(*args, _inner=inner, **kwargs):
            with turnstile.turn():
                return _inner(*args, **kwargs)

        setattr(net, name, functools.wraps(inner)(gated))
    net.turnstile = turnstile
    return net
