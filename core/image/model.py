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

import math
import time
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
from core.image.fast_sampling import new_cache
from core.image.inputs import validate_image
from core.models import build
from core.validation import check_number, check_seed, check_whole


@dataclass(frozen=True)
class ImageModelInfo:
    title: str  # how the lesson names the model
    description: str  # one line the app shows beside the name


# The shipped image models (name -> what the app says about it); a name is also the card's kind.
IMAGE_MODELS = {
    "pixelcnn": ImageModelInfo(
        "PixelCNN", "PixelCNN: a 7x7 mask-A layer, then 3x3 mask-B layers (it has the blind spot)"
    ),
    "gated-pixelcnn": ImageModelInfo(
        "Gated PixelCNN",
        "Gated PixelCNN: vertical and horizontal stacks, no blind spot, conditioned on the digit",
    ),
}
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
    def title(self) -> str:
        return IMAGE_MODELS[self.name].title if self.name in IMAGE_MODELS else self.name

    @property
    def is_conditional(self) -> bool:
        """True if the network also takes a digit label (None still means no label)."""
        return self.net.conditional


def load_image_model(name: str, models_dir: Path | None = None) -> ImageModel:
    """Load a shipped image model by name. Raises ModelNotFoundError or CheckpointError."""
    if name not in IMAGE_MODELS:
        raise ModelNotFoundError(name, list(IMAGE_MODELS))
    directory = Path(models_dir) if models_dir is not None else default_models_dir(MODELS_DIR)
    tensors, card = load_checkpoint(directory, name)
    path = directory / f"{name}.safetensors"
    try:
        net = build(card["kind"], card["config"], modality="image")
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(directory / f"{name}.json", f"the card does not describe an image model ({e})") from None
    load_state_into(net, tensors, path)
    net.eval()
    net.requires_grad_(False)  # shared across sessions: inference only
    return ImageModel(name=name, net=net, card=card)


# ---------------------------------------------------------------------------------------------
# Checking what a user asks for


def label_tensor(model: ImageModel, label) -> torch.Tensor | None:
    """(1,) long tensor for a digit label 0-9, None for no label; InputError otherwise."""
    if label is None:
        return None
    if not model.is_conditional:
        raise InputError(f"The model {model.name!r} is unconditional: it takes no digit label (use None).")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
        raise InputError(f"The digit label must be a whole number from 0 to 9, or None for no label, got {label!r}.")
    return torch.tensor([int(label)])


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

    def prefix_nll(self, n_pixels: int) -> float:
        """-log p(x_1 .. x_n) in nats: the chain rule's first ``n_pixels`` terms, in raster order."""
        return math.fsum(self.nll_map.ravel()[:n_pixels].tolist())


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


def score_test_set(name: str, label: int | None = None, batch_size: int = 25) -> Iterator[np.ndarray]:
    """The NLLs of the shipped test digits (only those of ``label``, given one) under model ``name``, a batch
    at a time: yields every NLL scored so far, (n,) float64, the last yield holding all of them.

    A background job (core.workers runs it in the jobs worker): it loads what it needs by name, and
    yielding per batch lets a training job share the worker meanwhile.
    """
    from core.image.mnist import load_test_set

    model = load_image_model(name)
    images = torch.from_numpy(load_test_set().of_label(label).images)  # (N, 28, 28) 0/1
    labels = None if label is None else label_tensor(model, label).expand(len(images))
    scored: list[np.ndarray] = []
    for i in range(0, len(images), batch_size):
        batch_labels = None if labels is None else labels[i : i + batch_size]
        scored.append(nll_per_image(model.net, images[i : i + batch_size], batch_labels).numpy())
        yield np.concatenate(scored)


@torch.no_grad()
def mixture_nll_per_image(net: nn.Module, images: torch.Tensor, n_classes: int = 10, batch_size: int = 100):
    """(N,) float64 -log p(x) of a class-conditional model with its label summed out (the sum rule):

        p(x) = sum_d p(d) p(x | d),   p(d) = 1 / n_classes (the training digits: 450 of each),

    computed stably as -logsumexp_d(log p(x | d) - log n_classes). Another unconditional likelihood
    of the same network than its "no label" embedding: it never sees the label either.
    """
    per_class = torch.stack(
        [nll_per_image(net, images, torch.full((len(images),), d), batch_size) for d in range(n_classes)]
    )  # (n_classes, N) -log p(x | d)
    return -(torch.logsumexp(-per_class, dim=0) - math.log(n_classes))


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
    check_seed(seed)
    label_tensor(model, label)
    check_whole(n, "number of images", 1, MAX_SAMPLES)
    check_number(temperature, "temperature", 0, MAX_TEMPERATURE, " (0 means always the likelier value)")


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


@torch.no_grad()
def _steps(model: ImageModel, n: int, seed: int, temperature: float, label, method: str) -> Iterator[PixelStep]:
    """Yield one PixelStep per pixel in raster order.

    ``method="fast"`` computes each pixel from an activation cache (core/image/fast_sampling.py:
    one forward pass in total); ``"naive"`` reruns the whole network on the canvas for every
    pixel. Both draw the uniform numbers in the same order from one generator, so they give the
    same images. The public callers (``sample_images``, ``draw_samples``) have validated the settings.
    """
    lab = label_tensor(model, label)
    lab = None if lab is None else lab.expand(n)  # (n,)
    S = model.image_size
    generator = torch.Generator().manual_seed(seed)
    canvas = torch.zeros(n, 1, S, S)  # (n, 1, H, W)
    cache = new_cache(model.net, n, lab) if method == "fast" else None
    for row in range(S):
        for col in range(S):
            if cache is not None:
                logits = cache.logits_at(row, col)  # (n,)
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
                cache.set_pixel(row, col, values.float())
            yield PixelStep(
                canvas=canvas[:, 0].numpy().astype(np.uint8),  # a copy: later steps do not change it
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
    for step in _steps(model, n, seed, temperature, label, method):
        probs[:, step.row, step.col] = step.prob
        raw_probs[:, step.row, step.col] = step.raw_prob
    elapsed = time.perf_counter() - t0
    return SampleResult(step.canvas, probs, raw_probs, elapsed, method)
