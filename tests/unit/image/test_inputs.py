"""Images from outside (core.image.inputs): uploads read, framed as MNIST framed its digits and binarized;
typed pixels; shifts and noise; bad input refused in words."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import InputError
from core.image.inputs import format_pixel_text, noise_image, parse_pixel_text, preprocess_upload, shift_image

# ---------------------------------------------------------------------------------------------
# Uploads and typed pixels


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_a_dark_digit_on_paper_is_inverted_resized_and_binarized():
    img = Image.new("L", (280, 280), 255)
    img.paste(0, (120, 40, 160, 240))  # a black vertical bar: a "1" on white paper
    out = preprocess_upload(png(img))
    assert out.inverted and out.original_size == (280, 280) and out.format == "PNG"
    expected = np.zeros((28, 28), dtype=np.uint8)
    expected[4:24, 12:16] = 1
    assert np.array_equal(out.image, expected)
    rgba = Image.new("RGBA", (56, 56), (0, 0, 0, 0))  # transparent background, opaque black stroke
    rgba.paste((0, 0, 0, 255), (20, 8, 36, 48))
    out = preprocess_upload(png(rgba))
    assert out.inverted and out.image[4:24, 10:18].all() and out.image.sum() == 20 * 8


def test_a_shipped_digit_round_trips_through_a_png(digits):
    img = Image.fromarray(digits.images[5] * 255)
    assert np.array_equal(preprocess_upload(png(img)).image, digits.images[5])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is not an image", "not an image"),
        (png(Image.new("L", (100, 60))), "not square"),
        (png(Image.new("L", (3000, 3000))), "too large"),
        (png(Image.new("L", (20, 20)), "GIF"), "GIF"),
        (b"\x89PNG" + b"0" * 6_000_000, "limit"),
    ],
    ids=["empty", "text", "non-square", "huge", "gif", "too-many-bytes"],
)
def test_bad_uploads_are_input_errors(data, message):
    with pytest.raises(InputError, match=message):
        preprocess_upload(data)


def test_truncated_and_bomb_uploads_are_input_errors():
    noisy = Image.fromarray((np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8))
    with pytest.raises(InputError, match="truncated or corrupt"):
        preprocess_upload(png(noisy)[:3000])
    # A tiny file that claims to be 100,000 x 100,000 pixels: refused from its header alone.
    header = png(Image.new("L", (1, 1)))
    bomb = bytearray(header)
    bomb[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR width and height (CRC left stale)
    with pytest.raises(InputError):
        preprocess_upload(bytes(bomb))


def test_typed_pixels_round_trip_and_errors_say_which_line(digits):
    text = format_pixel_text(digits.images[1])
    assert len(text.splitlines()) == 28 and set(text) <= set("#.\n")
    assert np.array_equal(parse_pixel_text(text), digits.images[1])
    assert np.array_equal(parse_pixel_text(text.replace("#", "1").replace(".", "0")), digits.images[1])
    with pytest.raises(InputError, match="exactly 28 lines"):
        parse_pixel_text("...")
    lines = text.splitlines()
    lines[4] = lines[4][:-1]
    with pytest.raises(InputError, match="Line 5 has 27"):
        parse_pixel_text("\n".join(lines))
    lines[4] = "x" + lines[3][1:]
    with pytest.raises(InputError, match="Line 5 contains 'x'"):
        parse_pixel_text("\n".join(lines))


def test_shift_and_noise():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[10:12, 3:5] = 1
    assert np.array_equal(shift_image(image, 2, -3)[12:14, 0:2], np.ones((2, 2)))
    assert shift_image(image, 0, 30).sum() == 0
    noise = noise_image(np.eye(28, dtype=np.uint8), 0)
    assert abs(noise.mean() - 1 / 28) < 0.03 and np.array_equal(noise, noise_image(np.eye(28, dtype=np.uint8), 0))


def test_uploads_are_framed_as_mnist_framed_its_digits():
    """A small digit with a wide margin and one that fills the picture both come out ~20 px tall,
    centred by mass, so the page's default shift keeps all their ink."""
    from core.image.inputs import frame_like_mnist

    for box in [(180, 180, 220, 260), (100, 0, 300, 400)]:  # small and off-centre; filling the height
        img = Image.new("L", (400, 400), 255)
        img.paste(0, box)
        out = preprocess_upload(png(img)).image
        rows, cols = np.nonzero(out)
        assert rows.max() - rows.min() + 1 == 20  # the longer side scaled to 20
        assert abs(rows.mean() - 13.5) <= 1 and abs(cols.mean() - 13.5) <= 1  # centred by mass
        assert shift_image(out, 1, 1).sum() == out.sum()
    seven = Image.new("L", (600, 600), 255)  # lopsided: its mass sits low and right
    seven.paste(0, (200, 180, 420, 215))
    seven.paste(0, (380, 180, 415, 430))
    out = preprocess_upload(png(seven)).image
    rows, cols = np.nonzero(out)
    assert rows.min() >= 2 and rows.max() <= 25 and cols.min() >= 2 and cols.max() <= 25  # 2 pixels from the edges
    assert all(shift_image(out, dy, dx).sum() == out.sum() for dy in (-2, 2) for dx in (-2, 2))
    assert not frame_like_mnist(np.zeros((50, 50), dtype=np.uint8)).any()  # a blank upload stays blank
