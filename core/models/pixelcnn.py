"""PixelCNN: the chain rule over the pixels of an image, with causality enforced by masked convolutions.

Follows van den Oord, Kalchbrenner and Kavukcuoglu (2016), "Pixel Recurrent Neural Networks"
(ICML), section 3.5 and figure 4: the pixels of a binarized 28x28 digit are read in raster
order (row by row, left to right) and

    p(x) = prod_i p(x_i | x_1 .. x_{i-1}),   each factor a Bernoulli whose logit the network outputs.

Causality comes from masks on the convolution kernels. The first layer (7x7, mask A) sees only
the pixels above and to the left of the centre, never the centre itself - that pixel is what
the layer predicts. Later layers (3x3, mask B) may also read the centre, which by then holds
features computed from pixels strictly before it. Simplified for a CPU: one colour channel (so
no channel masking), residual mask-B layers without the paper's 1x1 bottlenecks, and few
channels. Stacking 3x3 mask-B layers leaves the "blind spot": pixels above and to the right that
no path reaches (core/gated_pixelcnn.py removes it).

``forward`` returns the logits of every pixel at once (training, likelihood); ``logits_at`` computes
the single pixel that sampling needs next from a ``PixelCache`` owned by the caller, so sampling
costs one forward pass in total instead of one per pixel. Nothing per request is stored on the module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from core.models.config import ModelConfig, count_parameters


@dataclass
class PixelCNNConfig(ModelConfig):
    image_size: int = 28  # height and width of the (square) images
    n_layer: int = 8  # masked convolutions: one mask-A layer, then n_layer - 1 mask-B layers
    n_embd: int = 64  # channels of every hidden layer
    first_kernel: int = 7  # kernel size of the mask-A layer
    kernel_size: int = 3  # kernel size of the mask-B layers


def pixelcnn_mask(kind: str, k: int) -> torch.Tensor:
    """(k, k) 0/1 mask of a PixelCNN kernel: 1 where the centre pixel may read its neighbour.

    Rows above the centre are allowed; on the centre row only the pixels to the left (mask A) or
    to the left and the centre itself (mask B); nothing below.
    """
    if kind not in ("A", "B"):
        raise ValueError(f"mask kind must be 'A' or 'B', got {kind!r}")
    mask = torch.ones(k, k)
    mask[k // 2, k // 2 + (kind == "B") :] = 0  # the centre (mask A) and everything right of it
    mask[k // 2 + 1 :, :] = 0  # every row below the centre
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed 0/1 mask on every call.

    The mask is a buffer built once (not saved: it follows from the geometry); the weight itself
    is never modified, so masked-out weights simply receive zero gradient.
    """

    def __init__(self, in_channels: int, out_channels: int, mask: torch.Tensor):
        kh, kw = mask.shape
        if mask[kh // 2 + 1 :].any():
            raise ValueError("a causal mask must block every row below the centre")
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask[None, None].clone(), persistent=False)  # (1, 1, kh, kw)
        # Columns right of the centre that are masked in every row (the 1 x k horizontal kernels).
        used = torch.nonzero(mask.any(dim=0)).max().item() if mask.any() else 0
        self.n_cols = max(kw // 2, used) + 1

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask  # (out, in, kh, kw)

    def kernel(self) -> torch.Tensor:
        """(out, in, kh//2+1, n_cols): the masked kernel without its all-zero rows and right columns."""
        kh = self.mask.shape[-2]
        return self.masked_weight()[:, :, : kh // 2 + 1, : self.n_cols]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> (B, out, H, W), zero padding: the same as conv2d with the masked kernel.

        The rows below the centre (and, for a 1 x k kernel, the columns right of it) are all
        masked, so they are dropped from the kernel with their padding: the same function at
        about 2/3 of the cost of a 3x3 kernel.
        """
        kh, kw = self.mask.shape[-2:]
        x = F.pad(x, (kw // 2, self.n_cols - 1 - kw // 2, kh // 2, 0))  # (B, in, H + kh//2, W + n_cols - 1)
        return F.conv2d(x, self.kernel(), self.bias)

    def flat_weight(self) -> torch.Tensor:
        """(out, in * (kh//2+1) * n_cols): ``kernel()`` with one row per output channel."""
        return self.kernel().reshape(self.out_channels, -1)

    def at(self, padded: torch.Tensor, row: int, col: int, flat_weight: torch.Tensor, activation=None) -> torch.Tensor:
        """The output at one position (row, col) from ``padded`` input: (B, in, H+pad, W+2pad) -> (B, out).

        ``padded`` is the input with this layer's zero padding already added on the top, left and
        right; rows below the centre are masked out, so only the rows up to ``row`` are read.
        ``flat_weight`` is ``self.flat_weight()``, computed once per sampling run by the caller.
        ``activation`` (e.g. ReLU) is applied to the patch first; it must map the padding 0 to 0.
        """
        kh = self.mask.shape[-2]
        patch = padded[:, :, row : row + kh // 2 + 1, col : col + self.n_cols]  # (B, in, kh//2+1, n_cols)
        if activation is not None:
            patch = activation(patch)
        return F.linear(patch.reshape(patch.shape[0], -1), flat_weight, self.bias)  # (B, out)

    def row(self, padded: torch.Tensor, row: int, width: int) -> torch.Tensor:
        """The outputs along one whole row of ``width`` pixels from ``padded`` input (as in ``at``): (B, out, W)."""
        kh = self.mask.shape[-2]
        band = padded[:, :, row : row + kh // 2 + 1]  # (B, in, kh//2+1, W+2pad)
        return F.conv2d(band, self.kernel(), self.bias)[:, :, 0, :width]  # (B, out, W)


class PixelCache:
    """Activations of every layer for the pixels computed so far, owned by one sampling run.

    ``padded[l]`` is the input of masked layer l with that layer's zero padding already added,
    shape (B, C, H + k//2, W + 2*(k//2)); entries are filled in raster order as pixels are drawn.
    """

    def __init__(self, net: PixelCNN, batch: int):
        cfg = net.config
        s, a, b = cfg.image_size, cfg.first_kernel // 2, cfg.kernel_size // 2
        self.image = torch.zeros(batch, 1, s + a, s + 2 * a)  # (B, 1, H+a, W+2a) input pixels
        self.hidden = [torch.zeros(batch, cfg.n_embd, s + b, s + 2 * b) for _ in range(cfg.n_layer)]  # (B, C, ...)
        self.weights = [conv.flat_weight() for conv in net.masked_layers()]  # masked kernels, flattened once


class PixelCNN(nn.Module):
    """Masked-convolution network: (B, 1, H, W) pixels in {0, 1} -> (B, 1, H, W) Bernoulli logits."""

    kind = "pixelcnn"

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.conv_a = MaskedConv2d(1, C, pixelcnn_mask("A", config.first_kernel))
        self.convs_b = nn.ModuleList(
            MaskedConv2d(C, C, pixelcnn_mask("B", config.kernel_size)) for _ in range(config.n_layer - 1)
        )
        self.out1 = nn.Conv2d(C, C, 1)  # 1x1 layers mix channels at one position: no mask needed
        self.out2 = nn.Conv2d(C, 1, 1)

    def num_params(self) -> int:
        return count_parameters(self)

    def masked_layers(self) -> list[MaskedConv2d]:
        return [self.conv_a, *self.convs_b]

    def features(self, x: torch.Tensor, n_layers: int | None = None) -> torch.Tensor:
        """(B, 1, H, W) -> (B, C, H, W) hidden features after the first ``n_layers`` masked layers."""
        n = self.config.n_layer if n_layers is None else n_layers
        h = self.conv_a(x)  # (B, C, H, W)
        for conv in self.convs_b[: n - 1]:
            h = h + conv(F.relu(h))  # residual mask-B layer
        return h

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) pixels -> (B, 1, H, W) logits of p(x_ij = 1 | pixels before ij)."""
        if label is not None:
            raise ValueError("the plain PixelCNN is unconditional: it takes no label")
        h = self.features(x)
        return self.out2(F.relu(self.out1(F.relu(h))))  # (B, 1, H, W)

    def new_cache(self, batch: int, label: torch.Tensor | None = None) -> PixelCache:
        if label is not None:
            raise ValueError("the plain PixelCNN is unconditional: it takes no label")
        return PixelCache(self, batch)

    def logits_at(self, cache: PixelCache, row: int, col: int) -> torch.Tensor:
        """(B,) logits of pixel (row, col), given that every earlier pixel is already in ``cache``.

        Computes each layer at this one position only: with every pixel before (row, col) fixed,
        its activations are final, so each activation is computed once over the whole image.
        Call ``set_pixel`` with the drawn value before asking for the next position.
        """
        b = self.config.kernel_size // 2
        h = self.conv_a.at(cache.image, row, col, cache.weights[0])  # (B, C)
        cache.hidden[0][:, :, row + b, col + b] = h
        for i, conv in enumerate(self.convs_b):
            h = h + conv.at(cache.hidden[i], row, col, cache.weights[i + 1], F.relu)  # (B, C)
            cache.hidden[i + 1][:, :, row + b, col + b] = h
        return self.head_at(h)

    def head_at(self, h: torch.Tensor) -> torch.Tensor:
        """The 1x1 output layers at one position: (B, C) features -> (B,) logits."""
        h = F.linear(F.relu(h), self.out1.weight[:, :, 0, 0], self.out1.bias)  # (B, C)
        return F.linear(F.relu(h), self.out2.weight[:, :, 0, 0], self.out2.bias)[:, 0]  # (B,)

    def set_pixel(self, cache: PixelCache, row: int, col: int, values: torch.Tensor) -> None:
        """Write the drawn (B,) pixel values into the cache."""
        a = self.config.first_kernel // 2
        cache.image[:, 0, row + a, col + a] = values
