"""Long jobs (live training) out of the web server's process: a bounded number run at once, the rest queue.

A ``Job`` is a picklable callable that returns an iterator of events (``functools.partial(train_live,
text, **settings)``). It runs in the server's background-jobs worker process (``core.workers``, the
one mechanism every heavy background task uses), so training shares no lock with the page scripts
of the other sessions. A relay thread here appends each event to ``job.events``, which the page
reads on a timer, and forwards pause, resume and stop to the worker. A job stops by itself past its
time budget, or when its page has not looked at it for ``abandon_after_s`` (the tab was closed), and
it always frees its slot. One runner per server process (the page caches it), so no two sessions'
jobs run beyond the bound. No streamlit here.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from core.errors import ChainRuleError, InputError
from core.workers import Worker, jobs_worker

STATES = ("queued", "running", "paused", "done", "stopped", "failed")


@dataclass
class Job:
    owner: str  # the browser session that submitted it
    make: Callable[[], Iterator]  # builds the event iterator when the job starts; picklable (it runs in the worker)
    budget_s: float
    abandon_after_s: float
    id: int = 0
    state: str = "queued"
    events: list = field(default_factory=list)
    message: str = ""  # why it stopped or failed, in words
    started: float | None = None
    last_seen: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _run: threading.Event = field(default_factory=threading.Event)  # cleared while paused

    def __post_init__(self):
        self._run.set()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")

    def touch(self) -> None:
        """The page looked at the job (it is still wanted)."""
        self.last_seen = time.monotonic()

    def stop(self, message: str = "Stopped.") -> None:
        if not self.finished:
            self.message = message
            self._stop.set()
            self._run.set()

    def pause(self) -> None:
        if self.state == "running":
            self._run.clear()
            self.state = "paused"

    def resume(self) -> None:
        if self.state == "paused":
            self.state = "running"
            self._run.set()


class JobRunner:
    def __init__(
        self, slots: int = 1, budget_s: float = 120.0, abandon_after_s: float = 15.0, worker: Worker | None = None
    ):
        self.worker = worker or jobs_worker()
        self.slots = slots
        self.budget_s = budget_s
        self.abandon_after_s = abandon_after_s
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._ids = itertools.count(1)

    def submit(self, owner: str, make: Callable[[], Iterator]) -> Job:
        """Queue a job for ``owner``; InputError if that owner already has one queued or running."""
        with self._lock:
            if any(j.owner == owner for j in self._queue + self._running):
                raise InputError("This session already has a training job: stop it first, or wait for it to finish.")
            job = Job(owner, make, self.budget_s, self.abandon_after_s, id=next(self._ids))
            self._queue.append(job)
        self._start_next()
        return job

    def position(self, job: Job) -> int:
        """0 while running; n when n jobs run or wait before it; -1 once finished."""
        with self._lock:
            if job in self._running:
                return 0
            if job in self._queue:
                return len(self._running) + self._queue.index(job)
            return -1

    def _start_next(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.slots:
                job = self._queue.pop(0)
                if job._stop.is_set():
                    job.state = "stopped"
                    continue
                self._running.append(job)
                threading.Thread(target=self._work, args=(job,), name=f"job-{job.id}", daemon=True).start()

    def _work(self, job: Job) -> None:
        """Relay one job: its events from the worker into ``job.events``, pause / resume / stop to the worker."""
        job.state, job.started = "running", time.monotonic()
        final, paused = "failed", False
        try:
            call = self.worker.request("run", job.make)
            while True:
                if job._stop.is_set():
                    break
                if paused != (not job._run.is_set()):  # the page paused or resumed it
                    paused = not paused
                    call.control("pause" if paused else "resume")
                if paused:
                    job.started += 0.2  # the budget does not run meanwhile
                    if self._abandoned(job):
                        job.message = "Stopped: the page that started it was closed."
                        job._stop.set()
                        continue
                    job._run.wait(0.2)
                    continue
                reply = call.next(timeout=0.2)
                if reply is not None:
                    kind, value = reply
                    if kind == "error":
                        raise value
                    if kind == "done":
                        break
                    job.events.append(value)
                if time.monotonic() - job.started > job.budget_s:
                    job.message = f"Stopped at the time budget of {job.budget_s:.0f} s."
                    job._stop.set()
                elif self._abandoned(job):
                    job.message = "Stopped: the page that started it was closed."
                    job._stop.set()
            if job._stop.is_set():
                call.cancel()
            final = "stopped" if job._stop.is_set() else "done"
        except ChainRuleError as e:  # the job's own error in words, or its worker stopped (WorkerError)
            job.message = str(e)
        except Exception as e:  # a bug: the slot must be freed all the same
            job.message = f"Training failed unexpectedly ({type(e).__name__}); see the server log."
            raise
        finally:
            with self._lock:  # the slot is free before anyone can see the job finished
                if job in self._running:
                    self._running.remove(job)
                job.state = final
            self._start_next()

    def _abandoned(self, job: Job) -> bool:
        return time.monotonic() - job.last_seen > job.abandon_after_s
