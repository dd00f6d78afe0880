"""Live training (the Training page): speed, how fast it learns, and what a running job costs other sessions.

    python -m benchmarks.training --update BENCHMARKS.md   # rewrite its section there (~3 min)

- steps per second of a 2-layer, 64-wide transformer on the names at batch 32, with the torch
  thread count the server uses (1, ``CHAIN_RULE_LAB_THREADS``) and with 2;
- the honest held-out NLL at each evaluation against the wall time, and when it first drops below
  2.3 nats per character (the bigram is 2.43);
- 4 other sessions' page reruns (AppTest, the Live sampling page's Next token on shakespeare, in threads of this
  process like the server's) idle and while a job trains in the jobs worker process: the ratio of medians;
  and the job's steps per second alone and while those 4 sessions press.
Run it on a quiet machine: everything shares the two cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import torch

from benchmarks import common
from benchmarks.common import md_table
from core.jobs import JobRunner
from core.text.live_training import train_live

SECTION = "## 9. Live training (the Training page)"
ROOT = Path(__file__).resolve().parent.parent


def steps_per_second(threads: int, steps: int = 400) -> float:
    torch.set_num_threads(threads)
    times = [e.elapsed_s for e in train_live("names", n_layer=2, n_embd=64, steps=steps, eval_every=10**6)]
    # between the first and the last-but-one step: no evaluation or sampling in the interval
    return (len(times) - 2) / (times[-2] - times[0])


def learning_curve(steps: int = 2000, eval_every: int = 200) -> list[tuple[int, float, float]]:
    torch.set_num_threads(1)
    return [
        (e.step, e.elapsed_s, e.heldout_loss)
        for e in train_live("names", n_layer=2, n_embd=64, steps=steps, eval_every=eval_every)
        if e.heldout_loss is not None
    ]


def rerun_times(n: int = 15) -> list[float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "sampling.py"), default_timeout=120)
    at.query_params["tokens"] = "300"
    at.query_params["model"] = "shakespeare"  # no end token: Next stays enabled
    at.run()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        at.button(key="sampling_next").click()
        at.run()
        times.append(time.perf_counter() - t0)
    return times


def four_sessions(n: int = 10) -> list[float]:
    """Rerun times of 4 sessions pressing Next token at once (threads of this process, as the server's)."""
    with ThreadPoolExecutor(4) as pool:
        return [t for times in pool.map(lambda _: rerun_times(n), range(4)) for t in times]


def interference() -> tuple[float, float, float, float]:
    """(other sessions' median rerun idle, beside a job; the job's steps/s alone, beside 4 pressing sessions)."""
    torch.set_num_threads(1)
    rerun_times(3)  # warm up: the model loaded, the page compiled
    idle = statistics.median(four_sessions())
    runner = JobRunner(slots=1, budget_s=600, abandon_after_s=600)
    job = runner.submit("bench", partial(train_live, "names", n_layer=2, n_embd=64, steps=5000, eval_every=10**6))
    while len(job.events) < 10:  # in the worker process, its model built
        if job.finished:
            raise RuntimeError(f"the training job ended before its 10th step: {job.state}: {job.message}")
        time.sleep(0.1)
    n0, t0 = len(job.events), time.monotonic()
    time.sleep(8)
    alone_rate = (len(job.events) - n0) / (time.monotonic() - t0)
    n1, t1 = len(job.events), time.monotonic()
    busy = statistics.median(four_sessions())
    busy_rate = (len(job.events) - n1) / (time.monotonic() - t1)
    job.stop()
    while not job.finished:
        time.sleep(0.05)
    return idle, busy, alone_rate, busy_rate


def section() -> str:
    t0 = time.time()
    rates = {threads: steps_per_second(threads) for threads in (1, 2)}
    curve = learning_curve()
    reached = next(((s, t, h) for s, t, h in curve if h < 2.3), None)
    idle, busy, alone_rate, busy_rate = interference()
    rows = [
        ["steps / s, 2 layers × 64, batch 32, names (1 thread, as served)", "≥ 30", f"{rates[1]:.1f}",
         "met" if rates[1] >= 30 else "**missed**"],
        ["  the same with 2 threads", "", f"{rates[2]:.1f}", ""],
        ["held-out NLL < 2.3 nats/char within 60 s", "≤ 60 s",
         f"step {reached[0]} at {reached[1]:.0f} s ({reached[2]:.3f})" if reached else "not reached",
         "met" if reached and reached[1] <= 60 else "**missed**"],
        ["4 sessions' rerun (Next token), median: beside a training job ÷ idle", "≤ 2×",
         f"{busy * 1000:.0f} ms ÷ {idle * 1000:.0f} ms = {busy / idle:.2f}×",
         "met" if busy / idle <= 2 else "**missed**"],
        ["a job's steps/s beside 4 sessions pressing ÷ alone", "≥ 70 %",
         f"{busy_rate:.1f} ÷ {alone_rate:.1f} = {busy_rate / alone_rate:.0%}",
         "met" if busy_rate >= 0.7 * alone_rate else "**missed**"],
    ]  # fmt: skip
    curve_rows = [[s, f"{t:.1f}", f"{h:.3f}"] for s, t, h in curve]
    return (
        f"{SECTION}\n\n"
        "`python -m benchmarks.training` (the job in the background-jobs worker process, as on the server; "
        f"{time.time() - t0:.0f} s). The held-out NLL is the honest one (each prediction reads only its prefix) over "
        "256 held-out names at each evaluation and all 1,000 at the end; the times include the evaluations and the "
        "four samples drawn at each.\n\n"
        + md_table(["what", "target", "measured", ""], rows)
        + "\n\nLearning curve (2 layers × 64, lr 3e-3, 1 thread):\n\n"
        + md_table(["step", "seconds", "held-out NLL (nats/char)"], curve_rows)
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--update", type=Path, help="rewrite this section of the markdown file")
    args = p.parse_args(argv)
    text = section()
    print(text)
    if args.update:
        args.update.write_text(common.replace_section(args.update.read_text(), SECTION, text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
