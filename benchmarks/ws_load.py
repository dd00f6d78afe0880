"""Server capacity without browsers: sessions that speak Streamlit's websocket protocol directly.

    python -m benchmarks.ws_load --sessions 10 --seconds 20

On one 2-core machine the browser-driven load test measures the browsers as much as the server:
Chromium used 1.3-1.5 cores while the server it drove used 0.2-0.3 (BENCHMARKS.md, "Classroom").
This driver costs almost nothing per session: each one opens the websocket the browser would
open, asks for the sampling page with its own seed in the query string (a ``rerun_script``
message, as the browser sends), finds the "Next token" button in the reply, and presses it (a
``rerun_script`` with that button's trigger) as fast as the server answers. The time from a press
to the run's ``script_finished`` is the server's latency; at the end each session's text must equal
``core.generate`` for its seed, computed alone. The text is the page's first code block in the
page's order (``drawn_text``), as the browser load test reads it: the page has more code blocks
(the share link), so the last one received is not the text.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.common import md_table, streamlit_server
from benchmarks.load_test import MODEL, PROMPT, TOKENS, Barrier, expected_text

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120  # one run, on a loaded machine


@dataclass
class WsSession:
    index: int
    seed: int
    latencies_s: list[float] = field(default_factory=list)
    text: str | None = None
    expected: str | None = None
    error: str | None = None


class Protocol:
    """One websocket session: request runs, read what they drew."""

    def __init__(self, ws, query: str, page: str = "sampling") -> None:
        self.ws, self.query, self.page = ws, query, page
        self.buttons: dict[str, str] = {}  # label -> widget id, from the latest run
        self.codes: dict[tuple[int, ...], str] = {}  # the latest run's code blocks, by their place on the page
        self.code: str | None = None  # the drawn text: the latest run's first code block (``drawn_text``)
        self.finished = False  # the latest message ended a run

    async def request(self, trigger: str | None = None) -> None:
        """Ask for a run of the sampling page, pressing the button ``trigger``, as the browser's rerun request does."""
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        if trigger is not None:
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = trigger
            state.trigger_value = True
        await self.ws.send(msg.SerializeToString())

    async def run(self, trigger: str | None = None) -> None:
        """Ask for a run (pressing ``trigger``) and read it to the end."""
        await self.request(trigger)
        self.codes = {}
        while True:
            self.read(ForwardMsg.FromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S)))
            if self.finished:
                return

    def read(self, fwd: ForwardMsg) -> None:
        """Take in one message of a run: buttons, code blocks (by their place), the run's end."""
        self.finished = False
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "button":
                self.buttons[element.button.label] = element.button.id
            elif which == "code":
                self.codes[tuple(fwd.metadata.delta_path)] = element.code.code_text
            elif which == "exception":  # an uncaught error drawn on the page: this session failed
                raise RuntimeError(f"the page drew an error: {element.exception.message[:120]}")
        elif kind == "script_finished" and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self.code = drawn_text(self.codes)
            self.finished = True


def drawn_text(codes: dict[tuple[int, ...], str]) -> str | None:
    """The sampling page's text: its first code block in the page's order (a delta path orders the page as
    the browser draws it: the text comes before the share link and the timing's texts)."""
    return codes[min(codes)] if codes else None


async def _session(base: str, s: WsSession, seconds: float, gate: Barrier) -> None:
    import websockets

    query = f"model={MODEL}&prompt={quote(PROMPT)}&seed={s.seed}&tokens={TOKENS}"
    url = base.replace("http://", "ws://") + "/_stcore/stream"
    arrived = False
    try:
        async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26) as ws:
            page = Protocol(ws, query)
            await page.run()
            if "Next token" not in page.buttons:
                raise RuntimeError(f"no 'Next token' button on the page (buttons: {sorted(page.buttons)})")
            gate.release()
            arrived = True
            async with gate:
                pass
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                await page.run(trigger=page.buttons["Next token"])
                s.latencies_s.append(time.monotonic() - t0)
            s.text = page.code
    except Exception as e:  # this session's failure, reported with the others
        s.error = f"{type(e).__name__}: {e}"
    finally:
        if not arrived:
            gate.release()


LLM_QUERY = "model=smollm2&prompt=" + quote("Once upon a time") + "&seed=1&tokens=2000"


async def _llm_player(base: str, seconds: float, gate: Barrier, errors: list[str]) -> int:
    """A teacher's session: auto-play on the real LLM for the whole run; returns the tokens it was shown."""
    import websockets

    url = base.replace("http://", "ws://") + "/_stcore/stream"
    received = 0
    try:
        async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26) as ws:
            page = Protocol(ws, LLM_QUERY)
            await page.run()
            gate.release()
            async with gate:
                pass
            await page.request(trigger=page.buttons["Play"])  # at the page's default speed, 4 tokens/s
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:  # playing: the server's script keeps drawing and sending
                try:
                    fwd = ForwardMsg.FromString(
                        await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
                    )
                except TimeoutError:
                    break
                # at up to 4 tokens/s the page redraws its distribution chart once per drawn token
                if fwd.WhichOneof("type") == "delta" and fwd.delta.new_element.WhichOneof("type") == "plotly_chart":
                    received += 1
                page.read(fwd)  # raises if the page drew an error
    except Exception as e:
        errors.append(f"LLM player: {type(e).__name__}: {e}")
        gate.release()
    return received


async def _drive(
    base: str, sessions: int, seconds: float, llm_players: int = 0
) -> tuple[list[WsSession], float, list[str], list[int]]:
    runs = [WsSession(i, seed=2000 + i) for i in range(sessions)]
    gate = Barrier(sessions + llm_players)
    errors: list[str] = []
    players = [asyncio.create_task(_llm_player(base, seconds, gate, errors)) for _ in range(llm_players)]
    tasks = [asyncio.create_task(_session(base, s, seconds, gate)) for s in runs]
    async with gate:  # every session has drawn its page (or failed): the load starts together
        pass
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    received = await asyncio.gather(*players)
    errors += [f"LLM player {i} was shown no token while playing" for i, n in enumerate(received) if n == 0]
    return runs, wall, errors, list(received)


@dataclass
class Capacity:
    sessions: int
    seconds: float
    wall_s: float
    runs: list[WsSession]
    llm_players: int = 0
    llm_errors: list[str] = field(default_factory=list)
    llm_tokens: list[int] = field(default_factory=list)  # tokens each LLM player was shown while playing

    @property
    def answered(self) -> int:
        return sum(len(s.latencies_s) for s in self.runs)

    def percentile(self, q: float) -> float:
        xs = sorted(t for s in self.runs for t in s.latencies_s)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    @property
    def problems(self) -> list[str]:
        out = list(self.llm_errors) + [f"session {s.index}: {s.error}" for s in self.runs if s.error]
        for s in self.runs:
            if s.text != s.expected:
                shown, expected = s.text or "", s.expected or ""
                at = next(
                    (i for i, (a, b) in enumerate(zip(shown, expected, strict=False)) if a != b),
                    min(len(shown), len(expected)),
                )
                out.append(
                    f"session {s.index}: text differs from core.generate after {len(s.latencies_s)} presses "
                    f"({len(shown)} vs {len(expected)} characters, first difference at {at})"
                )
        return out


def measure(base: str, sessions: int, seconds: float, llm_players: int = 0) -> Capacity:
    """``sessions`` pressing "Next token" for ``seconds``, beside ``llm_players`` auto-playing the LLM
    at the page's default speed (4 tokens/s)."""
    # its own event loop on a thread of its own: the caller's thread may be running one already
    # (Playwright's sync API keeps a loop running in the thread of a test suite that used a browser)
    with ThreadPoolExecutor(1) as pool:
        runs, wall, errors, received = pool.submit(asyncio.run, _drive(base, sessions, seconds, llm_players)).result()
    for s in runs:
        if s.text is not None:
            # one token per answered press, up to the page's length limit (then a press draws nothing)
            s.expected = expected_text(s.seed, min(len(s.latencies_s), TOKENS)).rstrip("\n")
            s.text = s.text.rstrip("\n")
    return Capacity(sessions, seconds, wall, runs, llm_players, errors, received)


def report(results: list[Capacity]) -> str:
    rows = [
        [
            r.sessions if not r.llm_players else f"{r.sessions} + {r.llm_players} auto-playing the LLM",
            f"{r.answered / r.wall_s:.1f}" if r.sessions else "–",
            f"{r.percentile(0.5) * 1000:.0f}" if r.sessions else "–",
            f"{r.percentile(0.95) * 1000:.0f}" if r.sessions else "–",
            ", ".join(f"{n / r.seconds:.1f}" for n in r.llm_tokens) or "–",
            "ok" if not r.problems else "; ".join(r.problems)[:200],
        ]
        for r in results
    ]
    header = ["sessions", "answered presses/s", "press to finished run p50 (ms)", "p95 (ms)", "LLM tokens/s shown"]
    return md_table([*header, ""], rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, action="append", help="sessions at once (repeatable); default 1 4 10 20")
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args(argv)
    results = []
    for n in args.sessions or [1, 4, 10, 20]:
        with streamlit_server(ROOT / "app.py", ROOT, start_timeout_s=120) as (base, _pid):
            results.append(measure(base, n, args.seconds))
        print(f"{n} sessions: {results[-1].answered} presses answered, problems {results[-1].problems[:2]}", flush=True)
    print(report(results))
    return 0 if not any(r.problems for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
