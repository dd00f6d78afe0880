"""The closing page: three takeaways, the numbers beside them equal core's, and every link opens its page
in the stated state (no note, the widgets holding the scene's values)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.lessons.takeaways import TAKEAWAYS, identity_evidence, ledger_evidence
from core.text.language_model import load_text_model

ROOT = Path(__file__).resolve().parents[2]
SCENES = [scene for t in TAKEAWAYS for scene in t.scenes]


@pytest.fixture(scope="module")
def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/remember.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_page_shows_the_three_takeaways_in_order(page):
    assert [t.value for t in page.title] == ["What to remember"]
    assert [h.value for h in page.subheader] == [f"{i}. {t.title}" for i, t in enumerate(TAKEAWAYS, 1)]


def test_the_numbers_beside_the_words_are_core_s(page):
    captions = " ".join(c.value for c in page.info)
    e = identity_evidence()
    assert f"at most {e.largest_difference:.1e}" in captions
    assert f"total variation {e.total_variation:.4f}" in captions
    ledger = ledger_evidence(load_text_model("names"))
    assert f"= {ledger.total:.2f} nats" in captions
    assert " + ".join(f"{t:.2f}" for t in ledger.terms) in captions


def test_every_scene_is_linked_with_its_query(page):
    links = [(link.proto.page, link.proto.query_string) for link in page.get("page_link")]
    for scene in SCENES:
        query = "&".join(f"{k}={v}" for k, v in scene.query().items())
        assert (scene.page, re.sub(r"[:]", "%3A", query)) in links, scene.title


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES, ids=[s.title for s in SCENES])
def test_every_scene_opens_its_page_in_the_stated_state(scene):
    at = AppTest.from_file(str(ROOT / "pages" / f"{scene.page}.py"), default_timeout=180)
    for key, value in scene.query().items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not [w for w in at.warning if "in the link" in str(w.value)]
    for name in scene.query():  # what the link states (the rest is the page's own default, fitted to it)
        assert at.session_state[name] == getattr(scene.state, name), name
