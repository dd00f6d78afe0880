"""Live feel in a real browser, idle and under a fixed background load: auto-play, clicks, page opens.

One ``streamlit run app.py`` server and headless Chromium at 1280×720. A first browser session
visits every page (the server loads and caches every model); then each condition runs in a
second, fresh browser context: **idle** (nothing added), then **under load** (``stress-ng --cpu 1``,
or a Python busy loop when stress-ng is missing, started by the benchmark and stopped after it).

Every time is taken inside the page, on the page's own clock (``performance.now()``): a
MutationObserver plus a 20 ms timer record each change of what is measured, and capture-phase
listeners record each click or key press as the browser receives it. A latency is the time from
that input event to the DOM change (the next frame paints it), so Playwright's own overhead is
not counted.

* **auto-play** at 10 tokens/s on the sampling page (shakespeare, prompt ``ROMEO:``, 120 tokens): the
  tokens drawn (the panel's "Tokens drawn" metric, updated with the token strip in the same pass; the strip
  shows only the text's tail, so its tiles are not a count) are read while it plays for 10 s
  (4 s with ``--quick``). Tokens shown per second: the steady rate, from the first new tile to the
  last before Pause (the wait for the first is "Play → first new tile"). Gaps: between successive
  visible updates of the strip over the same stretch (p95, linear interpolation). Stale share: the
  share of the time from the first new tile to the Pause click during which an element marked
  ``data-stale="true"`` (Streamlit fades those) intersects the viewport; the elements seen stale
  are listed under the table.
* **Play → Pause**: from the click on Play to its label reading "Pause"; **Pause → stopped**: from
  the click on Pause to the last new tile after it (0 when none came).
* **Next token** (paused, 15 clicks, 4 with ``--quick``): from each click to the new tile.
* **pages**: /, /chain_rule, /attention, /sampling and /pixelcnn opened one after another in the
  fresh context (so / also loads the app's JavaScript), from navigation start to: the page's ``h1``
  title in view (first paint); the script run finished (``data-test-script-state="notRunning"``,
  connected, no running indicator: idle); and nothing stale and no skeleton left, i.e. every
  element's code loaded and drawn (fully drawn, no target). Idle and drawn are when the final
  stretch of that state began, once it has held for 400 ms.
* **attention**: from Enter in the layer selector to the head heatmap's title naming the new layer
  (median of 10 changes between layers 1 and 2, 3 with ``--quick``).
* **tour**: from each → key (8 presses from step 1; 3 with ``--quick``) to the next step's title
  ("Tour k.") in view, and to that step's script run finished (idle, as for pages).
* **scenes**: from each PageDown on the Scenes page and then on each scene's page (4 presses; 2 with
  ``--quick``) to the next scene's page titled, and idle: a teacher's clicker stepping the shipped list.

A target is judged on the value as the table shows it (so 9.96 tokens/s, shown 10.0, meets ≥ 10).

    python -m benchmarks.live_feel            # the full run (about 4 minutes)
    python -m benchmarks.live_feel --quick    # fewer clicks, shorter play: a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import md_table, stop_process_group, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PAGES = ["", "tour", "chain_rule", "attention", "sampling", "pixelcnn"]
TOUR_URL = "tour?tour_step=1"
TOUR_KEYS = 8  # ArrowRight presses on the tour (3 with --quick): steps 2..9, six of them with a live element
SCENE_KEYS = 4  # PageDown presses from the Scenes page (2 with --quick): the shipped scenes 1..4
SAMPLING_URL = "sampling?model=shakespeare&prompt=ROMEO:&tokens=120"
SPEED = 10  # tokens per second; SPEEDS in pages/sampling.py is [1, 2, 4, 6, 8, 10, 15, 20]
SPEED_INDEX = 5  # its place in SPEEDS: Home, then this many ArrowRight
QUIET_MS = 400  # how long the app must stay idle to count as finished (as tests/e2e/helpers.py)
CONDITIONS = ("under load", "idle")  # the table's column order; idle is measured first

# figure -> (unit, "≥" or "≤" or None, target under load, target idle); None: reported without a target
TARGETS: dict[str, tuple[str, str | None, float | None, float | None]] = {
    "auto-play at 10 tok/s: tokens shown per second": ("tok/s", "≥", 9, 10),
    "auto-play: p95 gap between visible tokens": ("ms", "≤", 250, 150),
    "auto-play: share of playing time with stale elements visible": ("%", "≤", 5, 0),
    "Play → first new tile": ("ms", None, None, None),
    "Play → button reads Pause": ("ms", "≤", 300, 200),
    "Pause → last new tile (stopped)": ("ms", "≤", 300, 200),
    "Pause → button reads Play": ("ms", None, None, None),
    "Next token → new tile, median": ("ms", "≤", 400, 200),
    "Next token → new tile, p95": ("ms", None, None, None),
    **{f"/{p}: first paint": ("s", "≤", 2, 1) for p in PAGES},
    **{f"/{p}: idle": ("s", "≤", 4, 2) for p in PAGES},
    **{f"/{p}: fully drawn": ("s", None, None, None) for p in PAGES},
    "attention: layer change → head heatmap redrawn, median": ("ms", "≤", 800, 400),
    "tour: → key → next step's title, median": ("ms", "≤", 800, 400),
    "tour: → key → next step's title, slowest": ("ms", None, None, None),
    "tour: → key → step idle, median": ("ms", "≤", 2000, 1000),
    "scenes: PageDown → next scene's page titled, median": ("ms", "≤", 2000, 1000),
    "scenes: PageDown → next scene's page idle, median": ("ms", "≤", 4000, 2000),
    "load average (1 min) at the start": ("", None, None, None),
}


# ---------------------------------------------------------------------------------------------
# The arithmetic on recorded timelines (pure, tested in tests/unit/test_live_feel_smoke.py)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def new_tile_times(counts: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """(t, count) at each moment the count rose above every earlier count: a token became visible.

    A strip redrawn with fewer tiles for a moment (or an absent strip, count -1) does not count
    its tiles again when they come back.
    """
    out: list[tuple[float, int]] = []
    best = None
    for t, n in counts:
        if best is None:
            best = n
        elif n > best:
            best = n
            out.append((t, n))
    return out


def share_true(flags: list[tuple[float, bool]], t_from: float, t_to: float) -> float:
    """Share of [t_from, t_to] during which the step function ``flags`` (value holds until the next) is true."""
    if t_to <= t_from:
        return 0.0
    total = 0.0
    for i, (t, flag) in enumerate(flags):
        end = flags[i + 1][0] if i + 1 < len(flags) else t_to
        lo, hi = max(t, t_from), min(end, t_to)
        if flag and hi > lo:
            total += hi - lo
    return total / (t_to - t_from)


@dataclass(frozen=True)
class Playing:
    """What auto-play showed between the Play click and the Pause click."""

    tokens_per_s: float  # the steady rate: tiles after the first new one up to the last before Pause, per second
    p95_gap_ms: float  # between successive visible updates over the same stretch
    stale_share: float  # 0..1 of the time from the first new tile to the Pause click
    tokens: int  # tiles that appeared between Play and Pause
    seconds: float  # from the first new tile to the last one before Pause


def playing_stats(log: list[tuple[float, int, bool]], t_play: float, t_pause: float) -> Playing:
    """Auto-play figures from a log of (t ms, tiles, stale visible) that starts before the Play click at ``t_play``.

    The wait for the first tile is left out of the rate (it is "Play → first new tile"), so a
    display that keeps pace with the clock shows exactly the speed set.
    """
    before = [n for t, n, _ in log if t <= t_play]
    n_start = before[-1] if before else log[0][1]
    shown = [(t, n) for t, n in new_tile_times([(t, n) for t, n, _ in log]) if t_play < t <= t_pause]
    if not shown:
        return Playing(0.0, math.nan, math.nan, 0, 0.0)
    (t0, n0), (t1, n1) = shown[0], shown[-1]
    seconds = (t1 - t0) / 1000
    gaps = [b[0] - a[0] for a, b in zip(shown, shown[1:], strict=False)]
    stale = share_true([(t, s) for t, _, s in log], t0, t_pause)
    rate = (n1 - n0) / seconds if seconds > 0 else 0.0
    return Playing(rate, percentile(gaps, 95), stale, n1 - n_start, seconds)


def idle_since(log: list[tuple[float, bool]]) -> float | None:
    """The start of the final run of true values in a log of (t, idle): when the app became idle for good."""
    since = None
    for t, idle in log:
        if idle and since is None:
            since = t
        elif not idle:
            since = None
    return since


def _fmt(value: float, unit: str) -> str:
    """The value as the table shows it: seconds with 2 decimals, rates and shares with 1, ms whole."""
    if math.isnan(value):
        return "not measured"
    digits = 2 if unit in ("s", "") else 1 if unit in ("tok/s", "%") else 0
    return f"{value:.{digits}f}"


def row(figure: str, condition: str, value: float) -> dict:
    """One result with its target for ``condition``; ``met`` is judged on the value as shown (None: no target)."""
    unit, op, load, idle = TARGETS[figure]
    if op is None:
        return {"figure": figure, "condition": condition, "value": value, "unit": unit, "target": None, "met": None}
    target = load if condition == "under load" else idle
    shown = float(_fmt(value, unit)) if not math.isnan(value) else math.nan
    ok = not math.isnan(shown) and (shown >= target if op == "≥" else shown <= target)
    return {
        "figure": figure,
        "condition": condition,
        "value": value,
        "unit": unit,
        "target": f"{op} {target:g}",
        "met": ok,
    }


def report(rows: list[dict]) -> str:
    """A markdown table: one line per figure, its value and target under load and idle side by side."""
    by = {(r["figure"], r["condition"]): r for r in rows}
    lines = []
    for figure, (unit, _, _, _) in TARGETS.items():
        cells = [figure, unit]
        for condition in CONDITIONS:
            r = by.get((figure, condition))
            if r is None:
                cells += ["not measured", ""]
                continue
            verdict = "" if r["met"] is None else " met" if r["met"] else " **missed**"
            cells += [_fmt(r["value"], r["unit"]) + verdict, r["target"] or "–"]
        lines.append(cells)
    table = md_table(["figure", "unit", "under load", "target", "idle", "target"], lines)
    notes = sorted({f"{r['condition']}: {r['note']}" for r in rows if r.get("note")})
    return table + ("\n\n" + "\n".join(f"* {n}" for n in notes) if notes else "") + "\n"


def summary(rows: list[dict]) -> list[list[str]]:
    """Rows for BENCHMARKS.md's Targets table: how many live-feel targets each condition met."""
    out = []
    for condition in CONDITIONS:
        judged = [r for r in rows if r["condition"] == condition and r["met"] is not None]
        met = sum(r["met"] for r in judged)
        out.append(
            [
                f"live feel in the browser, {condition}",
                "every figure's target",
                f"{met} of {len(judged)}",
                "met" if judged and met == len(judged) else "**missed**",
            ]
        )
    return out


# ---------------------------------------------------------------------------------------------
# The background load


@contextmanager
def background_load(seconds: float = 900) -> Iterator[str]:
    """One CPU kept busy (stress-ng, or a Python busy loop without it); yields what runs, stops it on exit."""
    if shutil.which("stress-ng"):
        cmd, what = ["stress-ng", "--cpu", "1", "--timeout", f"{int(seconds)}s", "--quiet"], "stress-ng --cpu 1"
    else:
        loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
        cmd, what = [sys.executable, "-c", loop], "a Python busy loop on one CPU"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1.0)  # let it spin up before anything is timed
        yield what
    finally:
        stop_process_group(proc)


# ---------------------------------------------------------------------------------------------
# In the page: a recorder of a probe's value, and the probes


# Installs window.__lf: ``log`` holds [t, state] each time the probe's state changed, ``inputs``
# holds [t, type, key] for every click and key press, ``seen`` the names the probe noted.
RECORDER_JS = """
(probeSrc) => {
  if (window.__lf) window.__lf.stop();
  const probe = eval('(' + probeSrc + ')');
  const lf = {log: [], inputs: [], seen: {}, last: undefined};
  const check = () => {
    let v;
    try { v = probe(); } catch (e) { v = {state: 'probe error: ' + e}; }
    const s = JSON.stringify(v.state);
    if (s !== lf.last) { lf.last = s; lf.log.push([performance.now(), v.state]); }
    for (const n of (v.notes || [])) lf.seen[n] = true;
  };
  const onInput = (e) => lf.inputs.push([performance.now(), e.type, e.key || '']);
  const obs = new MutationObserver(check);
  obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const timer = setInterval(check, 20);
  document.addEventListener('click', onInput, true);
  document.addEventListener('keydown', onInput, true);
  lf.stop = () => {
    obs.disconnect(); clearInterval(timer);
    document.removeEventListener('click', onInput, true);
    document.removeEventListener('keydown', onInput, true);
  };
  check();
  window.__lf = lf;
}
"""

_VISIBLE_JS = """(el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  }"""

# The sampling page: tiles in the strip, the Play button's label, stale elements in view (and which).
SAMPLING_PROBE = (
    """() => {
  const visible = """
    + _VISIBLE_JS
    + """;
  // tokens on screen: the panel's "Tokens drawn" metric ("n of limit"), drawn with the strip in the same
  // update; the strip itself shows only the text's tail, so its tiles stop growing past two lines
  const metric = document.querySelector('[data-testid="stMain"] [data-testid="stMetricValue"]');
  const n = metric ? parseInt(metric.textContent, 10) : -1;
  const button = document.querySelector('.st-key-sampling_play button');
  const label = button ? button.textContent.trim() : '';
  const stale = [...document.querySelectorAll('[data-stale="true"]')].filter(visible);
  const name = (el) => ([...el.classList].find(c => c.startsWith('st-key-'))
    || el.querySelector('[data-testid]')?.getAttribute('data-testid') || el.tagName)
    + ' "' + el.textContent.trim().slice(0, 24) + '"';
  return {state: [n, label, stale.length > 0], notes: stale.map(name)};
}"""
)

_STALE_NOW_JS = """() => [...document.querySelectorAll('[data-stale="true"]')].map(el =>
  (el.querySelector('[data-testid]')?.getAttribute('data-testid') || el.tagName)
  + ' at ' + Math.round(el.getBoundingClientRect().top) + ' "' + el.textContent.trim().slice(0, 20) + '"')"""

# Any page being opened: its h1 title in view; the script run finished (idle); and also nothing stale
# and no skeleton left, i.e. every element's code loaded and drawn (drawn).
PAGE_PROBE = (
    """() => {
  const visible = """
    + _VISIBLE_JS
    + """;
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  const app = document.querySelector('[data-testid="stApp"]');
  const titled = h1 !== null && visible(h1);
  const idle = titled && app !== null
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') === null;
  const drawn = idle
    && document.querySelector('[data-testid="stElementContainer"][data-stale="true"]') === null
    && document.querySelector('[data-testid="stSkeleton"]') === null;
  return {state: [titled, idle, drawn]};
}"""
)

# The attention page: the title of the head heatmap ("names: layer 1, head 1").
ATTENTION_PROBE = """() => {
  const title = document.querySelector('.st-key-attention_head_fig .gtitle');
  return {state: title ? title.textContent : ''};
}"""


def _record(page, probe: str) -> None:
    page.evaluate(RECORDER_JS, probe)


def _log(page) -> list:
    return page.evaluate("() => window.__lf.log")


def _state(page):
    """The probe's latest state."""
    return json.loads(page.evaluate("() => window.__lf.last"))


def _last_input(page, kind: str, key: str = "") -> float:
    """Page time of the latest input event of ``kind`` (and ``key``)."""
    inputs = page.evaluate("() => window.__lf.inputs")
    times = [t for t, k, name in inputs if k == kind and (not key or name == key)]
    if not times:
        raise RuntimeError(f"no {kind} {key} reached the page")
    return times[-1]


def _first_after(log: list, t0: float, test) -> float:
    """Time of the first log entry after ``t0`` whose state passes ``test`` (nan when none)."""
    return next((t for t, s in log if t >= t0 and test(s)), math.nan)


def _wait(page, js: str, arg=None, timeout_s: float = 30) -> bool:
    try:
        page.wait_for_function(js, arg=arg, timeout=timeout_s * 1000, polling=20)
        return True
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------
# The measurements


def measure_pages(context, base: str) -> tuple[dict[str, tuple[float, float, float]], list[str]]:
    """{path: (first paint, idle, drawn) in s from navigation start}, each page opened in turn; and notes."""
    from benchmarks.page_driver import streamlit_errors

    page = context.new_page()
    page.add_init_script(f"({RECORDER_JS})({json.dumps(PAGE_PROBE)})")
    out, notes = {}, []
    quiet = f"""() => {{
      const log = window.__lf ? window.__lf.log : [];
      const last = log[log.length - 1];
      return last !== undefined && last[1][2] && performance.now() - last[0] >= {QUIET_MS};
    }}"""
    for path in PAGES:
        page.goto(f"{base}/{path}", wait_until="commit", timeout=120000)
        finished = _wait(page, quiet, timeout_s=120)
        log = _log(page)
        first = next((t for t, (titled, _, _) in log if titled), math.nan)
        idle = idle_since([(t, s[1]) for t, s in log]) if finished else None
        drawn = idle_since([(t, s[2]) for t, s in log]) if finished else None
        out[path] = tuple(math.nan if x is None else x / 1000 for x in (first, idle, drawn))
        errors = streamlit_errors(page)
        if errors or not finished:
            notes.append(f"/{path}: " + ("; ".join(e[:120] for e in errors) or "not drawn within 120 s"))
    page.close()
    return out, notes


def _set_speed(page) -> None:
    from benchmarks.page_driver import wait_idle

    thumb = page.locator(".st-key-speed input[type=range]")
    thumb.focus()
    page.keyboard.press("Home")
    for _ in range(SPEED_INDEX):
        page.keyboard.press("ArrowRight")
    wait_idle(page, 60000)
    shown = page.locator(".st-key-speed [data-testid=stSliderThumbValue]").first.text_content()
    if shown is None or shown.strip() != str(SPEED):
        raise RuntimeError(f"the auto-play speed reads {shown!r}, not {SPEED}")


def measure_sampling(context, base: str, quick: bool) -> tuple[dict[str, float], list[str]]:
    """Auto-play at 10 tokens/s, Play/Pause, then Next token clicks; figures in ms (rate in tok/s)."""
    from benchmarks.page_driver import wait_idle

    page = context.new_page()
    page.goto(f"{base}/{SAMPLING_URL}", wait_until="domcontentloaded", timeout=120000)
    wait_idle(page, 120000)
    _set_speed(page)
    _record(page, SAMPLING_PROBE)
    play = page.locator(".st-key-sampling_play button >> visible=true")
    notes = []

    n_start = _state(page)[0]
    play.click()
    t_play = _last_input(page, "click")
    if not _wait(page, "(n) => JSON.parse(window.__lf.last)[0] > n", n_start):
        notes.append("no token appeared within 30 s of Play")
    page.evaluate("() => { window.__lf.seen = {}; }")  # from the first new tile on: what stays stale while playing
    time.sleep(max(0.0, (4 if quick else 10) - (page.evaluate("() => performance.now()") - t_play) / 1000))
    seen = sorted(page.evaluate("() => Object.keys(window.__lf.seen)"))
    stale_now = page.evaluate(_STALE_NOW_JS)  # every stale element, in view or not, just before Pause
    play.click()
    t_pause = _last_input(page, "click")
    time.sleep(1.5)  # any token still on its way arrives in this time
    wait_idle(page, 60000)
    log = [(t, n, stale) for t, (n, _, stale) in _log(page)]
    labels = [(t, label) for t, (_, label, _) in _log(page)]
    stats = playing_stats(log, t_play, t_pause)
    tiles = [(t, n) for t, n in new_tile_times([(t, n) for t, n, _ in log]) if t > t_play]
    after_pause = [t for t, _ in tiles if t > t_pause]
    if seen:
        notes.append("stale (in view) while playing: " + ", ".join(seen))
    if stale_now:
        notes.append("stale just before Pause (top px of the 720 px view): " + ", ".join(stale_now))
    figures = {
        "auto-play at 10 tok/s: tokens shown per second": stats.tokens_per_s,
        "auto-play: p95 gap between visible tokens": stats.p95_gap_ms,
        "auto-play: share of playing time with stale elements visible": stats.stale_share * 100,
        "Play → first new tile": tiles[0][0] - t_play if tiles else math.nan,
        "Play → button reads Pause": _first_after(labels, t_play, lambda s: "Pause" in s) - t_play,
        "Pause → last new tile (stopped)": max(after_pause) - t_pause if after_pause else 0.0,
        "Pause → button reads Play": _first_after(labels, t_pause, lambda s: "Play" in s) - t_pause,
    }
    notes.append(
        f"auto-play: {stats.tokens} tiles between Play and Pause (the steady rate over {stats.seconds:.1f} s), "
        f"{len(after_pause)} more after Pause"
    )

    # Next token, paused: each click until its tile is visible, then the run finished before the next
    clicks = []
    button = page.locator(".st-key-sampling_next button >> visible=true")
    for _ in range(4 if quick else 15):
        n_before = _state(page)[0]
        button.click()
        t_click = _last_input(page, "click")
        if not _wait(page, "(n) => JSON.parse(window.__lf.last)[0] > n", n_before):
            notes.append("a Next token click was not answered within 30 s")
            break
        clicks.append(_first_after(_log(page), t_click, lambda s, n=n_before: s[0] > n) - t_click)
        wait_idle(page, 60000)
    figures["Next token → new tile, median"] = percentile(clicks, 50)
    figures["Next token → new tile, p95"] = percentile(clicks, 95)
    page.close()
    return figures, notes


def measure_attention(context, base: str, quick: bool) -> tuple[dict[str, float], list[str]]:
    """Median ms from Enter in the layer selector to the head heatmap titled with the new layer; notes."""
    from benchmarks.page_driver import wait_idle

    page = context.new_page()
    page.goto(f"{base}/attention", wait_until="domcontentloaded", timeout=120000)
    wait_idle(page, 120000)
    _record(page, ATTENTION_PROBE)
    layer = page.get_by_role("combobox", name="Layer")
    times, notes = [], []
    for i in range(3 if quick else 10):
        target = 2 if i % 2 == 0 else 1
        layer.click()
        layer.fill(str(target))
        page.keyboard.press("Enter")
        t_enter = _last_input(page, "keydown", "Enter")
        wanted = f"layer {target},"
        if not _wait(page, "(w) => JSON.parse(window.__lf.last).includes(w)", wanted):
            notes.append(f"attention: the head heatmap did not show layer {target} within 30 s")
            break
        times.append(_first_after(_log(page), t_enter, lambda s, w=wanted: w in s) - t_enter)
        wait_idle(page, 60000)
    page.close()
    return {"attention: layer change → head heatmap redrawn, median": percentile(times, 50)}, notes


# Any page: its h1's text (with the scene stepper's first line, which names the scene when two scenes in a
# row open the same page) and whether its script run finished (the tour's step, a scene's page).
TITLE_PROBE = """() => {
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  const stepper = document.querySelector('.st-key-crl_scene_stepper p');
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"]') === null;
  return {state: [(h1 ? h1.textContent : '') + (stepper ? ' | ' + stepper.textContent : ''), idle]};
}"""


def _key_steps(page, key: str, presses: int, arrived, what: str) -> tuple[list[float], list[float], list[str]]:
    """Press ``key`` ``presses`` times, each once the page is idle; for each, ms from the key press to the
    first title that ``arrived(i, title)`` accepts (i: the press, from 0; the title as TITLE_PROBE reads it), and to that title's page idle. Stops at the first miss."""
    from benchmarks.page_driver import wait_idle

    titled, idle, notes = [], [], []
    for i in range(presses):
        before = _state(page)[0]
        page.get_by_test_id("stMain").locator("h1").first.click()  # the focus on the page, not in a widget
        page.keyboard.press(key)
        t_key = _last_input(page, "keydown", key)
        new = "(b) => { const s = JSON.parse(window.__lf.last); return s[0] !== b && s[1]; }"
        if not _wait(page, new, before, timeout_s=60):
            notes.append(f"{what}: no new title within 60 s of {key} (still “{before[:40]}”)")
            break
        log = _log(page)
        t_title = _first_after(log, t_key, lambda s, b=before, i=i: s[0] != b and arrived(i, s[0]))
        if math.isnan(t_title):
            notes.append(f"{what}: {key} led to “{_state(page)[0][:40]}”, not the next one")
            break
        titled.append(t_title - t_key)
        idle.append(_first_after(log, t_title, lambda s: s[1]) - t_key)
        wait_idle(page, 60000)
    return titled, idle, notes


def measure_tour(context, base: str, quick: bool) -> tuple[dict[str, float], list[str]]:
    """→ on the tour: ms to the next step's title and to its page idle."""
    from benchmarks.page_driver import open_page

    page = context.new_page()
    open_page(page, base, TOUR_URL)
    page.evaluate(RECORDER_JS, TITLE_PROBE)
    presses = 3 if quick else TOUR_KEYS
    titled, idle, notes = _key_steps(page, "ArrowRight", presses, lambda i, t: t.startswith(f"Tour {i + 2}."), "tour")
    page.close()
    figures = {}
    if titled:
        figures["tour: → key → next step's title, median"] = percentile(titled, 50)
        figures["tour: → key → next step's title, slowest"] = max(titled)
        figures["tour: → key → step idle, median"] = percentile(idle, 50)
    return figures, notes


def measure_scenes(context, base: str, quick: bool) -> tuple[dict[str, float], list[str]]:
    """PageDown from the Scenes page through the shipped list: ms to each scene's page titled, and idle."""
    from benchmarks.page_driver import open_page

    page = context.new_page()
    open_page(page, base, "scenes")
    page.evaluate(RECORDER_JS, TITLE_PROBE)
    page.wait_for_timeout(500)
    # arrived: the stepper names the next scene (scenes 2 and 3 both open the Chain rule page)
    presses = 2 if quick else SCENE_KEYS
    titled, idle, notes = _key_steps(page, "PageDown", presses, lambda i, t: f"Scene {i + 1} of" in t, "scenes")
    page.close()
    figures = {}
    if titled:
        figures["scenes: PageDown → next scene's page titled, median"] = percentile(titled, 50)
        figures["scenes: PageDown → next scene's page idle, median"] = percentile(idle, 50)
    return figures, notes


def warm_up(browser, base: str) -> None:
    """A first session visits every page and the two measured views, so every model is loaded and cached."""
    from benchmarks.page_driver import open_page

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    for path in [*PAGES, SAMPLING_URL, "scenes"]:
        open_page(page, base, path, timeout=180000)
    context.close()


def measure_condition(browser, base: str, condition: str, quick: bool) -> list[dict]:
    """Every figure once, in a fresh browser context (a second visitor's session).

    A measurement that fails is noted and its figures stay "not measured": one broken page does
    not hide the others.
    """
    rows = [row("load average (1 min) at the start", condition, os.getloadavg()[0])]
    notes = []
    context = browser.new_context(viewport=VIEWPORT)
    try:
        pages, more = measure_pages(context, base)
        notes += more
        for path, (first, idle, drawn) in pages.items():
            rows.append(row(f"/{path}: first paint", condition, first))
            rows.append(row(f"/{path}: idle", condition, idle))
            rows.append(row(f"/{path}: fully drawn", condition, drawn))
    except Exception as e:
        notes.append(f"pages: failed ({type(e).__name__}: {str(e)[:200]})")
    measures = (("sampling", measure_sampling), ("attention", measure_attention), ("tour", measure_tour),
                ("scenes", measure_scenes))  # fmt: skip
    for name, measure in measures:  # each: {figure: value} and notes
        try:
            figures, more = measure(context, base, quick)
            notes += more
            rows += [row(figure, condition, value) for figure, value in figures.items()]
        except Exception as e:
            notes.append(f"{name}: failed ({type(e).__name__}: {str(e)[:200]})")
    context.close()
    rows += [
        {
            "figure": "note",
            "condition": condition,
            "value": math.nan,
            "unit": "",
            "target": None,
            "met": None,
            "note": n,
        }
        for n in notes
    ]
    return rows


def run(quick: bool = False) -> list[dict]:
    """Rows (figure, condition, value, unit, target, met) for both conditions, idle measured first."""
    from playwright.sync_api import sync_playwright

    rows = []
    with streamlit_server(ROOT / "app.py", ROOT) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            warm_up(browser, base)
            rows += measure_condition(browser, base, "idle", quick)
            with background_load() as what:
                load = measure_condition(browser, base, "under load", quick)
                load[0]["note"] = f"the load: {what}, started 1 s before and stopped after"
                rows += load
        finally:
            browser.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer clicks and a shorter play: a smoke run")
    args = p.parse_args()
    print(report(run(quick=args.quick)))


if __name__ == "__main__":
    main()
