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
4. **The server alone** (``benchmarks.ws_load``: sessions speaking Streamlit's websocket protocol,
   no browsers): 1, 4, 10 and 20 sessions pressing "Next token"; then 4 sessions beside 0, 1 and 2
   sessions auto-playing the real LLM (the page's default 4 tokens/s), decoded in
   the LLM's worker process (``core.workers``).
5. **The real LLM beside a class** (websocket sessions): a teacher's auto-play on SmolLM2 alone,
   beside 4 sessions pressing "Next token" nonstop, and 10 auto-plays at once.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path

from benchmarks import common
from benchmarks.common import md_table, streamlit_server
from benchmarks.live_feel import background_load
from benchmarks.load_test import LoadResult, rss_growth_bound_mb, run_load

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## 8. Classroom: sessions at once on one server"
CI_SESSIONS, CI_SECONDS = 4, 10


def one_run(sessions: int, seconds: float, loaded: bool = False) -> tuple[LoadResult | None, list[str], str]:
    """A fresh server, the load, its verdict: (result or None if it crashed, problems, background)."""
    with background_load() if loaded else nullcontext("nothing") as background:
        try:
            with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, pid):
                result = run_load(base, pid, sessions, seconds, settle_s=5)
        except Exception as e:  # a run that crashes counts as not held, with its reason
            return None, [f"{type(e).__name__}: {e}"], background
    return result, result.problems(rss_growth_bound_mb(sessions)), background


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


def server_alone(sizes: tuple[int, ...] = (1, 4, 10, 20), seconds: float = 20) -> tuple[str, list[list[str]]]:
    from benchmarks import ws_load

    results = []
    for n in sizes:
        with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, _):
            results.append(ws_load.measure(base, n, seconds))
        print(f"server alone {n}: {results[-1].answered} answered {results[-1].problems[:1]}", flush=True)
    with_llm = []
    for players in (0, 1, 2):
        with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, _):
            with_llm.append(ws_load.measure(base, 4, seconds, llm_players=players))
        print(f"beside {players} LLM players: p95 {with_llm[-1].percentile(0.95):.3f} s", flush=True)
    alone, worst = with_llm[0].percentile(0.95), max(r.percentile(0.95) for r in with_llm[1:])
    targets = [
        [
            "server alone: every session's text equals core.generate",
            "all",
            "all" if not any(r.problems for r in results + with_llm) else "**not all**",
            not any(r.problems for r in results + with_llm),
        ],
        ["4 sessions' p95 beside 2 LLM auto-players ÷ alone", "≤ 3×", f"{worst / alone:.1f}×", worst <= 3 * alone],
    ]
    return ws_load.report(results) + "\n\n" + ws_load.report(with_llm) + "\n", targets


def llm_class(seconds: float = 20) -> tuple[str, list[list[str]]]:
    """The real LLM beside a class: a teacher's auto-play alone, beside 4 sessions pressing nonstop,
    and 10 auto-plays at once (each scenario on a fresh server, websocket sessions, no browsers)."""
    from benchmarks import ws_load

    scenarios = {"player": (0, 1), "pressing": (4, 0), "both": (4, 1), "ten": (0, 10)}
    got = {}
    for name, (sessions, players) in scenarios.items():
        with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, _):
            got[name] = ws_load.measure(base, sessions, seconds, llm_players=players)
        print(f"LLM {name}: tokens {got[name].llm_tokens} problems {got[name].problems[:2]}", flush=True)
    alone, beside = got["player"].llm_tokens[0], got["both"].llm_tokens[0]
    p95_alone, p95_beside = got["pressing"].percentile(0.95), got["both"].percentile(0.95)
    slowest = min(got["ten"].llm_tokens) / seconds
    ok = not any(r.problems for r in got.values())
    targets = [
        [
            "LLM auto-play beside 4 sessions pressing ÷ alone",
            "≥ 90 %",
            f"{beside / max(alone, 1):.0%}",
            beside >= 0.9 * alone,
        ],
        [
            "4 pressing sessions' p95 beside the LLM auto-play ÷ without",
            "≤ 1.3×",
            f"{p95_beside / p95_alone:.2f}×",
            p95_beside <= 1.3 * p95_alone,
        ],
        ["10 LLM auto-plays at 4 tokens/s: the slowest", "≥ 3.6 tokens/s", f"{slowest:.2f}", slowest >= 3.6],
        ["LLM class: every pressing session's text equals core.generate", "all", "all" if ok else "**not all**", ok],
    ]
    return ws_load.report(list(got.values())) + "\n", targets


ORDER = ("### Repeat", "### Full size", "### Capacity", "### The server alone", "### The real LLM")


def run(parts: tuple[str, ...], runs: int) -> tuple[dict[str, str], list[list[str]]]:
    """The parts asked for: ({subsection title: body}, judged target rows)."""
    jobs = {
        "repeat": (
            f"### Repeat: the CI-size load test ({CI_SESSIONS} sessions, {CI_SECONDS} s), {runs} in a row",
            lambda: repeat(runs),
        ),
        "full": ("### Full size: 10 sessions for 30 s", full_size),
        "capacity": ("### Capacity: 1 to 20 sessions for 20 s each", lambda: (capacity(), [])),
        "server": ("### The server alone: websocket sessions, no browsers, 20 s each", server_alone),
        "llm": ("### The real LLM beside a class: websocket sessions, 20 s each", llm_class),
    }
    sections, targets = {}, []
    for part in parts:
        title, job = jobs[part]
        t0 = time.time()
        body, rows = job()
        sections[title] = f"Measured on {date.today().isoformat()} in {time.time() - t0:.0f} s.\n\n{body}"
        targets += [[w, t, m, "met" if ok else "**missed**"] for w, t, m, ok in rows]
    return sections, targets


def render(sections: dict[str, str], targets: list[list[str]]) -> str:
    ordered = sorted(sections, key=lambda t: next((i for i, p in enumerate(ORDER) if t.startswith(p)), len(ORDER)))
    head = f"{SECTION}\n\nBy `python -m benchmarks.classroom`. " + __doc__.split("\n\n", 2)[2].strip() + "\n\n"
    table = md_table(["what", "target", "measured", ""], targets) + "\n\n" if targets else ""
    return head + table + "\n".join(f"{t}\n\n{sections[t].strip()}\n" for t in ordered)


def parse(section: str) -> tuple[dict[str, str], list[list[str]]]:
    """What ``render`` wrote: its subsections and its target rows."""
    parts = section.split("\n### ")
    sections = {}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        sections["### " + title.strip()] = body.strip()
    targets = []
    for line in parts[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] != "what":
            targets.append(cells)
    return sections, targets


def merge(old_section: str, sections: dict[str, str], targets: list[list[str]]) -> str:
    """The old section with this run's subsections and target rows put in (same title or target: replaced)."""
    old_sections, old_targets = parse(old_section) if old_section else ({}, [])
    kept = {t: b for t, b in old_sections.items() if not any(t.split(":")[0] == n.split(":")[0] for n in sections)}
    new_whats = {row[0] for row in targets}
    return render(kept | sections, [r for r in old_targets if r[0] not in new_whats] + targets)


def current_section(markdown: str) -> str:
    return common.current_section(markdown, SECTION)


def replace_section(markdown: str, section: str) -> str:
    return common.replace_section(markdown, SECTION, section)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only", choices=["repeat", "full", "capacity", "server", "llm"], action="append", help="run only this part"
    )
    p.add_argument("--runs", type=int, default=10, help="repeats of the CI-size test, idle and loaded")
    p.add_argument("--update", type=Path, help="rewrite the classroom section of this markdown file")
    args = p.parse_args(argv)
    sections, targets = run(tuple(args.only or ("repeat", "full", "capacity", "server", "llm")), args.runs)
    print(render(sections, targets))
    if args.update:  # the parts not run this time stay as they were
        old = args.update.read_text() if args.update.exists() else ""
        args.update.write_text(replace_section(old, merge(current_section(old), sections, targets)))
    return 0 if all(t[3] == "met" for t in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
