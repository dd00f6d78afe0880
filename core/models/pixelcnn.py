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
no path reaches (core/models/gated_pixelcnn.py removes it).

``forward`` returns the logits of every pixel at once (training, likelihood, naive sampling).
The fast sampler, which computes each activation once while the pixels are drawn, lives beside
the model in core/image/fast_sampling.py. Nothing per request is stored on the module.
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> (B, out, H, W), zero padding so that the output stays centred on each pixel."""
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Masked-convolution network: (B, 1, H, W) pixels in {0, 1} -> (B, 1, H, W) Bernoulli logits."""

    kind = "pixelcnn"
    conditional = False  # p(x) only: no digit label

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
