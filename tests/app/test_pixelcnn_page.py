"""The PixelCNN page driven through Streamlit's AppTest: every section, every number checked against core."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.display import format_probability
from core.errors import CheckpointError
from core.image.inputs import format_pixel_text, noise_image, shift_image
from core.image.mnist import load_test_set
from core.image.model import draw_samples, image_nll, load_image_model
from core.lessons.receptive_field import analytic_receptive_field, blind_spot, growth
from tests.app.helpers import arr, chart

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "pixelcnn.py")


@pytest.fixture(scope="module")
def models():
    return {name: load_image_model(name) for name in ("pixelcnn", "gated-pixelcnn")}


@pytest.fixture(scope="module")
def digits():
    return load_test_set()


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metric(at: AppTest, label_start: str):
    (m,) = [m for m in at.metric if m.label.startswith(label_start)]
    return m


def text_of(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_all_five_sections_render_from_the_models(models, digits):
    at = run_page()
    assert at.title[0].value == "PixelCNN: the chain rule over pixels"
    assert [h.value for h in at.header] == [
        "1 · Raster order: an image is a sequence",
        "2 · Masks: convolutions that never look ahead",
        "3 · Receptive field and the blind spot",
        "4 · Sampling, one pixel at a time",
        "5 · Exact likelihood of an image",
        "Check yourself",
    ]
    assert not at.error
    # the expander reports each model's test NLL from its card, and how little data ours saw
    for model in models.values():
        assert f"test NLL **{model.card['metrics']['heldout_nll']:.2f} nats**" in text_of(at)
    conditional = models["gated-pixelcnn"].card["metrics"]["heldout_nll_conditional"]
    assert f"**{conditional:.2f}** given the true digit" in text_of(at)
    assert any("**4,500**" in c.value and "**60,000**" in c.value for c in at.caption)
    # 1. pixel 10 of the 8x8 grid: nine known, one predicted, the rest future
    codes = arr(chart(at, "pcnn_raster_fig")["data"][0]["z"])
    assert (codes.ravel()[:9] == 0).all() and codes.ravel()[9] == 1 and (codes.ravel()[10:] == 2).all()
    # 2. the masks drawn are the model's: mask A blocks its centre
    mask_a = arr(chart(at, "pcnn_mask_a7")["data"][0]["z"])
    assert mask_a[3, 3] == 1 and mask_a[3, 2] == 0 and mask_a[4:].min() == 1
    # 3. receptive fields at (14, 14) after 4 layers, analytic and measured, agree for both models
    for name in ("pixelcnn", "gated-pixelcnn"):
        expected = growth([analytic_receptive_field(name, k, 14, 14) for k in range(1, 5)])
        for key in (f"pcnn_rf_click_{name}", f"pcnn_rf_measured_{name}"):
            z = np.nan_to_num(arr(chart(at, key)["data"][1]["z"]))
            assert np.array_equal(z.astype(int), expected), key
    assert len([s for s in at.success if "all 784 pixels agree" in s.value]) == 2
    blind = int(blind_spot(analytic_receptive_field("pixelcnn", 4, 14, 14), 14, 14).sum())
    assert blind > 0 and f"blind spot: **{blind}** earlier pixels" in text_of(at)
    assert "blind spot: **0** earlier pixels— none." in text_of(at).replace(" — ", "— ")
    # 4. the animation starts at pixel 1 with the model's probability
    sample = draw_samples(models["gated-pixelcnn"], 1, seed=0, temperature=1.0)
    first = metric(at, "Pixel 1 (row 0, column 0)")
    assert first.value == format_probability(sample.raw_probs[0, 0, 0])
    grid = draw_samples(models["gated-pixelcnn"], 16, seed=100, temperature=1.0)
    z = arr(chart(at, "pcnn_grid_fig")["data"][0]["z"])
    assert np.array_equal(z[:28, :28], grid.images[0]) and np.array_equal(z[29:57, 29:57], grid.images[9])
    assert "16 × 784 pixels drawn in" in text_of(at)
    # 5. the exact NLL of test digit 0 under the gated model, unconditional
    score = image_nll(models["gated-pixelcnn"], digits.images[0])
    assert metric(at, "−log p(image)").value == f"{score.nll:.2f} nats"
    assert metric(at, "Bits per dimension").value == f"{score.bits_per_dim:.4f}"
    heat = arr(chart(at, "pcnn_l_heat")["data"][0]["z"])
    assert np.allclose(heat, score.nll_map) and chart(at, "pcnn_l_heat")["layout"]["yaxis"]["range"] == [27.5, -0.5]


def test_raster_and_receptive_field_controls_drive_the_figures():
    at = run_page()
    at.slider(key="pcnn_raster_i").set_value(1).run()
    assert "predicted from nothing" in text_of(at)
    at.slider(key="pcnn_raster_i").set_value(20).run()
    assert "from pixels **1 … 19**" in text_of(at)
    codes = arr(chart(at, "pcnn_raster_fig")["data"][0]["z"])
    assert codes.ravel()[19] == 1 and codes.ravel()[18] == 0
    at.number_input(key="pcnn_rf_row").set_value(20).run()
    at.number_input(key="pcnn_rf_col").set_value(3).run()
    at.slider(key="pcnn_rf_layers").set_value(7).run()
    assert not at.exception
    for name in ("pixelcnn", "gated-pixelcnn"):
        expected = growth([analytic_receptive_field(name, k, 20, 3) for k in range(1, 8)])
        z = np.nan_to_num(arr(chart(at, f"pcnn_rf_measured_{name}")["data"][1]["z"])).astype(int)
        assert np.array_equal(z, expected)
        shape = chart(at, f"pcnn_rf_click_{name}")["layout"]["shapes"][0]
        assert (shape["x0"], shape["y0"]) == (2.5, 19.5)  # the chosen pixel is outlined
    blind = int(blind_spot(analytic_receptive_field("pixelcnn", 7, 20, 3), 20, 3).sum())
    assert f"blind spot: **{blind}** earlier pixels" in text_of(at)


def test_animation_steps_and_plays(models):
    at = run_page()
    sample = draw_samples(models["gated-pixelcnn"], 1, seed=0, temperature=1.0)
    at.button(key="pcnn_anim_step1").click().run()
    assert metric(at, "Pixel 2 (row 0, column 1)").value == format_probability(sample.raw_probs[0, 0, 1])
    at.button(key="pcnn_anim_row").click().run()
    m = metric(at, "Pixel 29 (row 1, column 0)")
    assert m.value == format_probability(sample.raw_probs[0, 1, 0])
    canvas = arr(chart(at, "pcnn_anim_fig")["data"][0]["z"])
    assert (canvas.ravel()[28:] == 2).all() and np.array_equal(canvas.ravel()[:28], sample.images[0].ravel()[:28])
    at.button(key="pcnn_anim_play").click().run()  # plays: the fragment advances one frame per run
    assert at.button(key="pcnn_anim_play").label == "⏸ Pause"
    assert at.session_state["pcnn_anim_step"] == 28 + 14
    at.button(key="pcnn_anim_play").click().run()
    assert at.button(key="pcnn_anim_play").label == "▶ Play"
    at.button(key="pcnn_anim_restart").click().run()
    assert metric(at, "Pixel 1 (row 0, column 0)")


def test_sampling_settings_resample_and_label_is_only_for_the_gated_model(models):
    at = run_page()
    at.button(key="pcnn_anim_row").click().run()
    at.selectbox(key="pcnn_s_label").set_value("3").run()
    at.slider(key="pcnn_s_temp").set_value(0.5).run()
    at.number_input(key="pcnn_s_seed").set_value(9).run()
    assert not at.exception
    sample = draw_samples(models["gated-pixelcnn"], 1, seed=9, temperature=0.5, label=3)
    assert metric(at, "Pixel 1 (row 0, column 0)").value == format_probability(sample.raw_probs[0, 0, 0])  # restarted
    grid = draw_samples(models["gated-pixelcnn"], 16, seed=100, temperature=0.5, label=3)
    assert np.array_equal(arr(chart(at, "pcnn_grid_fig")["data"][0]["z"])[:28, :28], grid.images[0])
    at.button(key="pcnn_grid_draw").click().run()
    grid = draw_samples(models["gated-pixelcnn"], 16, seed=101, temperature=0.5, label=3)
    assert np.array_equal(arr(chart(at, "pcnn_grid_fig")["data"][0]["z"])[:28, :28], grid.images[0])
    assert "seed 101, temperature 0.5, digit label 3 (drawn once" in text_of(at)  # the label said as a label
    at.selectbox(key="pcnn_s_model").set_value("pixelcnn").run()
    assert not at.exception
    assert at.selectbox(key="pcnn_s_label_plain").options == ["no label"]
    sample = draw_samples(models["pixelcnn"], 1, seed=9, temperature=0.5)
    assert metric(at, "Pixel 1 (row 0, column 0)").value == format_probability(sample.raw_probs[0, 0, 0])


def test_likelihood_of_test_digits_labels_and_the_comparison(models, digits):
    at = run_page()
    at.number_input(key="pcnn_l_index").set_value(7).run()
    at.selectbox(key="pcnn_l_label").set_value(str(digits.labels[7])).run()
    gated = models["gated-pixelcnn"]
    score = image_nll(gated, digits.images[7], int(digits.labels[7]))
    assert metric(at, "−log p(image)").value == f"{score.nll:.2f} nats"
    assert metric(at, "p(image)").value == f"10^−{score.nll / math.log(10):.1f}"
    assert (at.slider(key="pcnn_l_dx").value, at.slider(key="pcnn_l_dy").value) == (1, 1)
    at.slider(key="pcnn_l_dx").set_value(-4).run()
    at.slider(key="pcnn_l_dy").set_value(2).run()
    bars = chart(at, "pcnn_l_compare")["data"][0]
    expected = [
        score.nll,
        image_nll(gated, noise_image(digits.images[7], 0), int(digits.labels[7])).nll,
        image_nll(gated, shift_image(digits.images[7], 2, -4), int(digits.labels[7])).nll,
    ]
    assert np.allclose(arr([bars["y"]])[0], expected)
    assert bars["x"] == ["this image", "noise (same ink share)", "shifted (-4, +2)"]
    assert expected[1] > expected[0] + 100
    assert not [w for w in at.warning if "out of the frame" in w.value]  # digit 7 stays inside
    at.slider(key="pcnn_l_dx").set_value(8).run()
    lost = int(digits.images[7].sum() - shift_image(digits.images[7], 2, 8).sum())
    assert lost > 0 and any(f"pushes {lost} ink pixels out of the frame" in w.value for w in at.warning)
    at.selectbox(key="pcnn_l_model").set_value("pixelcnn").run()
    score = image_nll(models["pixelcnn"], digits.images[7])
    assert metric(at, "−log p(image)").value == f"{score.nll:.2f} nats"


def test_edit_pixels_scores_the_typed_image_and_reports_bad_text(models, digits):
    at = run_page()
    at.number_input(key="pcnn_l_index").set_value(12).run()
    at.radio(key="pcnn_l_source").set_value("Edit pixels").run()
    assert at.text_area(key="pcnn_l_text").value == format_pixel_text(digits.images[12])  # starts from the chosen digit
    at.text_area(key="pcnn_l_text").set_value(format_pixel_text(digits.images[3])).run()
    at.button(key="pcnn_l_text_reset").click().run()
    assert at.text_area(key="pcnn_l_text").value == format_pixel_text(digits.images[12])
    at.radio(key="pcnn_l_source").set_value("Test digit").run()
    assert at.number_input(key="pcnn_l_index").value == 12  # kept while the source was switched
    at.number_input(key="pcnn_l_index").set_value(0).run()
    at.radio(key="pcnn_l_source").set_value("Edit pixels").run()
    image = digits.images[0].copy()
    image[0, 0] = 1  # a stray ink pixel in the corner
    at.text_area(key="pcnn_l_text").set_value(format_pixel_text(image)).run()
    score = image_nll(models["gated-pixelcnn"], image)
    assert metric(at, "−log p(image)").value == f"{score.nll:.2f} nats"
    assert score.nll > image_nll(models["gated-pixelcnn"], digits.images[0]).nll
    at.text_area(key="pcnn_l_text").set_value("###\n...").run()
    assert not at.exception
    assert any("exactly 28 lines" in e.value for e in at.error)
    assert at.header[4].value.startswith("5 ·") and not at.get("plotly_chart") == []


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_uploads_good_and_bad(models):
    at = run_page()
    at.radio(key="pcnn_l_source").set_value("Upload a PNG").run()
    assert any("Upload an image" in i.value for i in at.info)
    img = Image.new("L", (140, 140), 255)
    img.paste(0, (60, 20, 80, 120))  # a dark "1" on paper
    at.file_uploader(key="pcnn_l_upload").set_value(("one.png", png(img), "image/png")).run()
    assert not at.exception and not at.error
    expected = np.zeros((28, 28), dtype=np.uint8)
    expected[4:24, 12:16] = 1
    shown = arr(chart(at, "pcnn_l_img")["data"][0]["z"])
    assert np.array_equal(shown, expected)  # the processed image is shown
    assert metric(at, "−log p(image)").value == f"{image_nll(models['gated-pixelcnn'], expected).nll:.2f} nats"
    assert any("inverted" in c.value for c in at.caption)
    for data, words in [
        (b"not an image at all", "not an image"),
        (png(Image.new("L", (200, 100))), "not square"),
        (png(Image.new("L", (2100, 2100))), "too large"),
        (png(Image.fromarray((np.random.default_rng(0).random((90, 90)) * 255).astype(np.uint8)))[:900], "truncated"),
    ]:
        at.file_uploader(key="pcnn_l_upload").set_value(("x.png", data, "image/png")).run()
        assert not at.exception
        assert any(words in e.value for e in at.error), words
        assert len(at.header) == 6  # the rest of the page is still there (5 sections and Check yourself)


def test_missing_model_is_an_error_and_the_rest_of_the_page_works(monkeypatch):
    import core.image.model

    real = core.image.model.load_image_model

    def load(name, models_dir=None):
        if name == "gated-pixelcnn":
            raise CheckpointError("assets/models/gated-pixelcnn.json", "the model card is missing")
        return real(name, models_dir)

    monkeypatch.setattr(core.image.model, "load_image_model", load)
    st.cache_resource.clear()  # the page caches models across runs: start from nothing
    at = run_page()
    messages = " ".join(e.value for e in at.error)
    assert "gated-pixelcnn" in messages and "card is missing" in messages
    # the plain model still draws its receptive field; masks and raster order need no model
    assert chart(at, "pcnn_rf_click_pixelcnn") and chart(at, "pcnn_raster_fig")
    assert any("Choose the other model" in i.value for i in at.info)
    at.selectbox(key="pcnn_s_model").set_value("pixelcnn").run()
    assert not at.exception and metric(at, "Pixel 1 (row 0, column 0)")
    monkeypatch.undo()
    st.cache_resource.clear()  # later tests load the real models again


def test_blank_and_all_ink_are_one_click_and_the_page_says_likelihood_is_not_typicality(models, digits):
    """Nalisnick et al. 2019 on our own models: the numbers in the note are the models' numbers."""
    import torch

    from core.image.model import nll_per_image
    from pages.pixelcnn_shared import test_set_nlls

    test_set_nlls("gated-pixelcnn", None).result(timeout=300)  # the page's background scoring, finished
    at = run_page()
    gated = models["gated-pixelcnn"]
    test = nll_per_image(gated.net, torch.from_numpy(digits.images)).numpy()  # the oracle: every test digit
    blank = image_nll(gated, np.zeros((28, 28), dtype=np.uint8)).nll
    ink = image_nll(gated, np.ones((28, 28), dtype=np.uint8)).nll
    (note,) = [i.value for i in at.info if "High likelihood is not typicality" in i.value]
    assert f"a blank image costs **{blank:.1f} nats** (more likely than {int((test > blank).sum())} of the 500" in note
    assert f"an all-ink image costs **{ink:.1f} nats**" in note and "Nalisnick" in note
    assert f"a typical real digit costs {np.median(test):.1f} nats" in note
    at.button(key="pcnn_l_blank").click().run()
    assert at.radio(key="pcnn_l_source").value == "Edit pixels"
    assert at.text_area(key="pcnn_l_text").value == format_pixel_text(np.zeros((28, 28), dtype=np.uint8))
    assert metric(at, "−log p(image)").value == f"{blank:.2f} nats"
    lo, hi = np.percentile(test, [5, 95])
    assert f"This image costs **{blank:.1f} nats**; the 500 real test digits cost {lo:.1f}–{hi:.1f} nats" in text_of(at)
    at.button(key="pcnn_l_ink").click().run()
    assert metric(at, "−log p(image)").value == f"{ink:.2f} nats"
    assert not at.exception


def test_the_test_set_is_scored_in_the_background_and_the_page_does_not_wait(monkeypatch, models, digits):
    """Scoring 500 digits takes a core many seconds: until it is done the section says so, and then shows it."""
    from concurrent.futures import Future

    import pages.pixelcnn_likelihood

    pending: Future = Future()
    monkeypatch.setattr(pages.pixelcnn_likelihood, "test_set_nlls", lambda name, label: pending)
    at = run_page()
    (waiting,) = [i.value for i in at.info if "test digits to compare this image with" in i.value]
    assert waiting.startswith("Scoring all 500 test digits") and "about 15 s" in waiting
    assert not [i for i in at.info if "High likelihood is not typicality" in i.value]
    assert metric(at, "−log p(image)")  # the image's own score does not wait
    at.selectbox(key="pcnn_l_label").set_value("3").run()
    assert any(i.value.startswith("Scoring the 3s among the 500 test digits") for i in at.info)
    test = np.sort(np.random.default_rng(0).normal(100.0, 10.0, 500))
    pending.set_result(test)
    at.run()
    assert not [i for i in at.info if "test digits to compare this image with" in i.value]
    (note,) = [i.value for i in at.info if "High likelihood is not typicality" in i.value]
    assert f"a typical real digit costs {np.median(test):.1f} nats" in note  # the numbers the scoring returned
    assert not at.exception


def test_figures_side_by_side_with_the_papers(models):
    at = run_page()
    (table,) = [d.value for d in at.dataframe if "test NLL, no label (nats)" in d.value.columns]
    rows = {r["model"]: r for r in table.to_dict("records")}
    for name, model in models.items():
        m = model.card["metrics"]
        assert rows[f"{name} (ours)"]["test NLL, no label (nats)"] == f"{m['heldout_nll']:.2f}"
        assert rows[f"{name} (ours)"]["trained on"] == "4,500 digits"
    gated = rows["gated-pixelcnn (ours)"]["given the digit (nats)"]
    assert gated == f"{models['gated-pixelcnn'].card['metrics']['heldout_nll_conditional']:.2f}"
    mixture = models["gated-pixelcnn"].card["metrics"]["heldout_nll_mixture"]
    assert rows["gated-pixelcnn (ours), digit summed out"]["test NLL, no label (nats)"] == f"{mixture:.2f}"
    papers = [r for r in rows.values() if r["trained on"] == "60,000 digits"]
    assert sorted(r["test NLL, no label (nats)"] for r in papers) == ["79.20", "81.30"]


def test_the_default_shift_keeps_the_ink_of_test_digits(digits):
    at = run_page()
    dx, dy = at.slider(key="pcnn_l_dx").value, at.slider(key="pcnn_l_dy").value
    kept = sum(int(im.sum()) == int(shift_image(im, dy, dx).sum()) for im in digits.images)
    assert (dx, dy) != (0, 0) and kept >= 0.99 * len(digits)
    assert not [w for w in at.warning if "out of the frame" in w.value]  # test digit 0, the default


def test_the_shift_survives_a_source_without_an_image(digits):
    """Streamlit drops a widget's value in a run that does not draw it: choosing "Upload a PNG" (no file yet)
    used to bring the sliders back at their minimum, -8, so every upload warned of ink pushed out."""
    at = run_page()
    at.slider(key="pcnn_l_dx").set_value(2).run()
    at.radio(key="pcnn_l_source").set_value("Upload a PNG").run()
    assert "pcnn_l_dx" not in [s.key for s in at.slider]  # no image, no comparison
    at.radio(key="pcnn_l_source").set_value("Test digit").run()
    assert (at.slider(key="pcnn_l_dx").value, at.slider(key="pcnn_l_dy").value) == (2, 1)
    assert not [w for w in at.warning if "out of the frame" in w.value]
