"""Timing helpers and the machine description shared by every benchmark."""

from __future__ import annotations

import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stats:
    """Median and range of repeated measurements, in the unit they were taken in."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, scale: float = 1.0, digits: int = 1) -> str:
        """``median (min–max)`` after multiplying by ``scale`` (e.g. 1000 for ms)."""
        return f"{self.median * scale:.{digits}f} ({self.min * scale:.{digits}f}–{self.max * scale:.{digits}f})"


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Stats:
    """Wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Stats.of(times)


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    import streamlit
    import torch

    return {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "streamlit": streamlit.__version__,
    }


def md_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    """Terminate a process started with ``start_new_session=True`` and all its children; kill them
    if they do not exit within ``timeout_s``. A process that already ended is left alone."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout_s)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)


def wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float, failure: Callable[[], str]) -> None:
    """Poll ``base``/_stcore/health until it answers; RuntimeError(``failure()``) if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(failure()) from None
            time.sleep(0.25)


@contextmanager
def streamlit_server(script: Path, cwd: Path, start_timeout_s: float = 90) -> Iterator[tuple[str, int]]:
    """``streamlit run script`` on 127.0.0.1 and a free port, healthy; yields (base URL, pid), stops it on exit."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, start_timeout_s, lambda: f"streamlit did not start for {script}")
        yield base, proc.pid
    finally:
        stop_process_group(proc, timeout_s=20)


def current_section(markdown: str, heading: str) -> str:
    """The section of ``markdown`` that starts with ``heading`` (a "## ..." line), up to the next "## "."""
    start = markdown.find(heading)
    if start < 0:
        return ""
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start:end] if end >= 0 else markdown[start:]


def replace_section(markdown: str, heading: str, section: str) -> str:
    """``markdown`` with its ``heading`` section replaced by ``section`` (appended if it has none)."""
    old = current_section(markdown, heading)
    if not old:
        return markdown.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    at_end = markdown.endswith(old)  # the last section: end the file with a blank line, as before
    return markdown.replace(old, section.rstrip("\n") + "\n" + ("\n" if at_end else ""), 1)
