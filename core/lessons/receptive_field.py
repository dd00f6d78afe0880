"""Receptive fields of the PixelCNNs: which input pixels can reach each prediction.

``receptive_field`` measures the set by gradient on a trained model; ``analytic_receptive_field``
derives the same set from the mask geometry alone, layer by layer; ``blind_spot`` finds the earlier
pixels that the plain PixelCNN's stacked masks never reach (van den Oord et al., 2016);
``field_view`` gathers all three for one pixel of one model, as the lesson shows them side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import ModelNotFoundError
from core.image.model import ImageModel
from core.models import MODEL_KINDS
from core.models.gated_pixelcnn import horizontal_mask, vertical_mask
from core.models.pixelcnn import PixelCNN, pixelcnn_mask
from core.validation import check_whole

KINDS = tuple(kind for kind, (modality, _, _) in MODEL_KINDS.items() if modality == "image")


def _check_position(size: int, row, col) -> None:
    check_whole(row, "row", 0, size - 1)
    check_whole(col, "column", 0, size - 1)


def _check_layers(n_layers, max_layers: int) -> int:
    return check_whole(n_layers, "number of layers", 1, max_layers)


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
    if kind == PixelCNN.kind:
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


@dataclass(frozen=True)
class FieldView:
    """Both receptive fields of one pixel after 1 .. n layers: derived from the masks and measured."""

    row: int
    col: int
    analytic: np.ndarray  # (H, W) int growth from the masks: the layer at which each pixel joins, 0 = never
    analytic_blind: np.ndarray  # (H, W) bool blind spot of the analytic field
    measured: np.ndarray  # (H, W) int growth measured by gradient on the trained weights
    measured_blind: np.ndarray  # (H, W) bool blind spot of the measured field
    n_reached: int  # input pixels that reach the prediction after all n layers
    n_blind: int  # earlier pixels in the blind spot
    n_differ: int  # pixels where measured and derived fields disagree: 0 for a correctly masked model


def field_view(model: ImageModel, row: int, col: int, n_layers: int) -> FieldView:
    """Growth and blind spot of pixel (row, col) over the first ``n_layers`` layers of ``model``,
    both from the mask geometry and by gradient on its weights."""
    _check_layers(n_layers, model.n_layers)
    derived = [model_analytic_receptive_field(model, k, row, col) for k in range(1, n_layers + 1)]
    measured = [receptive_field(model, row, col, k) for k in range(1, n_layers + 1)]
    blind = blind_spot(derived[-1], row, col)
    return FieldView(
        row=row,
        col=col,
        analytic=growth(derived),
        analytic_blind=blind,
        measured=growth(measured),
        measured_blind=blind_spot(measured[-1], row, col),
        n_reached=int(derived[-1].sum()),
        n_blind=int(blind.sum()),
        n_differ=int((measured[-1] != derived[-1]).sum()),
    )
