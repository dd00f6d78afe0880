"""Fast PixelCNN sampling: every activation computed exactly once, from a cache owned by one run.

Sampling draws the 784 pixels one at a time in raster order. The naive sampler reruns the whole
network on the canvas for every pixel: 784 forward passes. But once every pixel before
(row, col) is fixed, every activation at (row, col) is final - the masks never let it read
anything later - so each layer can be computed at that one position and kept. The whole image
then costs about one forward pass. It is the image counterpart of a transformer's KV cache, and
like nanochat's ``engine.py`` beside its ``gpt.py`` it lives beside the networks, not in them:
core/models/pixelcnn.py and gated_pixelcnn.py know nothing of this file.

    cache = new_cache(net, batch, label)
    for row, col in raster order:
        logits = cache.logits_at(row, col)    # (B,) logits of the next pixel
        cache.set_pixel(row, col, values)     # the (B,) values drawn from them

Each cache keeps, per layer, that layer's input with its zero padding already in place
(top, left and right; no row below is ever read), filled in as the pixels are drawn.
A unit test checks that the cache reproduces one ordinary forward pass at all 784 pixels and
that the fast and the naive sampler draw the same images.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from core.models.gated_pixelcnn import GatedPixelCNN, gate
from core.models.pixelcnn import MaskedConv2d, PixelCNN


class CroppedKernel:
    """One masked convolution as the fast path applies it, at one position or along one row.

    The rows below the centre are masked in every kernel, and a 1 x k horizontal kernel also
    masks the columns right of its centre, so the kernel is cropped to the rows up to the centre
    and the columns up to the last one a mask keeps: (out, in, kh//2 + 1, n_cols).
    """

    def __init__(self, conv: MaskedConv2d):
        mask = conv.mask[0, 0]  # (kh, kw)
        kh, kw = mask.shape
        used = int(torch.nonzero(mask.any(dim=0)).max()) if mask.any() else 0  # last column with a kept tap
        self.n_rows, self.n_cols = kh // 2 + 1, max(kw // 2, used) + 1
        self.weight = (conv.weight * conv.mask)[:, :, : self.n_rows, : self.n_cols]  # (out, in, rows, cols)
        self.flat = self.weight.reshape(self.weight.shape[0], -1)  # (out, in * rows * cols)
        self.bias = conv.bias

    def at(self, padded: torch.Tensor, row: int, col: int, activation=None) -> torch.Tensor:
        """(B, in, H + pad, W + 2 pad) padded input -> (B, out): the output at (row, col) only.

        ``activation`` (e.g. ReLU) is applied to the input patch first; it must map the padding 0 to 0.
        """
        patch = padded[:, :, row : row + self.n_rows, col : col + self.n_cols]  # (B, in, rows, cols)
        if activation is not None:
            patch = activation(patch)
        return F.linear(patch.reshape(patch.shape[0], -1), self.flat, self.bias)  # (B, out)

    def row(self, padded: torch.Tensor, row: int, width: int) -> torch.Tensor:
        """(B, in, H + pad, W + 2 pad) padded input -> (B, out, W): the outputs along one whole row."""
        band = padded[:, :, row : row + self.n_rows]  # (B, in, rows, W + 2 pad)
        return F.conv2d(band, self.weight, self.bias)[:, :, 0, :width]  # (B, out, W)


def output_head(net: PixelCNN | GatedPixelCNN, h: torch.Tensor) -> torch.Tensor:
    """The two 1x1 output layers at one position: (B, C) features -> (B,) logits."""
    h = F.linear(F.relu(h), net.out1.weight[:, :, 0, 0], net.out1.bias)  # (B, C)
    return F.linear(F.relu(h), net.out2.weight[:, :, 0, 0], net.out2.bias)[:, 0]  # (B,)


class PixelCache:
    """The plain PixelCNN's activations for the pixels drawn so far.

    ``image`` is the input as the mask-A kernel reads it, (B, 1, H + a, W + 2a); ``hidden[l]`` the
    input of mask-B layer l + 1 (the output of layer l), (B, C, H + b, W + 2b).
    """

    def __init__(self, net: PixelCNN, batch: int, label: torch.Tensor | None = None):
        if label is not None:
            raise ValueError("the plain PixelCNN is unconditional: it takes no label")
        cfg = net.config
        s, C = cfg.image_size, cfg.n_embd
        self.net = net
        self.a, self.b = cfg.first_kernel // 2, cfg.kernel_size // 2  # padding of the 7x7 and 3x3 kernels
        self.image = torch.zeros(batch, 1, s + self.a, s + 2 * self.a)
        self.hidden = [torch.zeros(batch, C, s + self.b, s + 2 * self.b) for _ in range(cfg.n_layer)]
        self.kernels = [CroppedKernel(conv) for conv in net.masked_layers()]  # cropped once per run

    def logits_at(self, row: int, col: int) -> torch.Tensor:
        """(B,) logits of pixel (row, col); every earlier pixel must already be set."""
        first, *rest = self.kernels
        b = self.b
        h = first.at(self.image, row, col)  # (B, C)
        self.hidden[0][:, :, row + b, col + b] = h
        for i, kernel in enumerate(rest):
            h = h + kernel.at(self.hidden[i], row, col, F.relu)  # residual mask-B layer, (B, C)
            self.hidden[i + 1][:, :, row + b, col + b] = h
        return output_head(self.net, h)

    def set_pixel(self, row: int, col: int, values: torch.Tensor) -> None:
        """Write the drawn (B,) pixel values."""
        self.image[:, 0, row + self.a, col + self.a] = values


class GatedCache:
    """The gated PixelCNN's activations: the vertical stack row by row, the horizontal one pixel by pixel.

    The vertical stack at (row, col) reads only the rows above, so at the start of a row it is
    computed for the whole row at once. ``v[l]`` / ``h[l]`` are the outputs of layer l, padded
    for the kernels that read them: (B, C, H + b, W + 2b) and (B, C, H, W + 2b). ``v_to_h[l]``
    holds, for the current row, what the vertical stack passes to the horizontal one in gated
    layer l, label bias included: (B, 2C, W).
    """

    def __init__(self, net: GatedPixelCNN, batch: int, label: torch.Tensor | None = None):
        cfg = net.config
        s, C = cfg.image_size, cfg.n_embd
        self.net = net
        self.label = net.label_ids(label, batch)  # (B,) long
        self.a, self.b = cfg.first_kernel // 2, cfg.kernel_size // 2
        self.image_v = torch.zeros(batch, 1, s + self.a, s + 2 * self.a)  # as the 7x7 vertical kernel reads it
        self.image_h = torch.zeros(batch, 1, s, s + 2 * self.a)  # as the 1x7 horizontal kernel reads it
        self.v = [torch.zeros(batch, C, s + self.b, s + 2 * self.b) for _ in range(cfg.n_layer)]
        self.h = [torch.zeros(batch, C, s, s + 2 * self.b) for _ in range(cfg.n_layer)]
        self.v_to_h: list[torch.Tensor | None] = [None] * cfg.n_layer
        self.v_kernels = [CroppedKernel(net.v_in)] + [CroppedKernel(layer.v_conv) for layer in net.layers]
        self.h_kernels = [CroppedKernel(net.h_in)] + [CroppedKernel(layer.h_conv) for layer in net.layers]

    def _vertical_row(self, row: int) -> None:
        """The vertical stack over the whole of ``row``: it reads only the rows above, all final."""
        b, W = self.b, self.net.config.image_size
        v = self.v_kernels[0].row(self.image_v, row, W)  # (B, C, W)
        self.v[0][:, :, row + b, b : b + W] = v
        for i, layer in enumerate(self.net.layers):
            v_feat = self.v_kernels[i + 1].row(self.v[i], row, W)  # (B, 2C, W)
            self.v_to_h[i + 1] = layer.v_to_h(v_feat[..., None])[..., 0] + layer.label_h(self.label)[:, :, None]
            v = gate(v_feat + layer.label_v(self.label)[:, :, None])  # (B, C, W)
            self.v[i + 1][:, :, row + b, b : b + W] = v

    def logits_at(self, row: int, col: int) -> torch.Tensor:
        """(B,) logits of pixel (row, col); every earlier pixel must already be set."""
        b = self.b
        if col == 0:
            self._vertical_row(row)
        h = self.h_kernels[0].at(self.image_h, row, col)  # (B, C)
        self.h[0][:, :, row, col + b] = h
        for i, layer in enumerate(self.net.layers):
            h_feat = self.h_kernels[i + 1].at(self.h[i], row, col) + self.v_to_h[i + 1][:, :, col]  # (B, 2C)
            h = h + F.linear(gate(h_feat), layer.h_out.weight[:, :, 0, 0], layer.h_out.bias)  # residual, (B, C)
            self.h[i + 1][:, :, row, col + b] = h
        return output_head(self.net, h)

    def set_pixel(self, row: int, col: int, values: torch.Tensor) -> None:
        """Write the drawn (B,) pixel values into both views of the input."""
        self.image_v[:, 0, row + self.a, col + self.a] = values
        self.image_h[:, 0, row, col + self.a] = values


CACHES = {PixelCNN.kind: PixelCache, GatedPixelCNN.kind: GatedCache}  # network kind -> its cache


def new_cache(net: PixelCNN | GatedPixelCNN, batch: int, label: torch.Tensor | None = None) -> PixelCache | GatedCache:
    """An empty cache for drawing ``batch`` images with ``net``; ``label`` (B,) or None (no label)."""
    return CACHES[net.kind](net, batch, label)
