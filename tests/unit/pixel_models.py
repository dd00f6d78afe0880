"""What the PixelCNN tests share: the shipped models' targets, the shipped models and test digits (fixtures),
and tiny randomly initialised models of each architecture."""

from __future__ import annotations

import pytest
import torch

from core.image.mnist import load_test_set
from core.image.model import ImageModel, load_image_model
from core.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from core.models.pixelcnn import PixelCNN, PixelCNNConfig

NAMES = ["pixelcnn", "gated-pixelcnn"]
# Issue 13's targets on the 500 shipped test digits, nats per image
TARGETS = {"pixelcnn": 93.0, "gated-pixelcnn": 90.0}
TARGET_GATED_CONDITIONAL = 87.0
GATED_MARGIN = 2.0  # the model without the blind spot must beat the plain one by at least this


@pytest.fixture(scope="session")
def shipped() -> dict[str, ImageModel]:
    return {name: load_image_model(name) for name in NAMES}


@pytest.fixture(scope="session")
def digits():
    return load_test_set()


def tiny(kind: str, size: int = 28, n_layer: int = 4, seed: int = 0) -> ImageModel:
    """A small randomly initialised model: a second, cheap instance of each architecture."""
    torch.manual_seed(seed)
    if kind == "pixelcnn":
        net = PixelCNN(PixelCNNConfig(image_size=size, n_layer=n_layer, n_embd=8))
    else:
        net = GatedPixelCNN(GatedPixelCNNConfig(image_size=size, n_layer=n_layer, n_embd=8))
    with torch.no_grad():  # larger biases than the default init so that images are not all one colour
        for p in net.parameters():
            p.mul_(3.0)
    net.eval().requires_grad_(False)
    return ImageModel(name=f"tiny-{kind}", net=net, card={})
