"""What a session is told about the server: that it restarted, and that a click cancels a worker's wait.

Not a page itself: app.py calls ``notice_lost_session`` on each run and runs the page inside
``notice_clicks_while_waiting``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from pages.state import get, put

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def previous_session_id(websocket_protocol: str) -> str | None:
    """The session id a reconnecting browser names in its websocket's ``Sec-WebSocket-Protocol``.

    Streamlit's browser code opens the websocket with the protocols ``streamlit``, an XSRF token,
    and, when it reconnects after losing the server, the id of the session it had. A fresh visit
    names none.
    """
    entries = [e.strip() for e in websocket_protocol.split(",")]
    return next((e for e in entries[2:] if _UUID.match(e)), None)


RESTART_NOTICE = (
    "**The server restarted, so this page started again.** What the address bar holds was kept (the "
    "settings, and on Live sampling the tokens drawn so far); text you typed and other choices were reset."
)


def notice_lost_session() -> None:
    """On a session's first run, say so if the browser had a session this server no longer holds
    (the server restarted or this replica replaced another): the page shows its state afresh."""
    if get("crl_session_started"):
        return
    put("crl_session_started", True)
    if previous_session_id(st.context.headers.get("Sec-Websocket-Protocol", "")):
        st.info(RESTART_NOTICE, icon="🔄")


@contextmanager
def notice_clicks_while_waiting() -> Iterator[None]:
    """Inside, a page that waits for a worker process (the real LLM, core.workers) notices its user's clicks.

    Every 50 ms of a wait the hook reads this session's state: that is a point where Streamlit stops a
    run that a click made stale, and the worker then drops the abandoned request. The hook draws
    nothing: waits may happen inside a cached function, where an element drawn outside it could not
    be replayed. (Continuous batching keeps a step's wait short; long requests show their own spinner.)
    """
    from core.workers import wait_hook

    with wait_hook(lambda status: get("crl_session_started")):
        yield
