"""The code's layout holds: core never imports streamlit or pages; models know nothing of lessons; page
scripts keep state only through the page-state helper; benchmarks never import tests; tests/unit
mirrors core/. Read from the source with ast, so a new file is checked the day it is added."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", files("core"), ids=rel)
def test_core_never_imports_streamlit_or_pages(path):
    bad = {m for m in imports(path) if m.split(".")[0] in ("streamlit", "pages", "tests", "benchmarks")}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", files("core/models"), ids=rel)
def test_models_know_nothing_of_lessons_or_figures(path):
    bad = {m for m in imports(path) if m.startswith(("core.lessons", "core.figures", "core.text", "core.image"))}
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in files("core/lessons")], ids=rel)
def test_lessons_know_nothing_of_figures(path):
    assert not {m for m in imports(path) if m.startswith("core.figures")}


PAGE_FILES = [p for p in files("pages") if p.name != "state.py"]


@pytest.mark.parametrize("path", PAGE_FILES, ids=rel)
def test_pages_keep_state_only_through_the_page_state_helper(path):
    """No page script touches st.session_state or st.query_params: pages/state.py does, in one way."""
    names = {n.attr for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute)}
    assert not names & {"session_state", "query_params"}, f"{rel(path)} reads Streamlit's state by hand"


@pytest.mark.parametrize("path", files("benchmarks"), ids=rel)
def test_benchmarks_never_import_tests(path):
    assert not {m for m in imports(path) if m.split(".")[0] == "tests"}, rel(path)


def test_unit_tests_mirror_core():
    """Every folder of tests/unit names a folder of core (tests of core/x/... live in tests/unit/x/)."""
    for folder in (ROOT / "tests" / "unit").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            assert (ROOT / "core" / folder.name).is_dir(), f"tests/unit/{folder.name} has no core/{folder.name}"
    # and no test file in tests/unit's top level for a module that lives in a core subfolder
    top = {p.stem.removeprefix("test_") for p in (ROOT / "tests" / "unit").glob("test_*.py")}
    nested = {
        p.stem for sub in ("models", "text", "image", "lessons", "figures") for p in (ROOT / "core" / sub).glob("*.py")
    }
    assert not top & nested - {"training"}, top & nested  # core/training.py is top-level (core.text.train is not)


def test_the_page_state_helper_is_the_only_one():
    """One helper: nothing else in pages/ defines a session() accessor or writes the URL by hand."""
    for path in PAGE_FILES:
        source = path.read_text()
        assert "keep_widget_values" not in source and "def keep_" not in source, rel(path)


def test_one_error_path():
    """Pages show a problem with pages.common.show_error (the user's words escaped); the quiz's red "wrong"
    verdict is the one other st.error."""
    for path in PAGE_FILES:
        if path.name not in ("common.py", "quiz_panel.py"):
            assert "st.error(" not in path.read_text(), rel(path)
