"""Every page's state and its link (core.lessons.page_state, core.lessons.states): a bad value in a
link falls back to its default with a note in words; a good link is used silently; every state
round-trips through its query parameters."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.display import escape_markdown
from core.lessons.page_state import from_query, from_values, link, linked_fields, to_query
from core.lessons.settings import MAX_TOKENS, PROMPT_MAX_CHARS, clamp_tokens, fit_top_k
from core.lessons.states import AttentionState, ChainRuleState, PixelState, SamplingState, TrainingState
from core.text.sampling import next_token_distribution
from core.validation import MAX_SEED

DEFAULTS = SamplingState()
STATES = [SamplingState, ChainRuleState, AttentionState, TrainingState, PixelState]


@pytest.mark.parametrize(
    "params, field, expected",
    [
        ({"temperature": "-1"}, "temperature", DEFAULTS.temperature),
        ({"temperature": "nan"}, "temperature", DEFAULTS.temperature),
        ({"temperature": "inf"}, "temperature", DEFAULTS.temperature),
        ({"temperature": "hot"}, "temperature", DEFAULTS.temperature),
        ({"temperature": "3.5"}, "temperature", DEFAULTS.temperature),
        ({"temperature": ""}, "temperature", DEFAULTS.temperature),
        ({"top_p": "nan"}, "top_p", DEFAULTS.top_p),
        ({"top_p": "0"}, "top_p", DEFAULTS.top_p),
        ({"top_p": "0.001"}, "top_p", DEFAULTS.top_p),
        ({"top_p": "1.2"}, "top_p", DEFAULTS.top_p),
        ({"seed": str(10**30)}, "seed", DEFAULTS.seed),
        ({"seed": "10**30"}, "seed", DEFAULTS.seed),
        ({"seed": "-4"}, "seed", DEFAULTS.seed),
        ({"seed": "1e400"}, "seed", DEFAULTS.seed),
        ({"seed": "2.5"}, "seed", DEFAULTS.seed),
        ({"model": "../../etc"}, "model", DEFAULTS.model),
        ({"model": "names-leaky"}, "model", DEFAULTS.model),
        ({"top_k": "-3"}, "top_k", DEFAULTS.top_k),
        ({"top_k": "many"}, "top_k", DEFAULTS.top_k),
        ({"tokens": "lots"}, "tokens", DEFAULTS.tokens),
        ({"speed": "1000"}, "speed", DEFAULTS.speed),
        ({"presenter": "1"}, "presenter", DEFAULTS.presenter),
    ],
)
def test_bad_query_values_fall_back_to_defaults_with_a_note(params, field, expected):
    settings, notes = from_query(SamplingState, params)
    assert getattr(settings, field) == expected
    assert len(notes) == 1
    assert field in notes[0] and "default" in notes[0]
    # everything else keeps its default
    assert settings == DEFAULTS


def test_good_query_values_are_used_silently():
    params = {
        "model": "shakespeare",
        "prompt": "ROMEO:",
        "temperature": "0.8",
        "top_k": "12",
        "top_p": "0.9",
        "seed": str(MAX_SEED),
        "tokens": "150",
        "utm_source": "mail",
    }
    settings, notes = from_query(SamplingState, params)
    assert notes == []
    assert settings == SamplingState(
        model="shakespeare", prompt="ROMEO:", temperature=0.8, top_k=12, top_p=0.9, seed=MAX_SEED, tokens=150
    )
    knobs = settings.sampling()
    assert knobs.top_k == 12 and knobs.top_p == 0.9
    assert from_query(SamplingState, {"top_k": "off"})[0].sampling().top_k is None
    assert from_query(SamplingState, {"top_p": "1"})[0].sampling().top_p is None
    assert from_query(SamplingState, {"seed": "12.0", "temperature": "0"})[0].seed == 12
    assert from_query(SamplingState, {"temperature": ["2", "0.5"]})[0].temperature == 0.5  # a repeated key: the last


def test_query_round_trip():
    s = SamplingState(
        model="shakespeare", prompt="To be, or not to be?\n&<>", temperature=0.0, top_k=65, top_p=0.05,
        seed=123456789, tokens=300, order="llama.cpp", speed=20, presenter=True,
    )  # fmt: skip
    assert from_query(SamplingState, to_query(s)) == (s, [])
    assert from_query(SamplingState, to_query(DEFAULTS)) == (DEFAULTS, [])
    assert from_query(SamplingState, {}) == (DEFAULTS, [])
    assert to_query(DEFAULTS) == {}  # a default is left out of the link


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_every_state_round_trips_with_every_field_changed(cls):
    """Each field set to a value other than its default survives to_query -> from_query."""
    changed = {}
    for f in linked_fields(cls):
        rule = f.metadata["rule"]
        if hasattr(rule, "options"):
            changed[f.name] = next(o for o in reversed(rule.options) if o != f.default)
        elif hasattr(rule, "max_chars"):
            changed[f.name] = ("x" + f.default)[: rule.max_chars]
        elif hasattr(rule, "lo") and isinstance(f.default, int) and not isinstance(f.default, bool):
            changed[f.name] = rule.lo if f.default != rule.lo else rule.hi
        elif hasattr(rule, "lo"):
            changed[f.name] = rule.lo if f.default != rule.lo else rule.hi
        else:
            changed[f.name] = not f.default
    state = cls(**changed)
    assert all(getattr(state, n) != getattr(cls(), n) for n in changed)
    assert from_query(cls, to_query(state)) == (state, [])
    assert from_values(cls, dataclasses.asdict(state)) == (state, [])
    assert link("page", state).startswith("/page?") and link("page", cls()) == "/page"


def test_token_count_is_clamped_with_a_note():
    settings, notes = from_query(SamplingState, {"tokens": "100000"})
    assert settings.tokens == MAX_TOKENS and str(MAX_TOKENS) in notes[0]
    assert clamp_tokens(MAX_TOKENS + 1) == (MAX_TOKENS, clamp_tokens(MAX_TOKENS + 1)[1])
    assert clamp_tokens(0)[0] == 1 and clamp_tokens(0)[1]
    assert clamp_tokens(20) == (20, None)


def test_long_prompt_is_cut_with_a_note():
    settings, notes = from_query(SamplingState, {"prompt": "a" * (PROMPT_MAX_CHARS + 50)})
    assert settings.prompt == "a" * PROMPT_MAX_CHARS and len(notes) == 1
    assert f"only the first {PROMPT_MAX_CHARS}" in notes[0]


def test_top_k_above_the_vocabulary_means_off():
    assert fit_top_k(50, 27, "names")[0] == 0 and "27" in fit_top_k(50, 27, "names")[1]
    assert fit_top_k(27, 27, "names") == (27, None)
    assert fit_top_k(0, 27, "names") == (0, None)
    # k >= V and off give the same distribution
    logits = torch.randn(27, generator=torch.Generator().manual_seed(0))
    assert torch.equal(next_token_distribution(logits, 1, 27).final, next_token_distribution(logits, 1, None).final)


def test_notes_never_carry_markup_from_the_url():
    _, notes = from_query(SamplingState, {"model": "[click](http://evil.example) **x** <b>" + "y" * 100})
    shown = escape_markdown(notes[0])
    assert "[click](" not in shown and "**x**" not in shown and "<b>" not in shown
    assert "y" * 50 not in notes[0]  # long values are cut short


HOSTILE = ["-1", "1e999", "nan", "words", "<script>alert(1)</script>", "x" * 10_000, ""]


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("raw", HOSTILE, ids=["negative", "huge", "nan", "words", "html", "10kB", "empty"])
def test_hostile_values_never_raise_and_every_note_says_what_is_allowed(cls, raw):
    for f in linked_fields(cls):
        state, notes = from_query(cls, {f.name: raw, "unknown_key": raw})
        value = getattr(state, f.name)
        assert f.metadata["rule"].check(value), (f.name, value)  # the state is always one the page can show
        if f.metadata["rule"].format(value) != raw:  # the link was not taken as it is
            assert notes and all(len(n) < 400 for n in notes), (f.name, notes)
            assert any(f.name in n or "characters" in n or raw[:20] in n for n in notes)  # names what it is about


def test_a_value_a_widget_cannot_hold_gets_the_default_and_a_note():
    state, notes = from_values(ChainRuleState, {"cr_unit": "furlongs", "cr_factor_0": 1.5, "cr_joint_seed": 3})
    assert state == ChainRuleState(cr_joint_seed=3) and len(notes) == 2
