"""The image that section 5 of the PixelCNN page scores: a test digit, an uploaded PNG, or pixels typed by hand,
and the buttons that put a blank or an all-ink image into the pixel editor.

Not a page itself: a module of pages/pixelcnn_likelihood.py.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.errors import ChainRuleError
from core.image.inputs import format_pixel_text, parse_pixel_text, preprocess_upload
from core.image.mnist import DigitSet
from core.lessons.pixel_lesson import EXTREME_IMAGES
from core.lessons.states import PixelState
from pages.common import show_error
from pages.pixelcnn_shared import SIZE
from pages.state import bound, get, put, text_box

DEFAULTS = PixelState()
PIXEL_TEXT_CHARS = SIZE * (SIZE + 1)  # 28 lines of 28 pixels and their line breaks


def chosen_image(digits: DigitSet | None, source: str) -> np.ndarray | None:
    """The image to score from the chosen source (a test digit, an upload, typed pixels), or None."""
    if source == "Test digit" and digits is not None:
        d1, d2 = st.columns([1, 2])
        idx = d1.number_input(f"Test digit (0–{len(digits) - 1})", 0, len(digits) - 1, 0, 1, **bound("pcnn_l_index"))
        d2.markdown(
            f"Test digit {idx} is a **{digits.labels[idx]}**, one of the 500 held-out digits the models never "
            "trained on (binarized once with a fixed seed)."
        )
        return digits.images[idx]
    if source == "Upload a PNG":
        upload = st.file_uploader(
            "A square image of one digit (PNG or JPEG)", type=["png", "jpg", "jpeg"], key="pcnn_l_upload"
        )
        if upload is None:
            st.info("Upload an image to score it. It is only kept in this browser session.")
            return None
        try:
            processed = preprocess_upload(upload.getvalue())
        except ChainRuleError as e:
            show_error("This upload cannot be scored.", e)
            return None
        w, h = processed.original_size
        framing = (
            "taken as it is (already 28×28)"
            if (w, h) == (SIZE, SIZE)
            else "framed as MNIST framed its digits: cropped to the ink, scaled to fit 20×20 and centred by mass in 28×28"
        )
        st.caption(
            f"{processed.format} image, {w}×{h} pixels → grey-scale"
            f"{', inverted (light background)' if processed.inverted else ''}, {framing}, binarized at half intensity."
        )
        return processed.image
    kept = get("pcnn_l_index", DEFAULTS.pcnn_l_index)  # the test digit last chosen (kept for the session)
    if get("pcnn_l_text") is None:  # nothing typed yet: start from that digit
        start = digits.images[kept] if digits is not None else np.zeros((SIZE, SIZE), dtype=np.uint8)
        put("pcnn_l_text", format_pixel_text(start))
    if digits is not None:
        st.button(f"Start again from test digit {kept}", key="pcnn_l_text_reset",
                  on_click=lambda: put("pcnn_l_text", format_pixel_text(digits.images[kept])))  # fmt: skip
    text = text_box(st.text_area, "28 lines of 28 pixels: '#' = ink, '.' = background", "pcnn_l_text",
                    PIXEL_TEXT_CHARS, height=420)  # fmt: skip
    try:
        return parse_pixel_text(text)
    except ChainRuleError as e:
        show_error("These pixels cannot be scored.", e)
        return None


def use_extreme(which: str) -> None:
    """Button callback: put the blank or the all-ink image into the pixel editor and score it."""
    put("pcnn_l_source", "Edit pixels")
    put("pcnn_l_text", format_pixel_text(EXTREME_IMAGES[which]))


def extremes_buttons() -> None:
    b1, b2, _ = st.columns([1, 1, 2])
    b1.button("Score a blank image", key="pcnn_l_blank", on_click=use_extreme, args=("blank",), icon="⬜")
    b2.button("Score an all-ink image", key="pcnn_l_ink", on_click=use_extreme, args=("all-ink",), icon="⬛")
