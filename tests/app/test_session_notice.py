"""The restart notice: a reconnecting browser names its old session in the websocket protocol header."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.session_notices import RESTART_NOTICE, previous_session_id

ROOT = Path(__file__).resolve().parents[2]
OLD = "0b300f2e-e539-4e3f-814c-3f4ac6b77634"


def test_a_fresh_visit_names_no_session():
    # as Streamlit's browser code opens a first connection: "streamlit" and the XSRF token
    assert previous_session_id("streamlit, 2|316a1e15|c14c6ad82261d0ce31d89f57442c1a0e|1796190576") is None
    assert previous_session_id("") is None
    assert previous_session_id("streamlit") is None


def test_a_reconnect_names_the_session_it_had():
    header = f"streamlit, 2|b1a2252c|418451e1a2a9ebf7b110a46ec4e42137|1796190576, {OLD}"
    assert previous_session_id(header) == OLD
    assert previous_session_id(f"streamlit, PLACEHOLDER, {OLD}") == OLD
    # the XSRF token is never mistaken for a session id, nor is junk in third place
    assert previous_session_id("streamlit, 2|b1a2|4184|17, not-a-session") is None


def test_the_app_says_nothing_to_a_fresh_session():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert all(RESTART_NOTICE not in i.value for i in at.info)
    at.run()  # and nothing on later runs either
    assert all(RESTART_NOTICE not in i.value for i in at.info)
