"""PixelCNN networks (core.models.pixelcnn, gated_pixelcnn): masks drawn by hand, causality by perturbing the
future, receptive fields derived from the masks against gradients on the shipped weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.lessons.receptive_field import (
    analytic_receptive_field,
    before_mask,
    blind_spot,
    growth,
    model_analytic_receptive_field,
    receptive_field,
)
from core.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig, horizontal_mask, vertical_mask
from core.models.pixelcnn import MaskedConv2d, pixelcnn_mask
from tests.unit.pixel_models import NAMES

# ---------------------------------------------------------------------------------------------
# Masks


def test_masks_match_the_hand_drawn_kernels():
    assert pixelcnn_mask("A", 3).tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert pixelcnn_mask("B", 3).tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    a7 = pixelcnn_mask("A", 7)
    assert a7[:3].all() and a7[3, :3].all() and not a7[3, 3:].any() and not a7[4:].any()
    assert int(a7.sum()) == 24  # 21 above + 3 to the left
    assert vertical_mask("A", 3).tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]
    assert vertical_mask("B", 3).tolist() == [[1, 1, 1], [1, 1, 1], [0, 0, 0]]
    assert horizontal_mask("A", 3).tolist() == [[1, 0, 0]]
    assert horizontal_mask("B", 3).tolist() == [[1, 1, 0]]
    with pytest.raises(ValueError):
        pixelcnn_mask("C", 3)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_models_use_the_masks_as_buffers_not_saved(shipped, name):
    net = shipped[name].net
    masked = [m for m in net.modules() if isinstance(m, MaskedConv2d)]
    assert len(masked) == (net.config.n_layer if name == "pixelcnn" else 2 * net.config.n_layer)
    if name == "pixelcnn":
        assert torch.equal(net.conv_a.mask[0, 0], pixelcnn_mask("A", 7))
        assert all(torch.equal(c.mask[0, 0], pixelcnn_mask("B", 3)) for c in net.convs_b)
    else:
        assert torch.equal(net.v_in.mask[0, 0], vertical_mask("A", 7))
        assert torch.equal(net.h_in.mask[0, 0], horizontal_mask("A", 7))
        assert all(torch.equal(layer.v_conv.mask[0, 0], vertical_mask("B", 3)) for layer in net.layers)
        assert all(torch.equal(layer.h_conv.mask[0, 0], horizontal_mask("B", 3)) for layer in net.layers)
    assert not any(k.endswith("mask") for k in net.state_dict())  # geometry, rebuilt, never loaded


def test_masked_conv_is_conv2d_with_the_masked_kernel_and_never_edits_its_weight():
    torch.manual_seed(0)
    conv = MaskedConv2d(3, 5, pixelcnn_mask("B", 5))
    before = conv.weight.detach().clone()
    x = torch.randn(2, 3, 9, 9)
    expected = F.conv2d(x, conv.weight * conv.mask, conv.bias, padding=2)  # full kernel, full padding
    assert torch.allclose(conv(x), expected, atol=1e-5)
    assert torch.equal(conv.weight, before)
    conv(x).sum().backward()
    assert (
        (conv.weight.grad[:, :, 2, 3:] == 0).all()
        and (conv.weight.grad[:, :, 2, 2] != 0).all()
        and (conv.weight.grad[:, :, 3:] == 0).all()
    )


# ---------------------------------------------------------------------------------------------
# Causality and receptive fields


@pytest.mark.parametrize("name", NAMES)
def test_no_prediction_depends_on_its_own_pixel_or_later_ones(shipped, name):
    """Perturb every pixel at and after position i: the logit of pixel i must not move."""
    model = shipped[name]
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(1, 1, 28, 28, generator=g) < 0.3).float()
    for index in [0, 1, 27, 28, 200, 405, 406, 783]:
        r, c = divmod(index, 28)
        future = torch.from_numpy(~before_mask(28, r, c))
        y = x.clone()
        y[0, 0][future] = 1 - y[0, 0][future]  # flip the pixel itself and everything after it
        lab = torch.tensor([3]) if name == "gated-pixelcnn" else None
        with torch.no_grad():
            assert model.net(x, lab)[0, 0, r, c] == model.net(y, lab)[0, 0, r, c]


POSITIONS = [(0, 5), (14, 14), (13, 27), (27, 0)]


@pytest.mark.parametrize("name", NAMES)
def test_analytic_receptive_field_equals_the_gradient_on_shipped_weights(shipped, name):
    model = shipped[name]
    for (row, col), n in itertools.product(POSITIONS, range(1, model.n_layers + 1)):
        measured = receptive_field(model, row, col, n)
        analytic = model_analytic_receptive_field(model, n, row, col)
        assert np.array_equal(measured, analytic), (row, col, n)
        assert not (measured & ~before_mask(28, row, col)).any()  # never the pixel itself or the future
    # the full network (with its 1x1 output layers) reaches exactly as far as its masked layers
    assert np.array_equal(receptive_field(model, 20, 9), analytic_receptive_field(name, model.n_layers, 20, 9))


def test_analytic_field_never_contains_a_future_pixel_anywhere():
    for kind, n in itertools.product(NAMES, [1, 2, 5, 8]):
        for row, col in itertools.product(range(0, 28, 3), range(0, 28, 2)):
            rf = analytic_receptive_field(kind, n, row, col)
            assert not (rf & ~before_mask(28, row, col)).any()
            if (row, col) != (0, 0) and (kind == "pixelcnn" or n >= 2):  # gated layer 1: its row only
                assert rf.any()


def test_first_layer_fields_are_the_masks_themselves():
    rf = analytic_receptive_field("pixelcnn", 1, 10, 10)
    assert np.array_equal(rf[7:11, 7:14], pixelcnn_mask("A", 7)[:4].numpy().astype(bool))
    assert rf.sum() == 24
    rf = analytic_receptive_field("gated-pixelcnn", 1, 10, 10)
    assert rf.sum() == 3 and rf[10, 7:10].all()  # the horizontal stack alone: its row, to the left


def test_blind_spot_present_in_pixelcnn_absent_in_gated(shipped):
    pcnn, gated = shipped["pixelcnn"], shipped["gated-pixelcnn"]
    rf = receptive_field(pcnn, 14, 14)
    blind = blind_spot(rf, 14, 14)
    # The classic wedge: just above the pixel and to the right, beyond the first layer's reach.
    assert blind[13, 18] and not rf[13, 18] and rf[12, 18]
    assert blind.sum() >= pcnn.n_layers - 2
    assert not blind_spot(receptive_field(gated, 14, 14), 14, 14).any()
    # Everywhere, from the masks (equal to the gradient, tested above): never a hole in the gated model.
    for row, col in itertools.product(range(1, 28, 2), range(0, 28, 2)):
        rf_gated = model_analytic_receptive_field(gated, gated.n_layers, row, col)
        assert not blind_spot(rf_gated, row, col).any(), (row, col)
        assert rf_gated[row - 1, col]
        if 4 <= row and 3 <= col <= 20:
            rf_plain = model_analytic_receptive_field(pcnn, pcnn.n_layers, row, col)
            assert blind_spot(rf_plain, row, col)[row - 1, col + 4], (row, col)


def test_growth_records_the_layer_at_which_each_pixel_joins():
    fields = [analytic_receptive_field("pixelcnn", k, 14, 14) for k in (1, 2, 3)]
    g = growth(fields)
    assert np.array_equal(g > 0, fields[-1])
    assert g[13, 14] == 1 and g[10, 14] == 2 and g[9, 14] == 3  # one more row up per layer


def test_vertical_stack_output_never_reads_its_own_row():
    """The caption's claim: the 3x3 vertical kernel keeps its centre row, yet the vertical stack's output
    at (r, c) depends only on rows above r (its features there already see only rows above)."""
    torch.manual_seed(0)
    net = GatedPixelCNN(GatedPixelCNNConfig(n_layer=4, n_embd=8))
    label = net.label_ids(None, 1)
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    v = net.v_in(x)
    for layer in net.layers:
        v, _ = layer(v, torch.zeros_like(v), label)
    r, c = 14, 10
    v[0, :, r, c].sum().backward()
    reads = x.grad[0, 0] != 0  # (28, 28) pixels the output depends on
    assert not reads[r:].any()  # nothing on its own row or below
    assert reads[r - 1, c - 1 : c + 2].all() and reads[:r].sum() > 20  # but whole rows above, left to right
