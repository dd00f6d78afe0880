"""core.workers: a job runs in a process of its own; errors come back in words; an abandoned wait cancels
the work in the worker; a killed worker fails its waiting request with one sentence and the next
request starts a new one. Driven with the background-jobs service and small generators of this file
(the worker imports them by name, as it imports core.text.live_training.train_live)."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from pathlib import Path

import pytest

from core.errors import InputError, WorkerError
from core.workers import Worker, wait_hook


def ticks(n: int, dt: float, log: str | None = None):
    """Yield 0..n-1, one every ``dt`` seconds; with ``log``, write each tick, and "closed" when stopped."""
    try:
        for i in range(n):
            time.sleep(dt)
            if log:
                with open(log, "a") as f:
                    f.write(f"{i}\n")
            yield i
    finally:
        if log:
            with open(log, "a") as f:
                f.write("closed\n")


def refuses():
    raise InputError("The text is empty: type at least one character.")


def crashes():
    yield 1
    raise ZeroDivisionError("a bug")


def until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def worker():
    w = Worker("core.workers:job_service", "the test jobs")
    try:
        yield w
    finally:
        w.stop()


def test_a_job_runs_in_another_process_and_its_events_come_back_in_order(worker):
    call = worker.request("run", partial(ticks, 5, 0.0))
    events = []
    while (reply := call.next(timeout=60)) is not None and reply[0] == "item":
        events.append(reply[1])
    assert events == [0, 1, 2, 3, 4] and reply == ("done", None)
    assert worker.pid != os.getpid() and worker.in_flight == 0
    assert worker.call("run", partial(ticks, 3, 0.0)) == 2  # a waited call returns the last event
    assert worker.submit("run", partial(ticks, 4, 0.0)).result(timeout=60) == 3


def test_errors_come_back_in_words_a_users_keeping_its_class(worker):
    with pytest.raises(InputError, match="The text is empty"):
        worker.call("run", refuses)
    with pytest.raises(WorkerError, match=r"The test jobs failed unexpectedly \(ZeroDivisionError\)"):
        worker.call("run", crashes)
    assert worker.call("run", partial(ticks, 2, 0.0)) == 1  # and the worker goes on


def test_an_abandoned_wait_cancels_the_job_in_the_worker(worker, tmp_path: Path):
    log = tmp_path / "ticks.log"
    waits = []

    class Rerun(BaseException):  # what Streamlit raises in a script whose user clicked again
        pass

    def hook(status):
        waits.append(status)
        if log.exists() and len(log.read_text().splitlines()) > 5:  # the job is running in the worker
            raise Rerun

    with pytest.raises(Rerun), wait_hook(hook):
        worker.call("run", partial(ticks, 100_000, 0.01, str(log)))
    assert all(w.what == "the test jobs" and w.in_flight == 1 for w in waits)
    until(lambda: log.exists() and log.read_text().endswith("closed\n"))  # the worker closed the job
    n = len(log.read_text().splitlines())
    time.sleep(0.3)
    assert len(log.read_text().splitlines()) == n and worker.in_flight == 0  # and computes nothing more for it


def test_a_paused_job_waits_in_the_worker(worker, tmp_path: Path):
    log = tmp_path / "ticks.log"
    call = worker.request("run", partial(ticks, 100_000, 0.01, str(log)))
    until(lambda: log.exists() and len(log.read_text().splitlines()) > 3)
    call.control("pause")
    time.sleep(0.3)
    n = len(log.read_text().splitlines())
    time.sleep(0.3)
    assert len(log.read_text().splitlines()) <= n + 1  # at most the tick in progress
    call.control("resume")
    until(lambda: len(log.read_text().splitlines()) > n + 3)
    call.cancel()


def test_a_killed_worker_fails_its_waiting_request_in_one_sentence_and_the_next_request_starts_a_new_one(worker):
    call = worker.request("run", partial(ticks, 100_000, 0.01))
    assert call.next(timeout=60)[0] == "item"
    first = worker.pid
    os.kill(first, signal.SIGKILL)  # as the out-of-memory killer would
    while (reply := call.next(timeout=60))[0] == "item":
        pass
    kind, error = reply
    assert kind == "error" and isinstance(error, WorkerError)
    assert str(error) == (
        "The worker process that runs the test jobs stopped before answering (it was killed or ran out of memory); "
        "what you had on the page was kept, and the next request starts a new worker."
    )
    assert worker.call("run", partial(ticks, 3, 0.0)) == 2
    assert worker.pid != first and worker.starts == 2
