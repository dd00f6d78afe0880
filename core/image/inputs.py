"""What a user can hand an image model: an uploaded picture, typed pixels, a shifted digit, noise.

Every function here returns a (28, 28) 0/1 uint8 array like the binarized MNIST digits, or raises
an ``InputError`` that says what was wrong and what is allowed.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import InputError


def validate_image(image, size: int = 28) -> np.ndarray:
    """A (size, size) array of 0s and 1s as uint8; InputError in words for anything else."""
    try:
        arr = np.asarray(image)
    except Exception:  # noqa: BLE001 - any object that numpy cannot read is a user error here
        raise InputError(f"The image must be a {size}x{size} grid of 0s and 1s.") from None
    if arr.shape != (size, size):
        raise InputError(f"The image must be {size}x{size} pixels, got shape {arr.shape}.")
    if arr.dtype == object or not np.isin(arr, (0, 1)).all():
        raise InputError(f"Every pixel must be 0 (black) or 1 (white): the models read binarized {size}x{size} digits.")
    return arr.astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Uploaded images

MAX_UPLOAD_BYTES = 5_000_000
MAX_UPLOAD_SIDE = 2048  # pixels; the pixel count is checked before anything is decoded
UPLOAD_FORMATS = ("PNG", "JPEG")


@dataclass(frozen=True)
class ProcessedUpload:
    grey: np.ndarray  # (28, 28) uint8 0-255: grey-scale, white digit on black, resized
    image: np.ndarray  # (28, 28) uint8 0/1: grey >= 128, what the model scores
    original_size: tuple[int, int]  # (width, height) of the upload
    inverted: bool  # True if the upload was dark-on-light and was inverted to match MNIST
    format: str


def preprocess_upload(data: bytes, size: int = 28) -> ProcessedUpload:
    """An uploaded PNG or JPEG -> a binarized size x size digit like MNIST's (white on black).

    Steps: check the byte size, read only the header (format, width, height) and refuse
    enormous or non-square images before decoding a single pixel (a decompression bomb is a
    tiny file that claims billions of pixels); then decode, flatten transparency onto white,
    convert to grey, invert if the background is light, frame the digit as MNIST does
    (``frame_like_mnist``; a 28x28 upload is taken as it is) and binarize at half intensity. Every failure is an InputError that says what is allowed.
    """
    from PIL import Image, UnidentifiedImageError

    allowed = f"Upload a square PNG or JPEG of one digit, at most {MAX_UPLOAD_SIDE}x{MAX_UPLOAD_SIDE} pixels."
    if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
        raise InputError(f"The file is empty. {allowed}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"The file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}. {allowed}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower limit follows
            img = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:
        raise InputError(f"The image claims far too many pixels to decode safely. {allowed}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError(f"This file is not an image that can be read. {allowed}") from None
    fmt = img.format
    if fmt not in UPLOAD_FORMATS:
        raise InputError(f"The file is a {fmt or 'unknown'} image. {allowed}")
    width, height = img.size
    if width * height > MAX_UPLOAD_SIDE**2:
        raise InputError(f"The image is {width}x{height} pixels, too large to decode safely. {allowed}")
    if width != height:
        raise InputError(f"The image is {width}x{height} pixels, not square: crop it to a square first. {allowed}")
    try:
        img.load()  # decode now, so a truncated or corrupt file fails here
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InputError(f"The image file is truncated or corrupt and cannot be decoded. {allowed}") from None
    if img.mode in ("RGBA", "LA", "PA", "P") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    grey = img.convert("L")
    inverted = float(np.asarray(grey).mean()) > 127  # a light background: a dark digit on paper
    if inverted:
        grey = Image.eval(grey, lambda v: 255 - v)
    if (width, height) == (size, size):
        small = np.asarray(grey, dtype=np.uint8)  # already the model's grid: taken as it is
    else:
        small = frame_like_mnist(np.asarray(grey, dtype=np.uint8), size)  # (28, 28)
    return ProcessedUpload(
        grey=small,
        image=(small >= 128).astype(np.uint8),
        original_size=(width, height),
        inverted=inverted,
        format=fmt,
    )


MNIST_BOX = 20  # MNIST digits were scaled to fit a 20x20 box, then centred by mass in 28x28


def frame_like_mnist(grey: np.ndarray, size: int = 28, box: int = MNIST_BOX) -> np.ndarray:
    """A white-on-black grey image framed as the MNIST digits were: crop to the ink, scale the longer side
    to ``box`` pixels keeping the aspect ratio (area averaging), and place it in a ``size`` x ``size``
    frame with its centre of mass at the centre, kept two pixels from the edges. (H, W) uint8 -> (size, size)
    uint8.

    So a digit photographed with a wide margin, or filling the whole picture, is scored at the scale
    and position the models were trained on, and shifting it by a pixel or two keeps all its ink.
    """
    from PIL import Image

    ink = np.argwhere(grey >= 64)  # pixels of at least a quarter intensity
    if len(ink) == 0:
        return np.asarray(Image.fromarray(grey).resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
    (r0, c0), (r1, c1) = ink.min(0), ink.max(0) + 1
    crop = Image.fromarray(grey[r0:r1, c0:c1])
    scale = box / max(r1 - r0, c1 - c0)
    w, h = max(1, round((c1 - c0) * scale)), max(1, round((r1 - r0) * scale))
    digit = np.asarray(crop.resize((w, h), Image.Resampling.BOX), dtype=np.float64)  # (h, w)
    mass = digit.sum()
    rows, cols = np.indices(digit.shape)
    cy, cx = ((rows * digit).sum() / mass, (cols * digit).sum() / mass) if mass > 0 else (h / 2, w / 2)
    # centre of mass at the centre, but at least `margin` pixels from every edge (a lopsided digit such
    # as a 7 would otherwise touch the frame, and moving it by a pixel would push ink out)
    margin = (size - box) // 4  # 2 pixels for 28 and 20
    top = int(np.clip(round(size / 2 - cy), margin, size - margin - h))
    left = int(np.clip(round(size / 2 - cx), margin, size - margin - w))
    out = np.zeros((size, size), dtype=np.uint8)
    out[top : top + h, left : left + w] = digit.round().astype(np.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# Images to compare: typed pixels, shifted digits, noise

INK_CHARS, PAPER_CHARS = "#1", ".0"


def format_pixel_text(image: np.ndarray) -> str:
    """A 0/1 image as text, one line per row: '#' for ink (1), '.' for background (0)."""
    return "\n".join("".join("#" if v else "." for v in row) for row in np.asarray(image))


def parse_pixel_text(text: str, size: int = 28) -> np.ndarray:
    """Typed pixels -> (size, size) uint8: ``size`` lines of ``size`` characters, '#' or '1' for
    ink and '.' or '0' for background. InputError saying which line is wrong otherwise."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) != size:
        raise InputError(f"Type exactly {size} lines of {size} pixels ('#' = ink, '.' = background); got {len(lines)}.")
    for i, line in enumerate(lines):
        if len(line) != size:
            raise InputError(f"Line {i + 1} has {len(line)} characters; every line needs exactly {size}.")
        bad = sorted(set(line) - set(INK_CHARS + PAPER_CHARS))
        if bad:
            raise InputError(
                f"Line {i + 1} contains {', '.join(repr(c) for c in bad)}: use only '#' or '1' for ink "
                "and '.' or '0' for background."
            )
    return np.array([[c in INK_CHARS for c in line] for line in lines], dtype=np.uint8)


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved down by ``dy`` and right by ``dx`` pixels; what leaves the frame is lost."""
    image = np.asarray(image)
    H, W = image.shape
    out = np.zeros_like(image)
    if abs(dy) >= H or abs(dx) >= W:
        return out  # moved out of the frame entirely
    out[max(0, dy) : H + min(0, dy), max(0, dx) : W + min(0, dx)] = image[
        max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)
    ]
    return out


def noise_image(like: np.ndarray, seed: int) -> np.ndarray:
    """Random pixels with the same share of ink as ``like``: each pixel ~ Bernoulli(mean of like)."""
    like = np.asarray(like)
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(like.shape, generator=g, dtype=torch.float64) < float(like.mean())).numpy().astype(np.uint8)
