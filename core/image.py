"""Image models as the lesson uses them: load, receptive fields, exact likelihood, pixel-by-pixel sampling.

The chain rule is the same as for text, over the 784 pixels of a 28x28 binarized digit in
raster order (row by row, left to right):

    p(x) = prod_{i=1}^{784} p(x_i | x_1 .. x_{i-1}),   each factor a Bernoulli.

``image_nll`` reads every factor off one forward pass (exact: no sampling, no bound);
``sample_images`` draws the pixels one at a time and yields each step for animation;
``receptive_field`` measures, by gradient, which input pixels a prediction depends on, and
``analytic_receptive_field`` derives the same set from the mask geometry alone.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from core.checkpoint import MODELS_DIR, load_checkpoint, load_state_into
from core.checkpoint import models_dir as default_models_dir
from core.errors import CheckpointError, InputError, ModelNotFoundError
from core.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig, horizontal_mask, vertical_mask
from core.pixelcnn import PixelCNN, PixelCNNConfig, pixelcnn_mask

# The shipped image models, with the one-line description the app shows.
IMAGE_MODELS = {
    "pixelcnn": "PixelCNN: a 7x7 mask-A layer, then 3x3 mask-B layers (it has the blind spot)",
    "gated-pixelcnn": "Gated PixelCNN: vertical and horizontal stacks, no blind spot, conditioned on the digit",
}
KINDS = ("pixelcnn", "gated-pixelcnn")
MAX_SAMPLES = 64  # images drawn at once
MAX_TEMPERATURE = 10.0


@dataclass
class ImageModel:
    name: str
    net: nn.Module  # PixelCNN or GatedPixelCNN; forward(x, label=None) -> (B, 1, H, W) logits
    card: dict = field(repr=False)

    @property
    def kind(self) -> str:
        return self.net.kind

    @property
    def image_size(self) -> int:
        return self.net.config.image_size

    @property
    def n_layers(self) -> int:
        """Masked layers, the first (mask-A) one included."""
        return self.net.config.n_layer

    @property
    def is_conditional(self) -> bool:
        return self.kind == "gated-pixelcnn"


def build_image_net(kind: str, config: dict) -> nn.Module:
    if kind == "pixelcnn":
        return PixelCNN(PixelCNNConfig.from_dict(config))
    if kind == "gated-pixelcnn":
        return GatedPixelCNN(GatedPixelCNNConfig.from_dict(config))
    raise ValueError(f"unknown image model kind {kind!r}")


def load_image_model(name: str, models_dir: Path | None = None) -> ImageModel:
    """Load a shipped image model by name. Raises ModelNotFoundError or CheckpointError."""
    if name not in IMAGE_MODELS:
        raise ModelNotFoundError(name, list(IMAGE_MODELS))
    directory = Path(models_dir) if models_dir is not None else default_models_dir(MODELS_DIR)
    tensors, card = load_checkpoint(directory, name)
    path = directory / f"{name}.safetensors"
    try:
        net = build_image_net(card["kind"], card["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(directory / f"{name}.json", f"the card does not describe an image model ({e})") from None
    load_state_into(net, tensors, path)
    net.eval()
    net.requires_grad_(False)  # shared across sessions: inference only
    return ImageModel(name=name, net=net, card=card)


# ---------------------------------------------------------------------------------------------
# Checking what a user asks for


def _check_position(size: int, row, col) -> None:
    for name, v in (("row", row), ("column", col)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < size:
            raise InputError(f"The {name} must be a whole number from 0 to {size - 1}, got {v!r}.")


def _check_layers(n_layers, max_layers: int) -> int:
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or not 1 <= n_layers <= max_layers:
        raise InputError(f"The number of layers must be a whole number from 1 to {max_layers}, got {n_layers!r}.")
    return int(n_layers)


def label_tensor(model: ImageModel, label) -> torch.Tensor | None:
    """(1,) long tensor for a digit label 0-9, None for no label; InputError otherwise."""
    if label is None:
        return None
    if not model.is_conditional:
        raise InputError(f"The model {model.name!r} is unconditional: it takes no digit label (use None).")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
        raise InputError(f"The digit label must be a whole number from 0 to 9, or None for no label, got {label!r}.")
    return torch.tensor([int(label)])


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
# Receptive fields


def receptive_field(model: ImageModel, row: int, col: int, n_layers: int | None = None) -> np.ndarray:
    """(H, W) bool: the input pixels that influence the prediction at (row, col), measured by gradient.

    Differentiates the output at (row, col) - the logit, or with ``n_layers`` the features after
    that many masked layers, summed over channels - with respect to two random inputs and marks
    every pixel whose gradient is non-zero for any of them. A mask zero gives an exact zero, so the
    set is structural; random inputs keep a ReLU that happens to be off from hiding a pixel.
    """
    S = model.image_size
    _check_position(S, row, col)
    n = model.n_layers if n_layers is None else _check_layers(n_layers, model.n_layers)
    x = torch.rand(2, 1, S, S, generator=torch.Generator().manual_seed(0)).requires_grad_(True)  # (2, 1, H, W)
    with torch.enable_grad():
        if n == model.n_layers:
            out = model.net(x)[:, 0, row, col]  # (2,) logits
        else:
            out = model.net.features(x, n)[:, :, row, col]  # (2, C)
        (grad,) = torch.autograd.grad(out.sum(), x)  # (2, 1, H, W)
    return (grad.abs().sum(dim=(0, 1)) > 0).numpy()


def _offsets(mask: torch.Tensor) -> list[tuple[int, int]]:
    """(dy, dx) of every allowed tap of a kernel mask, relative to its centre."""
    kh, kw = mask.shape
    return [(i - kh // 2, j - kw // 2) for i, j in torch.nonzero(mask).tolist()]


def _dilate(need: np.ndarray, offsets: list[tuple[int, int]]) -> np.ndarray:
    """(H, W) bool of every in-image position that a needed position reads through ``offsets``.

    Zero padding is a constant, not a pixel: reads that fall outside the image are dropped.
    """
    H, W = need.shape
    out = np.zeros_like(need)
    for dy, dx in offsets:
        src = need[max(0, -dy) : H - max(0, dy), max(0, -dx) : W - max(0, dx)]
        out[max(0, dy) : H - max(0, -dy), max(0, dx) : W - max(0, -dx)] |= src
    return out


def analytic_receptive_field(
    kind: str, n_layers: int, row: int, col: int, size: int = 28, first_kernel: int = 7, kernel_size: int = 3
) -> np.ndarray:
    """(size, size) bool: the receptive field of pixel (row, col) after ``n_layers`` masked layers,
    from the mask geometry alone - no weights.

    Walks from the output back to the input: each layer replaces the set of positions it must
    know by every position its allowed kernel taps read. The plain PixelCNN stacks mask-B
    kernels; the gated one has a horizontal stack (own row, to the left) that also reads the
    vertical stack (rows above) at the same position.
    """
    if kind not in KINDS:
        raise ModelNotFoundError(kind, list(KINDS))
    _check_position(size, row, col)
    n = _check_layers(n_layers, 64)
    need = np.zeros((size, size), dtype=bool)
    need[row, col] = True
    if kind == "pixelcnn":
        for _ in range(n - 1):
            need = _dilate(need, _offsets(pixelcnn_mask("B", kernel_size)))  # the centre tap is the residual too
        return _dilate(need, _offsets(pixelcnn_mask("A", first_kernel)))
    need_h, need_v = need, np.zeros_like(need)
    for _ in range(n - 1):
        need_h, need_v = (
            _dilate(need_h, _offsets(horizontal_mask("B", kernel_size))),
            _dilate(need_v | need_h, _offsets(vertical_mask("B", kernel_size))),
        )
    return _dilate(need_h, _offsets(horizontal_mask("A", first_kernel))) | _dilate(
        need_v, _offsets(vertical_mask("A", first_kernel))
    )


def model_analytic_receptive_field(model: ImageModel, n_layers: int, row: int, col: int) -> np.ndarray:
    """``analytic_receptive_field`` with the kernel sizes of ``model`` (its weights are not read)."""
    cfg = model.net.config
    return analytic_receptive_field(model.kind, n_layers, row, col, cfg.image_size, cfg.first_kernel, cfg.kernel_size)


def growth(fields: list[np.ndarray]) -> np.ndarray:
    """(H, W) int: for receptive fields after 1, 2, ... layers, the first layer count that reaches
    each pixel (0 = never reached)."""
    out = np.zeros(fields[0].shape, dtype=int)
    for k, rf in enumerate(fields, start=1):
        out[(out == 0) & rf] = k
    return out


def before_mask(size: int, row: int, col: int) -> np.ndarray:
    """(size, size) bool: the pixels strictly before (row, col) in raster order."""
    index = np.arange(size * size).reshape(size, size)
    return index < row * size + col


def blind_spot(rf: np.ndarray, row: int, col: int) -> np.ndarray:
    """(H, W) bool: pixels before (row, col) that the receptive field ``rf`` misses although it
    reaches higher up in the same column - the holes a causal model should not have."""
    covered_above = np.zeros_like(rf)
    covered_above[1:] = np.logical_or.accumulate(rf, axis=0)[:-1]  # some rf pixel higher in this column
    return before_mask(rf.shape[0], row, col) & ~rf & covered_above


# ---------------------------------------------------------------------------------------------
# Exact likelihood


@dataclass(frozen=True)
class ImageNLL:
    image: np.ndarray  # (H, W) uint8, the scored pixels
    p_one: np.ndarray  # (H, W) float64 p(x_ij = 1 | every pixel before ij)
    nll_map: np.ndarray  # (H, W) float64 -log p(x_ij | pixels before) in nats

    @property
    def nll(self) -> float:
        """-log p(image) in nats: the sum of the per-pixel terms of the chain rule."""
        return math.fsum(self.nll_map.ravel().tolist())

    @property
    def bits(self) -> float:
        return self.nll / math.log(2)

    @property
    def bits_per_dim(self) -> float:
        return self.bits / self.image.size


def pixel_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log Bernoulli(x | sigmoid(logits)) elementwise in float64: softplus(-l) for 1, softplus(l) for 0."""
    logits = logits.double()
    return torch.where(x > 0.5, F.softplus(-logits), F.softplus(logits))


@torch.no_grad()
def image_nll(model: ImageModel, image, label: int | None = None) -> ImageNLL:
    """The exact negative log-likelihood of a binarized image, pixel by pixel, from one forward pass."""
    arr = validate_image(image, model.image_size)
    lab = label_tensor(model, label)
    x = torch.from_numpy(arr).float()[None, None]  # (1, 1, H, W)
    logits = model.net(x, lab)[0, 0]  # (H, W)
    return ImageNLL(
        image=arr,
        p_one=torch.sigmoid(logits.double()).numpy(),
        nll_map=pixel_nll(logits, x[0, 0]).numpy(),
    )


@torch.no_grad()
def nll_per_image(net: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 100):
    """(N,) float64 NLL in nats of each (N, H, W) 0/1 image; labels (N,) or None (unconditional)."""
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size, None].float()  # (b, 1, H, W)
        lab = None if labels is None else labels[i : i + batch_size]
        out.append(pixel_nll(net(x, lab)[:, 0], x[:, 0]).sum(dim=(1, 2)))  # (b,)
    return torch.cat(out)


# ---------------------------------------------------------------------------------------------
# Sampling, one pixel at a time


@dataclass(frozen=True)
class PixelStep:
    canvas: np.ndarray  # (n, H, W) uint8: the pixels drawn so far, this one included; later ones 0
    row: int
    col: int
    prob: np.ndarray  # (n,) float64 p(pixel = 1) it was drawn with (after temperature)
    raw_prob: np.ndarray  # (n,) float64 p(pixel = 1 | pixels before) at temperature 1
    value: np.ndarray  # (n,) uint8 the drawn pixel of each image

    @property
    def index(self) -> int:
        """Position in raster order, 0 .. H*W - 1."""
        return self.row * self.canvas.shape[-1] + self.col


@dataclass(frozen=True)
class SampleResult:
    images: np.ndarray  # (n, H, W) uint8
    probs: np.ndarray  # (n, H, W) float64 p(pixel = 1) each pixel was drawn with (after temperature)
    raw_probs: np.ndarray  # (n, H, W) float64 p(pixel = 1 | pixels before) at temperature 1
    elapsed_s: float
    method: str


def validate_sampling(model: ImageModel, n, seed, temperature, label, method: str) -> None:
    """InputError, in words, for any sampling setting outside the allowed ranges."""
    if method not in ("fast", "naive"):
        raise InputError(f"The sampling method must be 'fast' or 'naive', got {method!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InputError(f"The seed must be a whole number from 0 to 2**63 - 1, got {seed!r}.")
    label_tensor(model, label)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SAMPLES:
        raise InputError(f"The number of images must be a whole number from 1 to {MAX_SAMPLES}, got {n!r}.")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or not 0 <= temperature <= MAX_TEMPERATURE
    ):
        raise InputError(
            f"The temperature must be a number from 0 to {MAX_TEMPERATURE:g} (0 means always the likelier value), "
            f"got {temperature!r}."
        )


@torch.no_grad()
def _draw(model: ImageModel, n: int, seed: int, temperature: float, label, method: str):
    """Yield (row, col, raw p, tempered p, values, canvas) for every pixel in raster order.

    ``method="fast"`` computes each pixel from the model's activation cache (one forward pass in
    total); ``"naive"`` reruns the whole network on the canvas for every pixel. Both draw the
    uniform numbers in the same order from one generator, so they give the same images. The
    public callers (``sample_images``, ``draw_samples``) have validated the settings.
    """
    lab = label_tensor(model, label)
    lab = None if lab is None else lab.expand(n)  # (n,)
    S = model.image_size
    generator = torch.Generator().manual_seed(seed)
    canvas = torch.zeros(n, 1, S, S)  # (n, 1, H, W)
    cache = model.net.new_cache(n, lab) if method == "fast" else None
    for row in range(S):
        for col in range(S):
            if cache is not None:
                logits = model.net.logits_at(cache, row, col)  # (n,)
            else:
                logits = model.net(canvas, lab)[:, 0, row, col]  # (n,)
            logits = logits.double()
            raw = torch.sigmoid(logits)
            if temperature == 0:
                p = (logits > 0).double()  # the likelier value, no randomness
                values = p
            else:
                p = torch.sigmoid(logits / temperature)
                values = (torch.rand(n, generator=generator, dtype=torch.float64) < p).double()
            canvas[:, 0, row, col] = values.float()
            if cache is not None:
                model.net.set_pixel(cache, row, col, values.float())
            yield row, col, raw, p, values, canvas


def sample_images(
    model: ImageModel,
    n: int,
    seed: int,
    temperature: float = 1.0,
    label: int | None = None,
    method: str = "fast",
) -> Iterator[PixelStep]:
    """Yield one PixelStep per pixel, in raster order, for ``n`` images drawn together.

    Randomness comes only from a ``torch.Generator`` seeded with ``seed``: the same arguments
    give the same images with either method, whatever other sessions do meanwhile. Bad settings
    raise InputError here, before the first step.
    """
    validate_sampling(model, n, seed, temperature, label, method)
    return _steps(model, n, seed, temperature, label, method)


def _steps(model: ImageModel, n: int, seed: int, temperature: float, label, method: str) -> Iterator[PixelStep]:
    for row, col, raw, p, values, canvas in _draw(model, n, seed, temperature, label, method):
        yield PixelStep(
            canvas=canvas[:, 0].numpy().astype(np.uint8),
            row=row,
            col=col,
            prob=p.numpy().copy(),
            raw_prob=raw.numpy().copy(),
            value=values.numpy().astype(np.uint8),
        )


def draw_samples(
    model: ImageModel,
    n: int,
    seed: int,
    temperature: float = 1.0,
    label: int | None = None,
    method: str = "fast",
) -> SampleResult:
    """Draw ``n`` whole images at once and time it; the same images as ``sample_images``."""
    validate_sampling(model, n, seed, temperature, label, method)
    S = model.image_size
    probs, raw_probs = np.zeros((n, S, S)), np.zeros((n, S, S))
    t0 = time.perf_counter()
    images = np.zeros((n, S, S), dtype=np.uint8)
    for row, col, raw, p, values, _ in _draw(model, n, seed, temperature, label, method):
        probs[:, row, col] = p.numpy()
        raw_probs[:, row, col] = raw.numpy()
        images[:, row, col] = values.numpy()
    elapsed = time.perf_counter() - t0
    return SampleResult(images, probs, raw_probs, elapsed, method)


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
    convert to grey, invert if the background is light, resize with area averaging and
    binarize at half intensity. Every failure is an InputError that says what is allowed.
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
    small = np.asarray(grey.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)  # (28, 28)
    return ProcessedUpload(
        grey=small,
        image=(small >= 128).astype(np.uint8),
        original_size=(width, height),
        inverted=inverted,
        format=fmt,
    )


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
