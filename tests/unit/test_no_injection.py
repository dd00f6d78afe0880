"""No user text may become HTML, and the server keeps its protections on.

Streamlit renders markdown without raw HTML unless a page opts in with ``unsafe_allow_html``,
``st.html`` or ``components.html``. The app needs none of them, so any use is a failure: a
reviewer then has to prove that nothing user-derived reaches it before allowing it here.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "pages").rglob("*.py"), *(ROOT / "core").rglob("*.py")])
RAW_HTML = re.compile(
    r"unsafe_allow_html|\bst\.html\s*\(|\bhtml\s*\(|components\.(v1\.)?html|components\.(v1\.)?iframe|"
    r"streamlit\.components|declare_component"
)


def test_sources_were_found():
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"app.py", "pages/common.py", "pages/sampling.py", "core/text/language_model.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_raw_html_anywhere(path: Path):
    text = path.read_text(encoding="utf-8")
    hits = [f"{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1) if RAW_HTML.search(line)]
    assert not hits, f"{path.relative_to(ROOT)} renders raw HTML:\n" + "\n".join(hits)
    # the same through the syntax tree, so a keyword split over lines or passed via **kwargs is caught too
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} passes unsafe_allow_html")
        if isinstance(node, ast.Constant) and node.value == "unsafe_allow_html":
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} builds unsafe_allow_html as a string")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("html", "iframe")
            and _root_name(node) in ("st", "components")
        ):
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.attr}")


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_the_grep_would_catch_a_use():
    """The pattern itself is tested, so a typo in it cannot make the test pass vacuously."""
    for line in (
        "st.markdown(text, unsafe_allow_html=True)",
        'st.html(f"<b>{name}</b>")',
        "components.html(page)",
        "import streamlit.components.v1 as components",
        "components.v1.iframe(url)",
    ):
        assert RAW_HTML.search(line), line
    assert not RAW_HTML.search("st.markdown(escape_markdown(text))")


# ---------------------------------------------------------------------------------------------
# Server settings


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_no_error_details_reach_the_browser(config):
    assert config["client"]["showErrorDetails"] == "none"


def test_xsrf_and_cors_protection_stay_on(config):
    server = config.get("server", {})
    # Streamlit's defaults are enableXsrfProtection = true and enableCORS = true: absent is fine, false is not
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True


def test_nothing_is_sent_anywhere(config):
    assert config["browser"]["gatherUsageStats"] is False


def test_streamlit_reads_the_same_settings():
    """Parsed the way Streamlit parses them, so a misspelled section or key cannot slip through."""
    from streamlit import config as st_config

    st_config._config_options = None  # re-read from the repo's .streamlit/config.toml
    try:
        st_config.get_config_options(force_reparse=True, options_from_flags={})
        assert st_config.get_option("client.showErrorDetails") == "none"
        assert st_config.get_option("server.enableXsrfProtection") is True
        assert st_config.get_option("server.enableCORS") is True
    finally:
        st_config._config_options = None
