"""Held-out NLL of the shipped text models, recomputed from their weights.

The held-out splits ship in ``assets/data`` (the 1,000 held-out names; the last 10% of
tiny-shakespeare), so tests and benchmarks can re-measure every card's number without the
training data.
"""

from __future__ import annotations

import torch

from core.checkpoint import DATA_DIR
from core.text.data import name_examples, text_windows
from core.text.language_model import TextModel, heldout_nll


def heldout_examples(lm: TextModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of the model's held-out split, exactly as training evaluated them."""
    if lm.vocab.eos_id is not None:  # a names model: one padded row per name
        names = (DATA_DIR / "names_heldout.txt").read_text().split()
        return name_examples(names, lm.vocab, 16)
    text = (DATA_DIR / f"{lm.name}_heldout.txt").read_text(encoding="utf-8")
    return text_windows(torch.tensor(lm.vocab.encode(text)), lm.block_size)


def measure_heldout_nll(lm: TextModel) -> float:
    """Mean NLL in nats per token on the held-out split."""
    x, y = heldout_examples(lm)
    return heldout_nll(lm.net, x, y)
