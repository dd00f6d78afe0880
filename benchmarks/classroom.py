"""The classroom: the load test repeated, at full size, and at 1 to 20 sessions.

    python -m benchmarks.classroom                 # everything below, ~30 min on 2 cores
    python -m benchmarks.classroom --only repeat   # one part: repeat, full or capacity
    python -m benchmarks.classroom --update BENCHMARKS.md   # also rewrite its section there

Every run starts its own ``streamlit run app.py`` server on loopback and drives it with real
headless Chromium sessions (``benchmarks.load_test``): the even sessions press "Next token" on the
sampling page with their own seeds, the odd ones move widgets on the chain-rule and attention
pages. A run *holds* when every session had its interactions answered, saw no error, and every
sampling text equals ``core.generate`` for its seed computed alone.

1. **Repeat**: the CI-size test (4 sessions for 10 s) ``--runs`` times in a row idle, and as many
   times under a fixed background load (``stress-ng --cpu 1``), each on a fresh server.
2. **Full size**: 10 sessions for 30 s, three consecutive runs.
3. **Capacity**: 1, 4, 10 and 20 sessions for 20 s: answered interactions per second, the time
   from an interaction to its finished rerun (p50 and p95), and the CPU the server and the
   browsers used (on one 2-core machine the browsers compete with the server they measure).
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path

from benchmarks.common import md_table, streamlit_server
from benchmarks.live_feel import background_load
from benchmarks.load_test import LoadResult, run_load

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## 8. Classroom: sessions at once on one server"
CI_SESSIONS, CI_SECONDS = 4, 10


def rss_bound_mb(sessions: int) -> float:
    return 40 + 8 * sessions  # the load test's bound (tests/e2e/test_load.py)


def one_run(sessions: int, seconds: float, loaded: bool = False) -> tuple[LoadResult | None, list[str], str]:
    """A fresh server, the load, its verdict: (result or None if it crashed, problems, background)."""
    with background_load() if loaded else nullcontext("nothing") as background:
        try:
            with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, pid):
                result = run_load(base, pid, sessions, seconds, settle_s=5)
        except Exception as e:  # a run that crashes counts as not held, with its reason
            return None, [f"{type(e).__name__}: {e}"], background
    return result, result.problems(rss_bound_mb(sessions)), background


def _row(label: str, result: LoadResult | None, problems: list[str]) -> list[str]:
    if result is None:
        return [label, "crashed", "", "", "", "", problems[0][:200]]
    return [
        label,
        f"{result.held}/{result.sessions}",
        f"{result.answered_per_s:.1f}",
        f"{result.latency_percentile(0.5) * 1000:.0f} / {result.latency_percentile(0.95) * 1000:.0f}",
        f"{result.server_cpu_s / result.wall_s:.2f} / {result.browser_cpu_s / result.wall_s:.2f}",
        f"{result.rss_after_mb - result.rss_before_mb:+.0f}",
        "ok" if not problems else "; ".join(problems)[:300],
    ]


HEADER = ["run", "held", "answered/s", "to rerun p50 / p95 (ms)", "CPU cores server / browsers", "RSS Δ (MB)", ""]


def repeat(runs: int) -> tuple[str, list[list[str]]]:
    rows, targets = [], []
    for loaded in (False, True):
        passed, first_failure, table = 0, None, []
        for i in range(runs):
            result, problems, background = one_run(CI_SESSIONS, CI_SECONDS, loaded)
            table.append(_row(f"{i + 1}", result, problems))
            passed += not problems
            print(f"repeat {'loaded' if loaded else 'idle'} {i + 1}: {table[-1]}", flush=True)
            if problems and first_failure is None:
                first_failure = i + 1
        condition = f"under {background}" if loaded else "idle"
        rows.append(f"**{condition}**: {passed} of {runs} runs held\n\n" + md_table(HEADER, table) + "\n")
        targets.append(
            [f"CI-size load test, {runs} in a row, {condition}", f"{runs}/{runs}", f"{passed}/{runs}", passed == runs]
        )
    return "\n".join(rows), targets


def full_size(runs: int = 3) -> tuple[str, list[list[str]]]:
    table, held = [], 0
    for i in range(runs):
        result, problems, _ = one_run(10, 30)
        table.append(_row(f"{i + 1}", result, problems))
        held += not problems
        print(f"full size {i + 1}: {table[-1]}", flush=True)
    target = ["10 sessions for 30 s, three runs in a row", "3/3 held", f"{held}/{runs}", held == runs]
    return md_table(HEADER, table) + "\n", [target]


def capacity(sizes: tuple[int, ...] = (1, 4, 10, 20), seconds: float = 20) -> str:
    table = []
    for n in sizes:
        result, problems, _ = one_run(n, seconds)
        table.append(_row(f"{n} sessions", result, problems))
        print(f"capacity {n}: {table[-1]}", flush=True)
    return md_table(HEADER, table) + "\n"


def run(parts: tuple[str, ...], runs: int) -> tuple[str, list[list[str]]]:
    t0 = time.time()
    text, targets = [], []
    if "repeat" in parts:
        body, rows = repeat(runs)
        text.append(
            f"### Repeat: the CI-size load test ({CI_SESSIONS} sessions, {CI_SECONDS} s), {runs} in a row\n\n{body}"
        )
        targets += rows
    if "full" in parts:
        body, rows = full_size()
        text.append(f"### Full size: 10 sessions for 30 s\n\n{body}")
        targets += rows
    if "capacity" in parts:
        text.append(f"### Capacity: 1 to 20 sessions for 20 s each\n\n{capacity()}")
    judged = [[w, t, m, "met" if ok else "**missed**"] for w, t, m, ok in targets]
    head = (
        f"{SECTION}\n\nGenerated by `python -m benchmarks.classroom` on {date.today().isoformat()} in "
        f"{time.time() - t0:.0f} s.\n\n" + __doc__.split("\n\n", 2)[2].strip() + "\n\n"
    )
    return head + (md_table(["what", "target", "measured", ""], judged) + "\n\n" if judged else "") + "\n".join(
        text
    ), judged


def replace_section(markdown: str, section: str) -> str:
    """``markdown`` with its classroom section replaced by ``section`` (appended if it has none)."""
    start = markdown.find(SECTION)
    if start < 0:
        return markdown.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    end = markdown.find("\n## ", start + len(SECTION))
    rest = markdown[end:] if end >= 0 else "\n"
    return markdown[:start] + section.rstrip("\n") + "\n" + rest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=["repeat", "full", "capacity"], action="append", help="run only this part")
    p.add_argument("--runs", type=int, default=10, help="repeats of the CI-size test, idle and loaded")
    p.add_argument("--update", type=Path, help="rewrite the classroom section of this markdown file")
    args = p.parse_args(argv)
    section, targets = run(tuple(args.only or ("repeat", "full", "capacity")), args.runs)
    print(section)
    if args.update:
        old = args.update.read_text() if args.update.exists() else ""
        args.update.write_text(replace_section(old, section))
    return 0 if all(t[3] == "met" for t in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
