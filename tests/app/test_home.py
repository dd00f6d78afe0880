"""The entry point and home page, run headless through Streamlit's AppTest (no server, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.navigation import PAGES, existing_pages

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_app_runs_without_exception(home: AppTest):
    assert not home.exception, [e.message for e in home.exception]
    assert [t.value for t in home.title] == ["Chain Rule Lab"]


def test_home_shows_the_chain_rule_identity(home: AppTest):
    (latex,) = home.latex
    # Both sides of the identity: the joint and the product of conditionals on the past.
    assert r"p(x_1, \dots, x_n)" in latex.value
    assert r"\prod_{i=1}^{n} p(x_i \mid x_{<i})" in latex.value


def test_home_links_every_existing_lesson_once(home: AppTest):
    links = home.get("page_link")
    lessons = existing_pages(ROOT)
    assert [link.proto.page for link in links] == [info.url_path for info in lessons]
    for link, info in zip(links, lessons, strict=True):
        assert info.title in link.proto.label
        assert info.description in link.proto.label


def test_missing_lesson_scripts_are_not_linked(home: AppTest):
    linked = {link.proto.page for link in home.get("page_link")}
    for info in PAGES:
        assert (info.url_path in linked) == (ROOT / info.path).exists(), info.path


LESSON_PAGES = ["chain_rule", "attention", "sampling", "training", "pixelcnn"]


@pytest.mark.parametrize("url_path", LESSON_PAGES)
def test_each_lesson_ends_with_a_link_to_the_next_in_the_menu(url_path):
    order = [info.url_path for info in existing_pages(ROOT)]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page(f"pages/{url_path}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    nexts = [link.proto for link in at.get("page_link") if link.proto.label.startswith("**Next:")]
    assert [n.page for n in nexts] == [order[order.index(url_path) + 1]]
