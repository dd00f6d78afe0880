"""The server settings the measurements depend on (.streamlit/config.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())


def test_no_full_garbage_collection_after_every_script_run():
    # a full collection holds the GIL ~170 ms with the LLM loaded and stalls every other session
    assert CONFIG["runner"]["postScriptGC"] is False


def test_tracebacks_stay_on_the_server_and_uploads_are_small():
    assert CONFIG["client"]["showErrorDetails"] == "none"
    assert CONFIG["server"]["maxUploadSize"] == 2
    assert CONFIG["server"].get("enableXsrfProtection", True) is True
