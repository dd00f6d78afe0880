"""Fixtures for browser tests: a real ``streamlit run app.py`` server and headless Debian Chromium.

- ``server``: base URL of a live server with the shipped settings (one per test session); the
  browser's colour scheme picks light (the default here) or dark.
- ``dark_server``: the same server, with the ``page`` fixture's browser preferring dark.
- ``browser``: Chromium from /usr/bin/chromium via Playwright's sync API.
- ``page``: a fresh 1280x720 page in its own browser context.

Every server is shut down at the end of the session, also when a test or the start-up fails.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.common import stop_process_group, wait_healthy
from tests.e2e.helpers import ARTIFACTS, ROOT, SERVER_LOGS

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 720}
STARTUP_TIMEOUT_S = float(os.environ.get("E2E_SERVER_TIMEOUT", "60"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_stop = stop_process_group  # the server's whole process group, killed if it does not exit within 10 s


def start_server(theme: str = "light", port: int | None = None, env: dict | None = None, name: str | None = None):
    """``streamlit run app.py`` on 127.0.0.1 (``port``, or a free one), healthy; returns (process, base URL).

    ``env`` is added to this process's environment; the log goes to test-artifacts/server-<name>.log.
    Stop it with ``stop_process_group``; it is also stopped when pytest exits.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    port = port or _free_port()
    log_path = ARTIFACTS / f"server-{name or theme}.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        # Tests must see the files as they were at start, and not spend CPU watching them.
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    if theme != "system":  # "system": the shipped config, each browser's own light / dark preference
        cmd += ["--theme.base", theme]
    full_env = dict(os.environ)
    # The machine is shared; one torch thread per server keeps the browser tests from starving it.
    full_env.setdefault("OMP_NUM_THREADS", "1")
    full_env.setdefault("MKL_NUM_THREADS", "1")
    full_env.update(env or {})
    base_url = f"http://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        # Own process group (start_new_session) so teardown can stop streamlit and anything it spawned.
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    atexit.register(_stop, proc)  # last resort if pytest dies before teardown
    if log_path not in SERVER_LOGS:
        SERVER_LOGS.append(log_path)

    def failure() -> str:
        if proc.poll() is not None:
            what = f"exited with code {proc.returncode} before it was healthy"
        else:
            what = f"not healthy at {base_url}/_stcore/health after {STARTUP_TIMEOUT_S:.0f} s"
        return f"streamlit ({name or theme}) {what}.\nLog {log_path}:\n{_log_tail(log_path)}"

    try:
        wait_healthy(base_url, proc, STARTUP_TIMEOUT_S, failure)
        return proc, base_url
    except RuntimeError as e:
        _stop(proc)
        pytest.fail(str(e), pytrace=False)
    except BaseException:
        _stop(proc)
        raise


def _run_server(theme: str) -> Iterator[str]:
    proc, base_url = start_server(theme)
    try:
        yield base_url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """Base URL (http://127.0.0.1:PORT) of a live app server with the shipped theme settings: light or
    dark follows the browser's preference (light in the ``page`` fixture)."""
    yield from _run_server("system")


@pytest.fixture
def dark_server(server: str, page) -> str:
    """The live server as a viewer whose browser prefers dark sees it: the shipped config has light and
    dark tables, so the theme follows the viewer (a ``--theme.base dark`` server is ignored by them and
    showed the light theme). Sets the ``page`` fixture's colour scheme to dark; returns ``server``."""
    page.emulate_media(color_scheme="dark")
    return server


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium. Missing Chromium fails under CI=true and skips elsewhere."""
    if not Path(CHROMIUM).exists():
        message = (
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's package `chromium` "
            "(sudo apt-get install chromium)."
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " Browser tests must run in CI, not be skipped.", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh 1280x720 page in its own context (no cookies or session shared with other tests)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
