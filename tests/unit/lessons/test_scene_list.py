"""Scene lists: every shipped scene round-trips, a list survives JSON and a link, and every way a file or a
link can be wrong is refused in words before anything is used."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from core.lessons import scene_list as sl
from core.lessons.page_state import from_query
from core.lessons.scenes import PAGE_STATES, Scene
from core.lessons.states import ChainRuleState, SamplingState


def good(**changes) -> dict:
    scene = {"title": "A ledger", "page": "chain_rule", "query": {"cr_ledger_text": "olivia"}, "say": "Read it."}
    return {"format": sl.FORMAT, "version": sl.VERSION, "scenes": [scene | changes]}


def refused(data) -> str:
    with pytest.raises(sl.SceneListError) as e:
        sl.from_json(json.dumps(data) if not isinstance(data, str | bytes) else data)
    return str(e.value)


def test_the_shipped_list_is_in_the_tours_order_and_every_scene_round_trips():
    assert 10 <= len(sl.SHIPPED) <= 14
    for scene in sl.SHIPPED:
        assert scene.round_trips(), scene.title
        assert scene.title and scene.shows and len(scene.title) <= sl.MAX_TITLE
        state, notes = from_query(PAGE_STATES[scene.page], scene.query())
        assert state == scene.state and not notes
    from core.lessons.tour import STEPS

    tour_titles = [s.scene.title for s in STEPS if s.scene is not None]
    ranks = [tour_titles.index(s.title) for s in sl.SHIPPED if s.page != "tour"]
    assert ranks == sorted(ranks)


def test_a_list_round_trips_through_json_and_through_a_link():
    mine = (
        Scene("Draws", "chain_rule", ChainRuleState(cr_draws=100_000), "frequencies"),
        Scene("Hot", "sampling", SamplingState(model="shakespeare", prompt="ROMEO: ü & =?"), "ünïcode & symbols"),
    )
    for scenes in (sl.SHIPPED, mine, ()):
        assert sl.from_json(sl.to_json(scenes)) == scenes
        assert sl.from_json(sl.to_json(scenes).encode()) == scenes
        assert sl.from_link_value(sl.to_link_value(scenes)) == scenes


def test_the_link_value_is_url_safe_and_decodes_with_the_standard_library_alone():
    value = sl.to_link_value(sl.SHIPPED)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    data = json.loads(zlib.decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))))
    assert data == json.loads(sl.to_json(sl.SHIPPED))
    assert data["scenes"][1] == {
        "title": sl.SHIPPED[1].title,
        "page": "chain_rule",
        "query": {},
        "say": sl.SHIPPED[1].shows,
    }


@pytest.mark.parametrize(
    "data, words",
    [
        ("not json {", "not JSON"),
        (b"\xff\xfe binary", "not JSON"),
        ([1, 2], "JSON object"),
        ({"format": "other", "version": 1, "scenes": []}, "format must be"),
        ({"format": sl.FORMAT, "scenes": []}, "this app reads version 1"),
        ({"format": sl.FORMAT, "version": 2, "scenes": []}, "version 2"),
        ({"format": sl.FORMAT, "version": 1, "scenes": "x"}, "a list of scenes"),
        ({"format": sl.FORMAT, "version": 1, "scenes": ["x"]}, "Scene 1 is not an object"),
        (good() | {"scenes": good()["scenes"] * (sl.MAX_SCENES + 1)}, f"at most {sl.MAX_SCENES}"),
    ],
)
def test_a_bad_list_is_refused_in_words(data, words):
    assert words in refused(data)


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"title": ""}, "the title must be text"),
        ({"title": "x" * (sl.MAX_TITLE + 1)}, f"1 to {sl.MAX_TITLE} characters"),
        ({"title": 3}, "the title must be text"),
        ({"say": "x" * (sl.MAX_SAY + 1)}, f"at most {sl.MAX_SAY}"),
        ({"page": "nowhere"}, "there is no page 'nowhere'"),
        ({"page": "remember"}, "there is no page 'remember'"),
        ({"query": ["cr_draws"]}, "query must map setting names to text values"),
        ({"query": {"cr_draws": 5}}, "text values"),
        ({"query": {"cr_bogus": "1"}}, "has no setting cr_bogus"),
        ({"query": {"cr_draws": "lots"}}, "Ignored cr_draws='lots'"),
        ({"query": {"cr_ledger_text": "x" * 10_000}}, "only the first"),
        ({"surprise": 1}, "unknown fields surprise"),
    ],
)
def test_a_bad_scene_is_refused_with_its_number_and_what_is_allowed(changes, words):
    message = refused(good(**changes))
    assert message.startswith("Scene 1") and words in message


def test_a_missing_field_is_named():
    data = good()
    del data["scenes"][0]["say"]
    assert "lacks say" in refused(data)


def test_a_ten_megabyte_file_is_refused_before_it_is_parsed(monkeypatch):
    def no_parsing(*_):
        raise AssertionError("parsed")

    monkeypatch.setattr(sl.json, "loads", no_parsing)
    message = refused(b"[" * 10_000_000)
    assert "10,000,000 bytes" in message and f"at most {sl.MAX_BYTES:,}" in message


def test_a_bad_link_value_is_refused_in_words():
    with pytest.raises(sl.SceneListError, match="damaged"):
        sl.from_link_value("not*base64!")
    with pytest.raises(sl.SceneListError, match="damaged"):
        sl.from_link_value(base64.urlsafe_b64encode(b"plain, not zlib").decode())
    bomb = base64.urlsafe_b64encode(zlib.compress(b" " * 5_000_000)).decode()
    assert len(bomb) < sl.MAX_LINK_CHARS
    with pytest.raises(sl.SceneListError, match="unpacks to more than"):
        sl.from_link_value(bomb)
    with pytest.raises(sl.SceneListError, match="characters; at most"):
        sl.from_link_value("A" * (sl.MAX_LINK_CHARS + 1))
    wrong = base64.urlsafe_b64encode(zlib.compress(json.dumps(good(page="nowhere")).encode())).decode()
    with pytest.raises(sl.SceneListError, match="no page 'nowhere'"):
        sl.from_link_value(wrong)


def test_capturing_a_moment_keeps_only_the_pages_own_settings():
    scene = sl.capture("Mine", "chain_rule", {"cr_draws": "100000", "embed": "true", "other": "x"}, "look")
    assert scene == Scene("Mine", "chain_rule", ChainRuleState(cr_draws=100_000), "look")
    with pytest.raises(sl.SceneListError, match="no settings to keep"):
        sl.capture("Home", "index", {}, "")
    with pytest.raises(sl.SceneListError, match="^This scene: the title must be text"):
        sl.capture("  ", "chain_rule", {}, "")


def test_moving_a_scene_keeps_every_scene_once():
    a, b, c = sl.SHIPPED[:3]
    assert sl.moved((a, b, c), 2, -1) == (a, c, b)
    assert sl.moved((a, b, c), 0, 1) == (b, a, c)
    assert sl.moved((a, b, c), 0, -1) == (a, b, c)
    assert sl.moved((a, b, c), 2, 1) == (a, b, c)
