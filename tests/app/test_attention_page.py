"""The attention page driven through Streamlit's AppTest: every number shown is checked against core."""

import html
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import core
from core.checkpoint import MODELS_DIR
from core.lessons.attention_lesson import ATTENTION_MODELS, first_position_weight, llm_dependence, mean_distance
from core.lessons.causality import (
    MAX_SHOWN_TOKENS,
    attention_weights,
    dependence_matrix,
    max_above_diagonal,
    sample_texts,
    text_window,
    training_summary,
    where_it_looks,
)
from tests.app.helpers import arr, chart

torch.set_num_threads(1)
PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "attention.py")


@pytest.fixture(scope="module")
def names():
    return core.load_text_model("names")


@pytest.fixture(scope="module")
def leaky():
    return core.load_text_model("names-leaky")


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label_start: str) -> str:
    (m,) = [m for m in at.metric if m.label.startswith(label_start)]
    return m.value


def looks_table(at: AppTest):
    (df,) = [d.value for d in at.dataframe if list(d.value.columns) == ["position", "token", "weight"]]
    return df


def test_default_page_shows_names_attention_from_the_model(names):
    at = run_page()
    assert at.title[0].value == "Attention and causality"
    assert [h.value for h in at.header] == [
        "1. The causal mask",
        "2. Learned attention",
        "3. What peeking breaks",
        "4. Check causality, don't trust it",
        "Check yourself",
    ]
    assert not at.error
    w = text_window(names, "emma")
    att = attention_weights(names, w)
    # the selected head's heatmap holds the model's weights (below the diagonal) and the token labels
    fig = chart(at, "attention_head_fig")
    z = arr(fig["data"][0]["z"])
    lower = np.tril(np.ones((w.T, w.T), dtype=bool))
    assert np.allclose(z[lower], att[0, 0][lower], atol=1e-6)
    assert np.isnan(z[~lower]).all()  # masked cells are drawn by the grey trace instead
    assert fig["layout"]["yaxis"]["ticktext"] == [".", "e", "m", "m", "a"]
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"
    # the query defaults to the last position; its table is where_it_looks on the model's row
    assert at.slider(key="attention_query").value == w.T - 1
    expected = where_it_looks(att[0, 0, w.T - 1], w.labels, top=5)
    table = looks_table(at)
    assert table["position"].tolist() == [x.position for x in expected]
    assert np.allclose(table["weight"], [round(x.weight, 4) for x in expected])
    assert metric(at, "Max weight above the diagonal") == "0 (exactly)"
    assert float(metric(at, "Max |row sum − 1|")) == pytest.approx(np.abs(att.sum(-1) - 1).max(), abs=1e-7)
    assert any("are exactly 0.0" in s.value for s in at.success)


def test_layer_head_and_query_selectors_drive_the_heatmap(names):
    at = run_page()
    at.selectbox(key="attention_layer").set_value(3)
    at.selectbox(key="attention_head").set_value(2)
    at.slider(key="attention_query").set_value(2)
    at.run()
    assert not at.exception
    w = text_window(names, "emma")
    att = attention_weights(names, w)
    fig = chart(at, "attention_head_fig")
    assert fig["layout"]["title"]["text"] == "names: layer 3, head 2"
    z = arr(fig["data"][0]["z"])
    assert np.allclose(np.nan_to_num(z), np.tril(att[2, 1]), atol=1e-6)
    (outline,) = fig["layout"]["shapes"]
    assert (outline["y0"], outline["y1"]) == (1.5, 2.5)  # row 2 highlighted
    expected = where_it_looks(att[2, 1, 2], w.labels, top=5)
    table = looks_table(at)
    assert table["position"].tolist() == [x.position for x in expected]  # row 2 reads only 0..2
    assert table["position"].tolist() == sorted(table["position"].tolist(), key=lambda j: -att[2, 1, 2, j])
    assert len(table) == 3
    grid = chart(at, "attention_grid_fig")
    assert grid["layout"]["shapes"][0]["xref"] == "x10 domain"  # layer 3, head 2 of 4 heads per layer


def test_text_input_changes_the_tokens(names):
    at = run_page()
    at.slider(key="attention_query").set_value(1)
    at.text_area(key="attention_text").set_value("Isabella").run()
    assert not at.exception and not at.error
    w = text_window(names, "isabella")
    fig = chart(at, "attention_head_fig")
    assert fig["layout"]["xaxis"]["ticktext"] == w.labels
    att = attention_weights(names, w)
    assert np.allclose(np.nan_to_num(arr(fig["data"][0]["z"])), np.tril(att[0, 0]), atol=1e-6)
    # a text of another length resets the query position to its last row ...
    assert at.slider(key="attention_query").value == 8
    at.slider(key="attention_query").set_value(3)
    at.text_area(key="attention_text").set_value("al").run()
    assert not at.exception
    assert at.slider(key="attention_query").value == 2
    # ... while a text of the same length keeps the chosen row
    at.slider(key="attention_query").set_value(1)
    at.text_area(key="attention_text").set_value("bo").run()
    assert at.slider(key="attention_query").value == 1
    assert "Where row 1 ('b') looks" in " ".join(m.value for m in at.markdown)


def test_example_buttons_set_the_text():
    at = run_page()
    at.button(key="attention_example_2").click().run()
    assert at.text_area(key="attention_text").value == "christopher"
    assert chart(at, "attention_head_fig")["layout"]["xaxis"]["ticktext"][1:] == list("christopher")


@pytest.mark.parametrize(
    ("text", "words"),
    [("", ["empty"]), ("zoë 7", ["'ë'", "'7'", "space", "abcdefghijklmnopqrstuvwxyz"])],
)
def test_bad_text_gives_a_clear_error_and_the_page_stays_usable(text, words):
    at = run_page()
    at.text_area(key="attention_text").set_value(text).run()
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    for word in words:
        assert word in messages
    # sections 1, 3 and 4 still work; section 2 says why it is empty
    assert chart(at, "attention_mask_fig")
    assert metric(at, "names: max above the diagonal") == "0 (exactly)"
    assert any("needs a loaded model and a valid text" in i.value for i in at.info)


def test_long_text_is_cropped_with_a_note(names):
    at = run_page()
    text = "maximilianalexanderson"  # 22 letters: 23 tokens > 16
    at.text_area(key="attention_text").set_value(text).run()
    assert not at.exception and not at.error
    note = " ".join(i.value for i in at.info)
    assert "make 23 tokens" in note and "only the last 16" in note and "first 7 tokens" in note
    fig = chart(at, "attention_head_fig")
    assert fig["layout"]["xaxis"]["ticktext"] == list(text[-16:])


def test_leaky_model_is_shown_reading_the_future(leaky):
    at = run_page()
    at.radio(key="attention_model").set_value("names-leaky").run()
    assert not at.exception
    att = attention_weights(leaky, text_window(leaky, "emma"))
    assert metric(at, "Max weight above the diagonal") == f"{max_above_diagonal(att):.3g}"
    assert any("reads the future" in w.value for w in at.warning)
    fig = chart(at, "attention_head_fig")
    assert len(fig["data"]) == 1  # no masked cells: every cell is a learned weight
    assert np.allclose(arr(fig["data"][0]["z"]), att[0, 0], atol=1e-6)


def test_missing_model_is_an_error_and_the_rest_of_the_page_works(monkeypatch):
    real = core.load_text_model

    def load(name, models_dir=None):
        if name == "shakespeare":
            raise core.CheckpointError(MODELS_DIR / "shakespeare.json", "the model card is missing")
        return real(name, models_dir)

    monkeypatch.setattr(core, "load_text_model", load)
    from pages.common import shared_model

    shared_model.clear()  # the cached copy (if any) must not hide the failure
    try:
        at = run_page()
        at.radio(key="attention_model").set_value("shakespeare").run()
        assert not at.exception
        messages = " ".join(e.value for e in at.error)
        assert "shakespeare" in messages and "unavailable" in messages and "card is missing" in messages
        assert chart(at, "attention_mask_fig")  # section 1 works from the characters alone
        assert metric(at, "names: max above the diagonal") == "0 (exactly)"
    finally:
        shared_model.clear()


def test_shakespeare_heatmaps_are_limited_to_32_tokens():
    at = run_page()
    at.radio(key="attention_model").set_value("shakespeare").run()
    assert not at.exception and not at.error
    assert at.text_area(key="attention_text").value.startswith("ROMEO:")
    at.text_area(key="attention_text").set_value("First Citizen:\nBefore we proceed any further, hear me speak.").run()
    assert not at.exception and not at.error
    fig = chart(at, "attention_head_fig")
    assert len(fig["layout"]["xaxis"]["ticktext"]) == 32
    assert at.slider(key="attention_query").value == 31
    assert any("legible up to 32 tokens" in i.value for i in at.info)
    assert metric(at, "Max weight above the diagonal") == "0 (exactly)"


def test_peeking_section_numbers_come_from_cards_and_models(names, leaky):
    at = run_page()
    for lm in (names, leaky):
        s = training_summary(lm)
        for label, value in (("held-out", s.heldout_nll), ("training", s.train_nll)):
            shown = metric(at, f"{lm.name}: {label}")
            assert float(shown) == pytest.approx(value, rel=0.05, abs=5e-4)
            assert float(shown) != 0.0  # even the leaky model's near-zero loss keeps its size
    curves = chart(at, "attention_curves_fig")
    assert curves["data"][0]["y"] == [p["heldout_nll"] for p in training_summary(names).curve]
    at.number_input(key="attention_sample_seed").set_value(7).run()
    tables = {tuple(d.value.columns): d.value for d in at.dataframe}
    samples = [d.value for d in at.dataframe if "sample" in d.value.columns]
    assert len(samples) == 2 and tables
    for df, lm in zip(samples, (names, leaky), strict=True):
        expected = sample_texts(lm, 8, seed=7)
        assert df["sample"].tolist() == [s.text or "(empty)" for s in expected]
        assert np.allclose(df["log p (nats)"], [round(s.logprob, 2) for s in expected])
    (probe,) = [d.value for d in at.dataframe if "token" in d.value.columns and "p under names" in d.value.columns]
    sc = core.score(leaky, "emma")
    assert probe["token"].tolist() == list("emma.")
    assert np.allclose(probe["p under names-leaky"], [round(p, 4) for p in sc.probs])
    # the caption's story is the ledger's numbers: letters copied cheaply, the end token paid for
    caption = " ".join(c.value for c in at.caption)
    letters = -sum(math.log(p) for p in sc.probs[:-1])
    end = -math.log(sc.probs[-1])
    shown = f"{letters:.2g}" if letters < 0.01 else f"{letters:.2f}"
    assert f"the 4 letters cost only {shown} nats together" in caption and "0.00 nats" not in caption
    assert f"{end:.2f} nats, {end / (letters + end):.0%} of its {sc.nll:.2f}-nat total" in caption
    assert end > sc.nll / 2  # the leaky total is mostly the one factor with nothing to copy


def test_dependence_heatmaps_are_computed_from_the_models(names, leaky):
    at = run_page()
    at.text_input(key="attention_probe").set_value("ava").run()
    assert not at.exception
    for lm in (names, leaky):
        ids = text_window(lm, "ava").ids
        dep = dependence_matrix(lm, ids)
        fig = chart(at, f"attention_dependence_{lm.name}")
        z = arr(fig["data"][0]["z"])
        assert np.array_equal(np.isnan(z), dep.values == 0.0)  # exact zeros are drawn grey
        shown_z = np.log10(np.clip(dep.values, 1e-8, 1.0))  # coloured on a log scale
        assert np.allclose(z[~np.isnan(z)], shown_z[dep.values != 0.0])
        shown = metric(at, f"{lm.name}: max above the diagonal")
        worst = max_above_diagonal(dep.values)
        assert shown == ("0 (exactly)" if worst == 0.0 else f"{worst:.3g}")
    assert metric(at, "names: max above the diagonal") == "0 (exactly)"
    assert metric(at, "names-leaky: max above the diagonal") != "0 (exactly)"


def test_bad_probe_name_is_reported(names):
    at = run_page()
    at.text_input(key="attention_probe").set_value("o'neil").run()
    assert not at.exception
    (error,) = at.error
    assert "not in the model's vocabulary" in error.value and "abcdefghijklmnopqrstuvwxyz" in error.value
    assert all("Traceback" not in e.value for e in at.error)
    assert chart(at, "attention_head_fig")  # the rest of the page keeps working


# ---------------------------------------------------------------------------------------------
# The real LLM


@pytest.fixture(scope="module")
def llm():
    return core.load_text_model("smollm2")  # once per test process


def run_llm_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    at.radio(key="attention_model").set_value("smollm2").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_llm_heatmap_is_the_models_attention_for_the_chosen_layer_and_head(llm):
    at = run_llm_page()
    text = at.text_area(key="attention_text").value
    assert text == ATTENTION_MODELS["smollm2"].examples[0]
    layer_box = at.selectbox(key="attention_layer")
    assert layer_box.options == [str(k) for k in range(1, 31)] and layer_box.label == "Layer (of 30)"
    assert at.selectbox(key="attention_head").options == [str(k) for k in range(1, 10)]
    layer_box.set_value(17)
    at.selectbox(key="attention_head").set_value(5).run()
    assert not at.exception
    w = text_window(llm, text, MAX_SHOWN_TOKENS)
    with torch.no_grad():  # the network's own weights, straight from forward_detailed
        out = llm.net.forward_detailed(torch.tensor([w.ids]), need_weights=True)
    expected = out.attention[16][0, 4].double().numpy()  # layer 17, head 5
    fig = chart(at, "attention_head_fig")
    assert fig["layout"]["title"]["text"] == "smollm2: layer 17, head 5 (kv head 2)"
    assert fig["layout"]["xaxis"]["ticktext"] == [html.escape(t, quote=False) for t in w.labels]  # plotly reads HTML
    assert w.labels[:3] == ["<|endoftext|>", "The", "␣capital"] and "␣Paris" in w.labels
    z = arr(fig["data"][0]["z"])
    lower = np.tril(np.ones((w.T, w.T), dtype=bool))
    assert np.allclose(z[lower], expected[lower], atol=1e-6) and np.isnan(z[~lower]).all()
    # the 3x3 grid is layer 17's nine heads, head 5 outlined; the overview has one cell per head
    grid = chart(at, "attention_grid_fig")
    panels = [t for t in grid["data"] if t.get("name") != "masked (future)"]
    assert len(panels) == 9 and grid["layout"]["shapes"][0]["xref"] == "x5 domain"
    assert np.allclose(np.nan_to_num(arr(panels[8]["z"])), out.attention[16][0, 8].double().numpy(), atol=1e-6)
    summary = chart(at, "attention_summary_fig")
    att = np.stack([a[0].double().numpy() for a in out.attention])  # (30, 9, T, T)
    assert np.allclose(arr(summary["data"][0]["z"]), first_position_weight(att), atol=1e-6)
    assert "heads 1–3 share key/value head 1" in " ".join(m.value for m in at.markdown)
    assert metric(at, "Max weight above the diagonal") == "0 (exactly)"
    assert any("are exactly 0.0" in s.value and "30 layers × 9 heads" in s.value for s in at.success)


def test_llm_overview_statistic_can_be_switched(llm):
    at = run_llm_page()
    at.radio(key="attention_statistic").set_value("Mean distance back").run()
    assert not at.exception
    w = text_window(llm, at.text_area(key="attention_text").value, MAX_SHOWN_TOKENS)
    expected = mean_distance(attention_weights(llm, w))
    assert np.allclose(arr(chart(at, "attention_summary_fig")["data"][0]["z"]), expected, atol=1e-6)


def test_llm_causality_check_runs_on_request_and_matches_the_lesson(llm):
    at = run_llm_page()
    at.text_area(key="attention_text").set_value("The cat sat on the").run()
    assert not at.exception
    assert not [c for c in at.get("plotly_chart") if c.key == "attention_dependence_smollm2"]  # not before the click
    at.button(key="attention_llm_check_button").click().run()
    assert not at.exception
    ids = text_window(llm, "The cat sat on the", MAX_SHOWN_TOKENS).ids
    dep, cands = llm_dependence(llm, ids)
    z = arr(chart(at, "attention_dependence_smollm2")["data"][0]["z"])
    assert np.array_equal(np.isnan(z), dep.values == 0.0)
    assert np.allclose(z[~np.isnan(z)], np.log10(np.clip(dep.values, 1e-8, 1.0))[dep.values != 0.0])  # log colours
    assert metric(at, "smollm2: max above the diagonal") == "0 (exactly)"
    (table,) = [d.value for d in at.dataframe if "replaced by" in d.value.columns]
    assert table["replaced by"].tolist()[1] == "  ·  ".join(llm.vocab.token_text(t) for t in cands[1])
    # the result stays on screen while the layer changes
    at.selectbox(key="attention_layer").set_value(2).run()
    assert chart(at, "attention_dependence_smollm2")


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        ("", "error", ["The text is empty"]),
        ("x" * 100_000, "info", ["at most 2,000 characters", "legible up to 32 tokens"]),
        ("<|im_end|><|endoftext|>", None, []),
    ],
    ids=["empty", "100k", "special-token-strings"],
)
def test_llm_bad_input_keeps_the_page_usable(llm, text, kind, words):
    at = run_llm_page()
    at.text_area(key="attention_text").set_value(text).run()
    assert not at.exception
    if kind is not None:
        messages = " ".join(m.value for m in getattr(at, kind))
        assert all(w in messages for w in words), messages
    else:
        assert not at.error
        labels = chart(at, "attention_head_fig")["layout"]["xaxis"]["ticktext"]
        assert labels.count("&lt;|endoftext|&gt;") == 1  # only the start token; the typed one is plain text
    assert chart(at, "attention_mask_fig")
    at.text_area(key="attention_text").set_value("Hello world").run()
    assert not at.exception and not at.error
