"""Background work in processes of their own: the one mechanism behind the real LLM, the Training
page's jobs and the PixelCNN test-set scoring.

Why processes. A Streamlit server answers every browser session from a thread of one Python
process, and Python runs one thread's bytecode at a time (the GIL). A decoding step of the LLM is
~600 small torch operations; each gives the lock up and must win it back from the busy session
threads, so one busy neighbour turned 12 ms of maths into seconds. A process of its own has its
own lock: the web process only asks and waits, and waiting costs no lock.

The shape, as in llama.cpp's ``llama-server`` or vLLM but small:

* ``Worker`` (the web process's side) starts ``python -m core.workers FD SERVICE`` on first use: a
  fresh interpreter (spawned, not forked: nothing of the server's threads or state is copied),
  with its own torch threads (``CHAIN_RULE_LAB_THREADS``, default 1), joined to the web process
  by one socket pair (a ``multiprocessing.connection.Connection``). One reader thread hands each
  reply to the request that waits for it. ``multiprocessing``'s own spawn start is not used:
  under Streamlit, ``sys.modules["__main__"]`` is the page script, which it would run again in
  the child.
* ``serve`` (the worker's side) runs one ``Service`` in a loop: read requests, do one slice of
  work, send the replies. A service decides what a slice is: the LLM engine runs one batch of
  decoding steps from every waiting session (``core.text.llm_engine``), ``JobService`` advances each
  running job by one event.
* Requests carry token ids and return numpy arrays: pickling a list of tensors costs far more.
* A request whose page moved on is **cancelled** in the worker (``Worker.call`` sends a cancel when
  its wait is interrupted). A worker that **dies** (killed, out of memory) fails the requests it
  held with one sentence in words (``WorkerError``), and the next request starts a new one.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from core import errors
from core.errors import ChainRuleError, WorkerError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent  # the folder that holds core/: the worker's working directory
THREADS_ENV = "CHAIN_RULE_LAB_THREADS"  # torch threads per worker process (default 1), as for the web process
AUTHKEY_ENV = "CHAIN_RULE_LAB_WORKER_KEY"  # the web process's multiprocessing auth key, given to its workers
POLL_S = 0.05  # how often a waiting request calls its wait hook (where a page notices a rerun)
IDLE_POLL_S = 1.0  # how long an idle worker sleeps between housekeeping rounds


# ---------------------------------------------------------------------------------------------
# The web process's side


@dataclass(frozen=True)
class WaitStatus:
    """What a waiting request knows, passed to the page's wait hook every ``POLL_S``."""

    waited_s: float  # since the request was sent
    in_flight: int  # requests the worker holds from every session of this server, this one included
    what: str  # the worker's name in words ("the real LLM")


_local = threading.local()  # per thread: the hook called while a request waits


@contextmanager
def wait_hook(hook: Callable[[WaitStatus], None]) -> Iterator[None]:
    """While inside, this thread's waits for a worker call ``hook(status)`` every ``POLL_S``.

    A page passes a hook that touches Streamlit: if its user clicked meanwhile, Streamlit raises
    there to stop the run, and ``Worker.call`` cancels the request in the worker before re-raising.
    """
    previous = getattr(_local, "hook", None)
    _local.hook = hook
    try:
        yield
    finally:
        _local.hook = previous


@dataclass(eq=False)
class Call:
    """One request: its replies arrive on ``items`` (a stream of events, then the end)."""

    id: int
    worker: Worker
    process: _Process | None = None
    items: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)  # ("item" | "done" | "error", payload)
    sent_at: float = field(default_factory=time.monotonic)
    finished: bool = False
    future: Future | None = None  # from ``Worker.submit``: the reader thread completes it instead
    last: Any = None  # the latest event, for a future

    def next(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """The next reply, ("item", x), ("done", x) or ("error", exception), or None after ``timeout``."""
        try:
            return self.items.get(timeout=timeout)
        except queue.Empty:
            return None

    def cancel(self) -> None:
        """No longer wanted: the worker drops it (or stops it, for a job) and sends nothing more."""
        if not self.finished:
            self.finished = True
            self.worker._send_control(self, ("cancel", self.id))

    def control(self, what: str) -> None:
        """Pause or resume a job in the worker ("pause", "resume")."""
        if not self.finished:
            self.worker._send_control(self, ("control", self.id, what))


class Worker:
    """One worker process running ``service`` ("module:factory"), started on first use, restarted after it dies.

    ``what`` names it in the sentences a user reads ("the real LLM"). Thread-safe: every browser
    session's thread may call it at once.
    """

    def __init__(self, service: str, what: str):
        self.service = service
        self.what = what
        self._lock = threading.Lock()  # starting, sending
        self._process: _Process | None = None
        self._ids = itertools.count(1)
        self._notes: deque[tuple[str, Any]] = deque()  # messages that wait for the next request
        self.starts = 0  # processes started so far (a restart after a death counts)

    # -- requests

    def request(self, op: str, payload: Any = None, future: Future | None = None) -> Call:
        """Send a request and return at once; its replies arrive on the returned ``Call`` (or complete ``future``)."""
        call = Call(next(self._ids), self, future=future)
        with self._lock:
            for attempt in (1, 2):
                process = self._running()
                try:
                    process.add(call)
                    while self._notes:
                        process.conn.send(("note", *self._notes.popleft()))
                    process.conn.send(("call", call.id, op, payload))
                    break
                except (OSError, EOFError):  # it died before it could read this: a new one, once
                    process.remove(call)
                    process.dead = True
                    if attempt == 2:
                        raise WorkerError(self._death_sentence()) from None
        return call

    def call(self, op: str, payload: Any = None) -> Any:
        """Send a request and wait for its answer (the one reply of an engine request, or a job's last event).

        While it waits, the thread's wait hook is called every ``POLL_S``; if the hook raises (the
        page's user clicked again), the request is cancelled in the worker and the error goes on.
        """
        call = self.request(op, payload)
        hook = getattr(_local, "hook", None)
        last, hook_at = None, time.monotonic() + POLL_S
        try:
            while True:
                reply = call.next(max(0.0, hook_at - time.monotonic()) if hook is not None else None)
                if hook is not None and time.monotonic() >= hook_at:  # every POLL_S, events arriving or not
                    hook_at = time.monotonic() + POLL_S
                    hook(WaitStatus(time.monotonic() - call.sent_at, self.in_flight, self.what))
                if reply is None:
                    continue
                kind, value = reply
                if kind == "item":
                    last = value
                    continue
                call.finished = True
                if kind == "error":
                    raise value
                return value if value is not None else last
        except BaseException:
            call.cancel()
            raise

    def submit(self, op: str, payload: Any = None) -> Future:
        """Send a request; a ``Future`` gets its answer (a job's last event), without a thread waiting for it."""
        future: Future = Future()
        self.request(op, payload, future)
        return future

    def notify(self, op: str, payload: Any = None) -> None:
        """A message that needs no answer (the LLM engine: "free this cache"), sent with the next request.

        Never blocks and takes no lock: a garbage collector may call it from inside ``request``.
        """
        self._notes.append((op, payload))

    # -- the process

    @property
    def pid(self) -> int | None:
        """The worker's process id, None before it first started."""
        return self._process.proc.pid if self._process is not None else None

    @property
    def in_flight(self) -> int:
        process = self._process
        return len(process.calls) if process is not None else 0

    def stop(self) -> None:
        """End the worker process (it is started again by the next request). For tests and shutdown."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.close()

    def _running(self) -> _Process:
        """The live process, started if there is none or the last one died. Called holding the lock."""
        process = self._process
        if process is None or process.dead or process.proc.poll() is not None:
            if process is not None:
                process.dead = True
                log.warning(
                    "%s: worker process %s ended (exit code %s); starting a new one",
                    self.what,
                    process.proc.pid,
                    process.proc.poll(),
                )
            self._process = process = _Process.start(self)
            self.starts += 1
        return process

    def _send_control(self, call: Call, message: tuple) -> None:
        with self._lock:
            process = call.process
            if process is not None and not process.dead:
                try:
                    process.conn.send(message)
                except (OSError, EOFError):
                    process.dead = True
            if message[0] == "cancel" and process is not None:
                process.remove(call)

    def _death_sentence(self) -> str:
        return (
            f"The worker process that runs {self.what} stopped before answering (it was killed or ran out of memory); "
            "what you had on the page was kept, and the next request starts a new worker."
        )


class _Process:
    """One started worker process, its connection, and the requests it holds."""

    def __init__(self, worker: Worker, proc: subprocess.Popen, conn: Connection):
        self.worker, self.proc, self.conn = worker, proc, conn
        self.calls: dict[int, Call] = {}
        self.dead = False
        self._calls_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, name=f"worker-reader-{proc.pid}", daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, worker: Worker) -> _Process:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.setdefault(THREADS_ENV, "1")
        # torch sends a tensor through a Connection as a shared file descriptor, fetched from the
        # sender's resource sharer, which asks for this process's auth key (spawn would pass it on)
        env[AUTHKEY_ENV] = multiprocessing.current_process().authkey.hex()
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.workers", str(theirs.fileno()), worker.service],
            cwd=ROOT,
            env=env,
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        log.info("%s: started worker process %s", worker.what, proc.pid)
        return cls(worker, proc, Connection(ours.detach()))

    def add(self, call: Call) -> None:
        call.process = self
        with self._calls_lock:
            self.calls[call.id] = call

    def remove(self, call: Call) -> None:
        with self._calls_lock:
            self.calls.pop(call.id, None)

    def close(self) -> None:
        self.dead = True
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.conn.close()

    def _read(self) -> None:
        """Hand every reply to its request; when the worker is gone, fail every request it held."""
        try:
            while True:
                call_id, kind, value = self.conn.recv()
                with self._calls_lock:
                    call = self.calls.get(call_id)
                    if call is not None and kind != "item":
                        del self.calls[call_id]
                if call is None:
                    continue  # cancelled meanwhile
                if kind == "error":
                    value = _as_exception(value, self.worker.what)
                _deliver(call, kind, value)
        except (EOFError, OSError):
            pass
        except Exception:  # a reply that cannot be read: this process can no longer answer anyone
            log.exception("%s: unreadable reply from worker %s; stopping it", self.worker.what, self.proc.pid)
            self.proc.kill()
        self.dead = True
        code = self.proc.poll()
        # Under the worker's lock, so a request being sent right now is either listed here (its send went
        # through: lost with the worker, it fails in one sentence) or gone to a new worker (its send
        # failed and it was unlisted); never swept between being listed and a failed send. A send can go
        # through for a moment after the worker died: the kernel releases a dead process's socket a
        # little later, and what reached it then is lost with it.
        with self.worker._lock, self._calls_lock:
            orphans, self.calls = list(self.calls.values()), {}
        if orphans:
            log.warning(
                "%s: worker process %s ended (exit code %s) with %d requests",
                self.worker.what,
                self.proc.pid,
                code,
                len(orphans),
            )
        for call in orphans:
            _deliver(call, "error", WorkerError(self.worker._death_sentence()))


def _deliver(call: Call, kind: str, value: Any) -> None:
    if call.future is None:
        call.items.put((kind, value))
    elif kind == "item":
        call.last = value
    elif kind == "error":
        call.future.set_exception(value)
    else:
        call.future.set_result(value if value is not None else call.last)


def _as_exception(value: tuple[str, str, bool], what: str) -> Exception:
    """An error sent by the worker, as the web process raises it: a user's error keeps its class and words."""
    name, message, users = value
    if not users:
        return WorkerError(
            f"{what[0].upper() + what[1:]} failed unexpectedly ({name}); the server log has the details."
        )
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ChainRuleError)):
        cls = ChainRuleError
    e = cls.__new__(cls)
    Exception.__init__(e, message)  # its own __init__ may take other arguments; the words are what matter
    return e


# ---------------------------------------------------------------------------------------------
# The worker's side


class Service(Protocol):
    """What ``serve`` runs. Replies are (request id, "item" | "done" | "error", payload)."""

    def submit(self, call_id: int, op: str, payload: Any) -> None: ...

    def cancel(self, call_id: int) -> None: ...

    def control(self, call_id: int, what: str) -> None: ...

    def note(self, op: str, payload: Any) -> None: ...

    def busy(self) -> bool:
        """Work is waiting: ``serve`` must not sleep on the connection."""
        ...

    def step(self) -> list[tuple[int, str, Any]]:
        """One slice of work (or housekeeping when idle); the replies it produced."""
        ...


def error_reply(call_id: int, e: BaseException) -> tuple[int, str, tuple[str, str, bool]]:
    """The reply for a request that failed: a user's error in its own words, a bug by name (and in the log)."""
    users = isinstance(e, ChainRuleError)
    if not users:
        log.error("request %s failed:\n%s", call_id, "".join(traceback.format_exception(e)))
    return call_id, "error", (type(e).__name__, str(e), users)


def serve(conn: Connection, service: Service) -> None:
    """Run ``service`` until the web process goes away: requests in, one slice of work, replies out."""
    handlers = {
        "call": lambda m: service.submit(m[1], m[2], m[3]),
        "cancel": lambda m: service.cancel(m[1]),
        "control": lambda m: service.control(m[1], m[2]),
        "note": lambda m: service.note(m[1], m[2]),
    }
    try:
        while True:
            if conn.poll(0 if service.busy() else IDLE_POLL_S):
                while True:  # every message waiting, so a batch sees every session that asked
                    message = conn.recv()
                    handlers[message[0]](message)
                    if not conn.poll():
                        break
            for reply in service.step():
                conn.send(reply)
    except (EOFError, OSError):  # the web process closed its end: nobody is left to answer
        return


class _Broken:
    """A service that could not start: it answers every request with the reason, in words."""

    def __init__(self, error: BaseException):
        self.error, self.outbox = error, []

    def submit(self, call_id, op, payload):
        self.outbox.append(error_reply(call_id, self.error))

    def cancel(self, call_id):
        pass

    def control(self, call_id, what):
        pass

    def note(self, op, payload):
        pass

    def busy(self):
        return bool(self.outbox)

    def step(self):
        out, self.outbox = self.outbox, []
        return out


class JobService:
    """Runs jobs: any picklable callable that returns an iterator of events (``core.text.live_training.train_live``
    with its settings, ``core.image.model.score_test_set``). Every running job advances by one event per
    turn, round robin, so two jobs share the worker; a paused job is skipped; a cancelled one is closed.
    """

    def __init__(self) -> None:
        self.jobs: dict[int, Iterator] = {}
        self.paused: set[int] = set()
        self.turns: deque[int] = deque()
        self.outbox: list = []

    def submit(self, call_id: int, op: str, payload: Callable[[], Iterator]) -> None:
        try:
            self.jobs[call_id] = iter(payload())
            self.turns.append(call_id)
        except Exception as e:
            self.outbox.append(error_reply(call_id, e))

    def cancel(self, call_id: int) -> None:
        job = self.jobs.pop(call_id, None)
        self.paused.discard(call_id)
        if hasattr(job, "close"):
            job.close()

    def control(self, call_id: int, what: str) -> None:
        if what == "pause":
            self.paused.add(call_id)
        elif what == "resume":
            self.paused.discard(call_id)

    def note(self, op: str, payload: Any) -> None:
        pass

    def busy(self) -> bool:
        return bool(self.outbox) or any(i not in self.paused for i in self.jobs)

    def step(self) -> list:
        out, self.outbox = self.outbox, []
        for _ in range(len(self.turns)):
            call_id = self.turns.popleft()
            if call_id not in self.jobs:
                continue  # cancelled
            self.turns.append(call_id)
            if call_id in self.paused:
                continue
            try:
                out.append((call_id, "item", next(self.jobs[call_id])))
            except StopIteration:
                del self.jobs[call_id]
                out.append((call_id, "done", None))
            except Exception as e:
                del self.jobs[call_id]
                out.append(error_reply(call_id, e))
            break
        return out


def job_service() -> JobService:
    return JobService()


_shared: dict[str, Worker] = {}
_shared_lock = threading.Lock()


def shared_worker(service: str, what: str) -> Worker:
    """The server's one worker running ``service``: every session's requests go to it (it is started by
    the first request and started again after it dies)."""
    with _shared_lock:
        if service not in _shared:
            _shared[service] = Worker(service, what)
        return _shared[service]


def jobs_worker() -> Worker:
    """The server's one worker for jobs (training, test-set scoring)."""
    return shared_worker("core.workers:job_service", "the background jobs")


def main(argv: list[str]) -> None:
    """``python -m core.workers FD module:factory``: the worker process's entry point."""
    fd, spec = int(argv[0]), argv[1]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")
    import importlib

    import torch

    torch.set_num_threads(int(os.environ.get(THREADS_ENV, "1")))
    torch.set_num_interop_threads(1)
    multiprocessing.current_process().authkey = bytes.fromhex(os.environ.pop(AUTHKEY_ENV))
    conn = Connection(fd)
    module, _, factory = spec.partition(":")
    try:
        service = getattr(importlib.import_module(module), factory)()
    except Exception as e:  # the model's file is missing or broken: say so to every request
        if not isinstance(e, ChainRuleError):
            log.exception("the service %s could not start", spec)
        service = _Broken(e)
    serve(conn, service)


if __name__ == "__main__":
    main(sys.argv[1:])
