"""Faults while the server runs, in a real browser: a restart mid-session, a model file breaking, the
LLM's worker process killed.

Each test starts its own server (the shared ``server`` fixture must not be restarted or broken).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import core
from core.checkpoint import MODELS_DIR, MODELS_DIR_ENV
from pages.session_notices import RESTART_NOTICE
from tests.e2e.conftest import _free_port, start_server
from tests.e2e.helpers import Wire, assert_no_streamlit_errors, expect_rerun, open_page, screenshot
from tests.fault_models import broken_models_dir

pytestmark = pytest.mark.e2e

PROMPT, SEED = "ma", 7
QUERY = f"model=names&prompt={PROMPT}&seed={SEED}&tokens=30"


def shown_text(page: Page) -> str:
    return page.get_by_test_id("stCode").first.inner_text().strip()


def next_token(page: Page, wire: Wire) -> None:
    with expect_rerun(page, wire, timeout=60000):
        page.get_by_role("button", name="Next token").locator("visible=true").first.click()


def expected(n_tokens: int) -> str:
    return expected_names(n_tokens)


def expected_names(n_tokens: int) -> str:
    lm = core.load_text_model("names")
    return PROMPT + "".join(s.token for s in core.generate(lm, PROMPT, n_tokens, seed=SEED))


def kill(proc) -> None:
    """The server dies at once (SIGKILL to its process group), as a crash or a pulled plug would."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def connection(page: Page) -> str | None:
    return page.locator('[data-testid="stApp"]').get_attribute("data-test-connection-state")


def test_a_restarted_server_says_the_session_was_reset_and_works_again(page: Page):
    port = _free_port()
    wire = Wire(page)
    proc, base = start_server(port=port, name="restart")
    try:
        open_page(page, base, "")
        open_page(page, base, f"sampling?{QUERY}")
        next_token(page, wire)
        next_token(page, wire)
        assert shown_text(page) == expected(2)
        kill(proc)
        deadline = time.monotonic() + 30
        while connection(page) == "CONNECTED":  # the browser notices the lost server
            assert time.monotonic() < deadline, "the browser did not notice that the server died"
            page.wait_for_timeout(200)
        proc, base = start_server(port=port, name="restart")  # the same address: the browser retries it
        expect(page.locator('[data-testid="stApp"]')).to_have_attribute(
            "data-test-connection-state", "CONNECTED", timeout=60000
        )
        next_token(page, wire)  # answered by the new server: nothing hangs
        notice = page.get_by_test_id("stAlertContentInfo").filter(has_text="The server restarted")
        expect(notice).to_be_visible()
        screenshot(page, "restart-notice", full_page=False)
        assert "address bar holds was kept" in RESTART_NOTICE and "address bar holds was kept" in notice.inner_text()
        # the session started again from the URL (model, prompt, seed and the two tokens drawn, with the
        # generator replayed). The click that met the new server only redrew the page: its button's
        # callback belonged to the lost session, and acting on state that is gone would be worse.
        assert shown_text(page) == expected(2)
        next_token(page, wire)
        assert shown_text(page) == expected(3)  # the token the lost session would have drawn next
        next_token(page, wire)
        assert shown_text(page) == expected(4)
        assert_no_streamlit_errors(page)
        # a fresh visit to the new server is not told about a restart it never saw
        open_page(page, base, f"sampling?{QUERY}")
        expect(page.get_by_text("The server restarted")).to_have_count(0)
    finally:
        if proc.poll() is None:
            kill(proc)


def _error_texts(page: Page) -> list[str]:
    return [e.inner_text() for e in page.get_by_test_id("stAlertContentError").all()]


def test_a_model_file_breaking_while_the_server_runs_affects_only_its_page(page: Page, tmp_path: Path):
    if not (MODELS_DIR / "pixelcnn.safetensors").exists():
        pytest.fail("the shipped model 'pixelcnn' is missing", pytrace=False)
    models = broken_models_dir(tmp_path, "names-bigram", "missing weights")  # a copy; names-bigram unused here
    wire = Wire(page)
    proc, base = start_server(env={MODELS_DIR_ENV: str(models)}, name="live-faults")
    try:
        open_page(page, base, "")
        open_page(page, base, f"sampling?{QUERY}")  # loads names into the shared cache
        next_token(page, wire)
        # now, with the server running, pixelcnn's weights are truncated and names' file vanishes
        pixel = models / "pixelcnn.safetensors"
        good = pixel.read_bytes()
        pixel.unlink()
        pixel.write_bytes(good[: len(good) // 2])
        (models / "names.safetensors").unlink()

        open_page(page, base, "pixelcnn")
        errors = _error_texts(page)
        assert any("pixelcnn" in e and "truncated or altered" in e for e in errors), errors
        assert all("Traceback" not in e for e in errors)
        assert_no_streamlit_errors(page)

        # a model loaded before its file broke keeps serving from memory (it was verified when loaded)
        open_page(page, base, f"sampling?{QUERY}")
        assert not _error_texts(page)
        next_token(page, wire)
        assert shown_text(page) == expected(1)
        open_page(page, base, "chain_rule")
        assert_no_streamlit_errors(page)

        # the file repaired: the page works again without a restart (a failed load is not cached)
        pixel.write_bytes(good)
        open_page(page, base, "pixelcnn")
        assert not any("pixelcnn" in e for e in _error_texts(page)), _error_texts(page)
        assert_no_streamlit_errors(page)
    finally:
        kill(proc)


LLM_PROMPT, LLM_SEED = "The capital of France is", 5
LLM_QUERY = f"model=smollm2&prompt={LLM_PROMPT.replace(' ', '%20')}&seed={LLM_SEED}&tokens=30"


def llm_worker_pid(server_pid: int) -> int:
    """The server's LLM worker: its child process running core.text.llm_engine (core.workers)."""
    import psutil

    for child in psutil.Process(server_pid).children(recursive=True):
        if any("llm_engine" in part for part in child.cmdline()):
            return child.pid
    raise AssertionError("the server has no LLM worker process")


def test_a_killed_llm_worker_is_one_sentence_then_a_new_one_answers_and_other_pages_work(page: Page):
    """The LLM's worker dies while a session waits for it (SIGKILL, as the out-of-memory killer sends): that
    session reads one sentence and keeps its text; its next click is answered by a new worker; the small
    models' pages never noticed."""
    llm = core.load_text_model("smollm2")  # the oracle, in this process (its own worker)
    drawn = [s.token_id for s in core.generate(llm, LLM_PROMPT, 2, seed=LLM_SEED)]
    expected = [llm.vocab.decode(llm.vocab.encode(LLM_PROMPT) + drawn[:n]).strip() for n in (1, 2)]
    wire = Wire(page)
    proc, base = start_server(name="llm-worker-kill")
    try:
        open_page(page, base, "")
        open_page(page, base, f"sampling?{LLM_QUERY}")
        next_token(page, wire)  # the first LLM request starts the worker
        assert shown_text(page) == expected[0]
        pid = llm_worker_pid(proc.pid)
        os.kill(pid, signal.SIGSTOP)  # frozen: the next request certainly waits for it
        with expect_rerun(page, wire, timeout=60000):
            page.get_by_role("button", name="Next token").locator("visible=true").first.click()
            page.wait_for_timeout(1500)  # the session is waiting for the worker's answer
            os.kill(pid, signal.SIGKILL)
        errors = _error_texts(page)
        assert len(errors) == 1 and "stopped before answering" in errors[0] and "was kept" in errors[0], errors
        screenshot(page, "llm-worker-killed", full_page=False)
        assert shown_text(page) == expected[0]  # the text was kept
        next_token(page, wire)  # a new worker answers
        assert not _error_texts(page) and shown_text(page) == expected[1]
        assert llm_worker_pid(proc.pid) != pid
        for path in ("chain_rule", "attention", "pixelcnn", f"sampling?{QUERY}"):  # the small models' pages
            open_page(page, base, path)
            assert_no_streamlit_errors(page)
            assert not _error_texts(page), (path, _error_texts(page))
        next_token(page, wire)
        assert shown_text(page) == expected_names(1)
    finally:
        if proc.poll() is None:
            kill(proc)
