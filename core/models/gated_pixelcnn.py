"""Gated PixelCNN: two stacks of masked convolutions with no blind spot, conditioned on the digit.

Follows van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves and Kavukcuoglu (2016),
"Conditional Image Generation with PixelCNN Decoders" (NeurIPS), section 2 and figure 2:

* a **vertical stack** whose output at (row, col) depends on every pixel in the rows above
  within its reach - left, straight above and right - but on nothing in its own row;
* a **horizontal stack** that reads only its own row to the left, plus the vertical stack at
  the same position. Together they see everything before the pixel: the plain PixelCNN's blind
  spot (core/models/pixelcnn.py) is gone;
* **gated activations** tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h) in place of ReLU, where
  h is a learned embedding of the digit label 0-9 - or of "no label" (index 10), which training
  uses for a fraction of the images so that the same network is also an unconditional model.

Simplified for a CPU: masked k x k kernels for the vertical stack (the paper uses (k//2+1) x k
kernels and a shift, which is the same function), a residual connection on the horizontal stack
only, no skip connections, and few channels. The first layer uses mask A: the vertical stack
sees only rows strictly above and the horizontal stack only pixels strictly to the left, so no
pixel ever sees itself. The fast sampler (vertical stack once per row, horizontal stack once
per pixel) lives beside the model in core/image/fast_sampling.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ModelConfig, count_parameters
from core.models.pixelcnn import MaskedConv2d


@dataclass
class GatedPixelCNNConfig(ModelConfig):
    image_size: int = 28  # height and width of the (square) images
    n_layer: int = 8  # masked layers: one mask-A input layer, then n_layer - 1 gated layers
    n_embd: int = 64  # channels of each stack
    first_kernel: int = 7  # kernel size of the mask-A input layer
    kernel_size: int = 3  # kernel size of the gated layers
    n_classes: int = 10  # digit labels 0-9; index n_classes is the learned "no label" embedding


def vertical_mask(kind: str, k: int) -> torch.Tensor:
    """(k, k) mask of the vertical stack: rows above the centre (A), or up to and including it (B)."""
    if kind not in ("A", "B"):
        raise ValueError(f"mask kind must be 'A' or 'B', got {kind!r}")
    mask = torch.ones(k, k)
    mask[k // 2 + (kind == "B") :, :] = 0  # the centre row too for mask A, and every row below
    return mask


def horizontal_mask(kind: str, k: int) -> torch.Tensor:
    """(1, k) mask of the horizontal stack: pixels left of the centre (A), or up to and including it (B)."""
    if kind not in ("A", "B"):
        raise ValueError(f"mask kind must be 'A' or 'B', got {kind!r}")
    mask = torch.ones(1, k)
    mask[0, k // 2 + (kind == "B") :] = 0
    return mask


def gate(z: torch.Tensor) -> torch.Tensor:
    """(B, 2C, ...) -> (B, C, ...): tanh of the first half times sigmoid of the second."""
    a, g = z.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One gated layer: (v, h) -> (v', h'); the horizontal stack reads the vertical one, never back."""

    def __init__(self, C: int, k: int, n_labels: int):
        super().__init__()
        self.v_conv = MaskedConv2d(C, 2 * C, vertical_mask("B", k))
        self.h_conv = MaskedConv2d(C, 2 * C, horizontal_mask("B", k))
        self.v_to_h = nn.Conv2d(2 * C, 2 * C, 1)  # vertical features into the horizontal stack
        self.h_out = nn.Conv2d(C, C, 1)
        self.label_v = nn.Embedding(n_labels, 2 * C)  # class-conditional biases of the gates
        self.label_h = nn.Embedding(n_labels, 2 * C)

    def forward(self, v: torch.Tensor, h: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v_feat = self.v_conv(v)  # (B, 2C, H, W)
        h_feat = self.h_conv(h) + self.v_to_h(v_feat)  # (B, 2C, H, W)
        v = gate(v_feat + self.label_v(label)[:, :, None, None])  # (B, C, H, W)
        h = h + self.h_out(gate(h_feat + self.label_h(label)[:, :, None, None]))  # residual, (B, C, H, W)
        return v, h


class GatedPixelCNN(nn.Module):
    """(B, 1, H, W) pixels in {0, 1} and (B,) labels -> (B, 1, H, W) Bernoulli logits."""

    kind = "gated-pixelcnn"
    conditional = True  # p(x | digit), and p(x) with the "no label" embedding

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__()
        self.config = config
        C, k = config.n_embd, config.kernel_size
        self.v_in = MaskedConv2d(1, C, vertical_mask("A", config.first_kernel))
        self.h_in = MaskedConv2d(1, C, horizontal_mask("A", config.first_kernel))
        self.layers = nn.ModuleList(GatedLayer(C, k, config.n_classes + 1) for _ in range(config.n_layer - 1))
        self.out1 = nn.Conv2d(C, C, 1)
        self.out2 = nn.Conv2d(C, 1, 1)

    @property
    def null_label(self) -> int:
        """The label index that means "no label": the unconditional model."""
        return self.config.n_classes

    def num_params(self) -> int:
        return count_parameters(self)

    def label_ids(self, label: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B,) long label indices; None means the "no label" index for every image."""
        if label is None:
            return torch.full((batch,), self.null_label, dtype=torch.long)
        return label.to(torch.long).expand(batch)

    def features(self, x: torch.Tensor, n_layers: int | None = None, label: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) -> (B, C, H, W) horizontal stack after the first ``n_layers`` layers."""
        n = self.config.n_layer if n_layers is None else n_layers
        label = self.label_ids(label, x.shape[0])
        v, h = self.v_in(x), self.h_in(x)  # (B, C, H, W) each
        for layer in self.layers[: n - 1]:
            v, h = layer(v, h, label)
        return h

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) pixels and (B,) labels (None = unconditional) -> (B, 1, H, W) logits."""
        h = self.features(x, label=label)
        return self.out2(F.relu(self.out1(F.relu(h))))  # (B, 1, H, W)
