"""The PixelCNN page in a real browser: every section renders in both themes, the animation steps
and plays, a click on a receptive-field grid picks the pixel, and a bad upload is reported in words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from core.checkpoint import MODELS_DIR
from core.display import format_probability
from core.image.model import draw_samples, load_image_model
from tests.e2e.helpers import assert_no_streamlit_errors, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

THEMES = ["light", "dark"]
# (screenshot name, text to scroll to, where that text lands in the viewport)
SECTIONS = [
    ("raster", "1 · Raster order: an image is a sequence", "start"),
    ("masks", "2 · Masks: convolutions that never look ahead", "start"),
    ("receptive", "3 · Receptive field and the blind spot", "start"),
    ("measured", "Measured on the trained Gated PixelCNN = derived from its masks: all 784 pixels agree.", "end"),
    ("sampling", "4 · Sampling, one pixel at a time", "start"),
    ("grid", "16 samples at once (fast path)", "start"),
    ("likelihood", "5 · Exact likelihood of an image", "start"),
    ("heatmap", "The image scored", "center"),
    ("compare", "A real digit, noise, and the same digit shifted", "start"),
    ("compare-maps", "this image", "start"),
]
# raster, 4 masks, 2 x 2 receptive fields, canvas, grid, image, heatmap, bars, 3 x 2 comparison
N_CHARTS = 1 + 4 + 4 + 1 + 1 + 2 + 1 + 6


@pytest.fixture(scope="module", autouse=True)
def shipped_models():
    for name in ("pixelcnn", "gated-pixelcnn"):
        if not (MODELS_DIR / f"{name}.safetensors").exists():
            pytest.fail(f"the shipped model {name!r} is missing: the PixelCNN page cannot be tested", pytrace=False)


def _base_url(request: pytest.FixtureRequest, theme: str) -> str:
    return request.getfixturevalue("server" if theme == "light" else "dark_server")


def open_pixelcnn(page: Page, base_url: str) -> None:
    # A fresh server maps its very first request by the pages/ folder before app.py has run;
    # opening the home page first makes every later URL resolve through st.navigation.
    open_page(page, base_url, "")
    open_page(page, base_url, "pixelcnn", timeout=180000)  # a first visit loads both models, samples 16 digits
    expect(page.get_by_role("heading", level=1)).to_contain_text("PixelCNN")


def scroll_to(page: Page, text: str, block: str = "start") -> None:
    target = page.get_by_text(text, exact=True).first
    expect(target).to_be_visible()
    target.evaluate(f"el => el.scrollIntoView({{block: '{block}'}})")
    page.wait_for_timeout(400)  # let plotly finish drawing what just came into view


@pytest.mark.parametrize("theme", THEMES)
def test_every_section_renders(page: Page, request: pytest.FixtureRequest, theme: str):
    open_pixelcnn(page, _base_url(request, theme))
    assert_no_streamlit_errors(page)
    expect(page.locator(".js-plotly-plot")).to_have_count(N_CHARTS, timeout=30000)
    expect(page.get_by_text("all 784 pixels agree")).to_have_count(2)
    expect(page.get_by_text(re.compile(r"16 × 784 pixels drawn in \d+\.\d\d s"))).to_be_visible()
    screenshot(page, f"pixelcnn-top-{theme}", full_page=False)
    for name, text, block in SECTIONS:
        scroll_to(page, text, block)
        screenshot(page, f"pixelcnn-{name}-{theme}", full_page=False)
    assert_no_streamlit_errors(page)


def test_step_and_play_the_sampling_animation(page: Page, server: str):
    sample = draw_samples(load_image_model("gated-pixelcnn"), 1, seed=0, temperature=1.0)
    open_pixelcnn(page, server)
    scroll_to(page, "4 · Sampling, one pixel at a time")
    metric = page.get_by_test_id("stMetric").filter(has_text="p(ink | pixels before)")
    expect(metric).to_contain_text("Pixel 1 (row 0, column 0)")
    page.get_by_role("button", name="Step 1 pixel").click()
    wait_idle(page)
    expect(metric).to_contain_text("Pixel 2 (row 0, column 1)")
    expect(metric).to_contain_text(format_probability(sample.raw_probs[0, 0, 1]))
    page.get_by_role("button", name="Next row").click()
    wait_idle(page)
    expect(metric).to_contain_text("Pixel 29 (row 1, column 0)")
    page.get_by_role("button", name="▶ Play").click()
    # the fragment reruns on its timer: the pixel count climbs without further clicks
    metric = page.get_by_test_id("stMetric").filter(has_text="p(ink | pixels before)")
    expect(metric).to_contain_text(re.compile(r"Pixel (7\d|[89]\d|\d{3}) \(row"), timeout=20000)
    page.get_by_role("button", name="⏸ Pause").click()
    wait_idle(page)
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible(timeout=20000)
    assert_no_streamlit_errors(page)


def test_a_click_on_the_receptive_field_grid_picks_the_pixel(page: Page, server: str):
    open_pixelcnn(page, server)
    scroll_to(page, "3 · Receptive field and the blind spot")
    chart = page.locator(".js-plotly-plot").nth(5)  # after the raster grid and the four masks
    plot = chart.locator(".nsewdrag").first
    box = plot.bounding_box()
    assert box is not None
    # cell (row 20, column 5) of the 28 x 28 grid: row 0 is at the top
    page.mouse.click(box["x"] + box["width"] * (5.5 / 28), box["y"] + box["height"] * (20.5 / 28))
    wait_idle(page)
    expect(page.get_by_label("Row of the pixel")).to_have_value("20")
    expect(page.get_by_label("Column of the pixel")).to_have_value("5")
    assert_no_streamlit_errors(page)


def test_a_bad_upload_is_reported_and_the_page_keeps_working(page: Page, server: str):
    open_pixelcnn(page, server)
    scroll_to(page, "5 · Exact likelihood of an image")
    page.get_by_text("Upload a PNG").click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "digit.png", "mimeType": "image/png", "buffer": b"this is not an image"}]
    )
    wait_idle(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="not an image that can be read")).to_be_visible()
    assert_no_streamlit_errors(page)
    page.get_by_text("Test digit", exact=True).first.click()
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="−log p(image)")).to_contain_text("nats")


def test_blank_image_one_click_and_an_upload_framed_like_mnist(page: Page, server: str):
    import io

    import numpy as np
    from PIL import Image

    from core.image.model import image_nll, load_image_model

    open_pixelcnn(page, server)
    scroll_to(page, "5 · Exact likelihood of an image")
    page.get_by_role("button", name="Score a blank image").click()
    wait_idle(page)
    gated = load_image_model("gated-pixelcnn")
    blank = image_nll(gated, np.zeros((28, 28), dtype=np.uint8)).nll
    expect(page.get_by_test_id("stMetric").filter(has_text="−log p(image)")).to_contain_text(f"{blank:.2f} nats")
    # the 500 test digits are scored in the background, once per server: the note replaces "Scoring …" when done
    typicality = page.get_by_test_id("stAlert").filter(has_text="High likelihood is not typicality")
    expect(typicality).to_be_visible(timeout=180000)
    screenshot(page, "pixelcnn-blank-image", full_page=False)
    # a dark "7" on white paper with a wide margin, as a phone photo of a sheet would give
    img = Image.new("L", (600, 600), 255)
    img.paste(0, (200, 180, 420, 215))
    img.paste(0, (380, 180, 415, 430))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    page.get_by_text("Upload a PNG").click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": buf.getvalue()}]
    )
    wait_idle(page)
    expect(page.get_by_text("framed as MNIST framed its digits")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="−log p(image)")).to_contain_text("nats")
    screenshot(page, "pixelcnn-upload-framed")
    alerts = page.get_by_test_id("stAlert").filter(has_text="out of the frame")
    assert alerts.count() == 0, alerts.all_inner_texts()  # the default shift keeps its ink
    assert_no_streamlit_errors(page)


def test_the_animations_table_stays_open_while_it_plays(page: Page, server: str):
    """The canvas's "Numbers as a table", opened, is redrawn with every frame of the animation (a fragment on
    a timer) and stays open; the frames keep coming. Its numbers against the canvas: tests/app."""
    open_pixelcnn(page, server)
    scroll_to(page, "4 · Sampling, one pixel at a time")
    canvas = page.get_by_test_id("stColumn").filter(has_text=re.compile(r"\d+ of 784 pixels drawn"))
    numbers = canvas.get_by_test_id("stExpander").filter(has=page.get_by_text("Numbers as a table", exact=True))
    numbers.get_by_text("Numbers as a table", exact=True).click()
    expect(numbers.get_by_test_id("stDataFrame")).to_be_visible()
    page.get_by_role("button", name="▶ Play").click()
    metric = page.get_by_test_id("stMetric").filter(has_text="p(ink | pixels before)")
    for pixel in (r"[3-9]\d", r"(7\d|[89]\d|\d{3})"):  # frames arrive while the table is open
        expect(metric).to_contain_text(re.compile(rf"Pixel {pixel} \(row"), timeout=20000)
        expect(numbers.locator("details")).to_have_attribute("open", "")
        expect(numbers.get_by_test_id("stDataFrame")).to_be_visible()
    page.get_by_role("button", name="⏸ Pause").click()
    wait_idle(page)
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible(timeout=20000)
    assert_no_streamlit_errors(page)
