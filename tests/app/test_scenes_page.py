"""The Scenes page and the sidebar's scene controls, driven through app.py: the shipped list, a list made on
three pages, its link and its downloaded file giving the same list back, bad files and links refused in words
with the page still usable, and the stepper opening each scene's page in the scene's state."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from core.lessons.scene_list import SHIPPED, from_link_value, to_json, to_link_value
from core.lessons.scenes import Scene
from core.lessons.states import AttentionState, ChainRuleState, PixelState

ROOT = Path(__file__).resolve().parents[2]
# What the teacher keeps on three pages, written out here as the scenes they must become.
MOMENTS = (
    ("chain_rule", {"cr_draws": "100000"}, "Draws", "frequencies meet the joint"),
    ("attention", {"attention_text": "isabella"}, "The mask", "row i reads up to i"),
    ("pixelcnn", {"pcnn_rf_layers": "8"}, "Blind spot", "the wedge"),
)
EXPECTED = (
    Scene("Draws", "chain_rule", ChainRuleState(cr_draws=100_000), "frequencies meet the joint"),
    Scene("The mask", "attention", AttentionState(attention_text="isabella"), "row i reads up to i"),
    Scene("Blind spot", "pixelcnn", PixelState(pcnn_rf_layers=8), "the wedge"),
)


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()


def open_scenes(at: AppTest, **query) -> AppTest:
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page("pages/scenes.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "caption", "subheader") for e in at.get(kind)).replace(
        "\\", ""
    )


def links(at: AppTest) -> list[tuple[str, dict]]:
    return [(link.proto.page, dict(parse_qsl(link.proto.query_string))) for link in at.main.get("page_link")]


def link_of(scene: Scene) -> tuple[str, dict]:
    return scene.page, scene.query()


def shows(at: AppTest, scenes) -> None:
    """The page lists exactly ``scenes``: each title, line to say and Open link, in order."""
    words = text(at)
    positions = [words.index(f"{i}. {s.title}") for i, s in enumerate(scenes, 1)]
    assert positions == sorted(positions)
    assert all(f"Say: {s.shows}" in words for s in scenes)
    assert links(at)[: len(scenes)] == [link_of(s) for s in scenes]


@pytest.fixture(scope="module")
def made() -> AppTest:
    """A session that kept the three moments, then opened the Scenes page."""
    at = app()
    for page, query, title, say in MOMENTS:
        at.query_params.clear()
        at.query_params.update(query)
        at.switch_page(f"pages/{page}.py").run()
        at.sidebar.text_input(key="crl_scene_title").input(title)
        at.sidebar.text_input(key="crl_scene_say").input(say)
        at.sidebar.button(key="crl_scene_add").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert "Added scene" in at.sidebar.success[0].value
    return open_scenes(at)


def test_the_page_shows_the_shipped_list_with_an_open_link_per_scene():
    at = open_scenes(app())
    assert [t.value for t in at.title] == ["Scenes"]
    assert f"The shipped scenes ({len(SHIPPED)})" in text(at)
    shows(at, SHIPPED)


def test_moments_kept_on_three_pages_make_the_list(made):
    assert f"Your scenes ({len(EXPECTED)})" in text(made)
    shows(made, EXPECTED)


def test_the_share_link_opens_the_same_list_in_a_new_session(made):
    value = made.query_params["scenes"]
    value = value[-1] if isinstance(value, list) else value
    assert from_link_value(value) == EXPECTED
    assert f"/scenes?scenes={value}" in " ".join(c.value for c in made.code)
    fresh = open_scenes(app(), scenes=value)
    shows(fresh, EXPECTED)


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """Every file a page hands to the browser, by its media id (AppTest keeps none after a run)."""
    kept = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        file_id = original(self, data, mimetype, kind, filename)
        kept[file_id] = data if isinstance(data, bytes) else str(data).encode()
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return kept


def test_a_downloaded_file_uploaded_again_gives_the_same_list(made, downloads):
    made.run()
    url = made.get("download_button")[0].proto.url
    data = downloads[Path(url).stem]
    assert json.loads(data)["scenes"][0] == {"title": "Draws", "page": "chain_rule", "query": {"cr_draws": "100000"},
                                             "say": "frequencies meet the joint"}  # fmt: skip
    fresh = open_scenes(app())
    fresh.file_uploader(key="crl_scenes_upload").set_value(("mine.json", data, "application/json")).run()
    assert not fresh.exception
    assert f"Loaded {len(EXPECTED)} scenes" in fresh.success[0].value
    shows(fresh, EXPECTED)


def scene_file(**changes) -> bytes:
    data = json.loads(to_json(EXPECTED))
    data["scenes"][1] |= changes
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "data, words",
    [
        (b"this is not json", "not JSON"),
        (b" " * 10_000_000, "10,000,000 bytes"),
        (scene_file(title=None), "Scene 2: the title must be text"),
        (scene_file(page="nowhere"), "Scene 2: there is no page 'nowhere'"),
        (scene_file(query={"attention_text": "x" * 5_000}), "only the first"),
        (scene_file(query={"cr_draws": "lots"}), "no setting cr_draws"),
    ],
    ids=["not-json", "10MB", "wrong-field", "unknown-page", "long-value", "other-pages-setting"],
)
def test_a_bad_upload_is_refused_in_words_and_the_page_stays_usable(data, words):
    at = open_scenes(app(), scenes=to_link_value(EXPECTED[:1]))
    at.file_uploader(key="crl_scenes_upload").set_value(("bad.json", data, "application/json")).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = " ".join(e.value for e in at.error).replace("\\", "")
    assert "bad.json was not loaded" in errors and words in errors
    shows(at, EXPECTED[:1])  # the list before the upload
    at.button(key="crl_scenes_reset").click().run()  # and the page still answers
    shows(at, SHIPPED)


def test_a_bad_link_is_refused_in_words_and_the_shipped_list_shown():
    at = open_scenes(app(), scenes="not-a-list")
    assert "cannot be used" in at.error[0].value and "damaged" in at.error[0].value
    shows(at, SHIPPED)


def test_the_stepper_opens_each_scene_in_its_state_and_comes_back():
    at = open_scenes(app(), scenes=to_link_value(EXPECTED))
    at.sidebar.button(key="crl_scene_next").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Scene 1 of 3" in text(at.sidebar).replace("\\", "")
    assert at.session_state["cr_draws"] == 100_000
    at.sidebar.button(key="crl_scene_next").click().run()
    assert "Scene 2 of 3" in text(at.sidebar)
    assert at.session_state["attention_text"] == "isabella"
    assert [t.value for t in at.title] != ["Scenes"]
    at.sidebar.button(key="crl_scene_prev").click().run()
    assert "Scene 1 of 3" in text(at.sidebar) and at.session_state["cr_draws"] == 100_000
    at.sidebar.button(key="crl_scene_prev").click().run()  # before scene 1: the list again
    assert [t.value for t in at.title] == ["Scenes"]
