"""The classroom load test at its CI size: 4 real browser sessions for 10 s against the shared server.

Full size (10 sessions, 30 s): ``python -m benchmarks.load_test --sessions 10 --seconds 30``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest

from benchmarks.load_test import rss_growth_bound_mb, run_load
from core.checkpoint import MODELS_DIR

pytestmark = pytest.mark.e2e

SESSIONS = int(os.environ.get("LOAD_SESSIONS", "4"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "10"))
RSS_GROWTH_BOUND_MB = rss_growth_bound_mb(SESSIONS)  # after the sessions closed, vs before them (models loaded)


def server_pid(base_url: str) -> int:
    """The pid of the streamlit process (a child of this pytest) listening on the fixture's port."""
    port = urlparse(base_url).port
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                return child.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    raise AssertionError(f"no child process listens on port {port}")


def test_concurrent_sessions_keep_their_own_state(server: str):
    if not (MODELS_DIR / "shakespeare.safetensors").exists():
        pytest.fail("the shipped model 'shakespeare' is missing: the load test samples from it", pytrace=False)
    result = run_load(server, server_pid(server), SESSIONS, SECONDS, settle_s=5)
    print(result.summary())
    sampling = [r for r in result.results if r.role == "sampling"]
    assert len(sampling) == (SESSIONS + 1) // 2
    problems = result.problems(RSS_GROWTH_BOUND_MB)
    assert not problems, "\n".join(problems)
    assert result.held == SESSIONS, result.summary()


def test_the_websocket_driver_checks_the_text_the_page_drew(server: str):
    """benchmarks.ws_load against the real page (share link and all): the text it reads is the drawn one, equal
    to core.generate for its seed, and its check fails when the text is wrong."""
    from benchmarks import ws_load

    result = ws_load.measure(server, 1, 3)
    [session] = result.runs
    assert session.latencies_s and not result.problems, result.problems
    assert session.text.startswith(ws_load.PROMPT) and session.text == session.expected
    session.expected = session.expected[:-1] + ("x" if session.expected[-1] != "x" else "y")
    assert any("text differs from core.generate" in p for p in result.problems)


def test_a_fresh_server_serves_the_llm_and_a_small_model_opened_at_the_same_moment():
    """A class opening the app at once: on a fresh server one session plays the real LLM while another
    presses Next token on the names model. Sessions that connect before the server's first run reaches
    st.navigation are run by Streamlit as bare page scripts (pages.navigation.require_app sends them
    through app.py); one such run once drew a figure while app.py was still importing pandas and
    showed an error here 3 times in 4. Both sessions draw, the text equals core.generate, the LLM's
    tokens arrive."""
    from benchmarks import ws_load
    from benchmarks.common import streamlit_server

    root = Path(__file__).resolve().parents[2]
    with streamlit_server(root / "app.py", root, start_timeout_s=120) as (base, _pid):
        result = ws_load.measure(base, 1, 4, llm_players=1)
    assert not result.problems, result.problems
    assert result.runs[0].latencies_s and result.llm_tokens[0] > 0
