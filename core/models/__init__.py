"""The networks, one family per file, each read like nanoGPT's ``model.py``.

Every model here is a plain ``nn.Module``: it knows nothing of lessons, pages or sessions, and
stores nothing per request. ``build(kind, config)`` turns a checkpoint card's ``kind`` and
``config`` into a network; ``MODEL_KINDS`` says which kinds models text and which images.
"""

from __future__ import annotations

import torch.nn as nn

from core.models.bigram import BigramConfig, BigramLM
from core.models.gated_pixelcnn import GatedPixelCNN, GatedPixelCNNConfig
from core.models.gru import GRULM, GRUConfig
from core.models.llama import Llama, LlamaConfig
from core.models.mlp import MLPLM, MLPConfig
from core.models.pixelcnn import PixelCNN, PixelCNNConfig
from core.models.transformer import GPT, GPTConfig
from core.models.wavenet import WaveNetConfig, WaveNetLM

# kind (as written in a card) -> (modality, config class, network class)
MODEL_KINDS: dict[str, tuple[str, type, type[nn.Module]]] = {
    "transformer": ("text", GPTConfig, GPT),
    "bigram": ("text", BigramConfig, BigramLM),
    "mlp": ("text", MLPConfig, MLPLM),  # Bengio et al. (2003): a fixed window of previous characters
    "gru": ("text", GRUConfig, GRULM),  # a recurrent network: one fixed-size state carries the prefix
    "wavenet": ("text", WaveNetConfig, WaveNetLM),  # dilated causal 1-D convolutions
    "llama": ("text", LlamaConfig, Llama),  # SmolLM2, read from its GGUF file (core.text.gguf_llm), never trained here
    "pixelcnn": ("image", PixelCNNConfig, PixelCNN),
    "gated-pixelcnn": ("image", GatedPixelCNNConfig, GatedPixelCNN),
}


def build(kind: str, config: dict, modality: str | None = None) -> nn.Module:
    """A freshly initialised network of ``kind`` from a card's config dict (ValueError if unknown).

    ``modality`` ("text" or "image"), when given, also rejects a known kind of the other modality.
    """
    if kind not in MODEL_KINDS or (modality is not None and MODEL_KINDS[kind][0] != modality):
        raise ValueError(f"unknown {modality + ' ' if modality else ''}model kind {kind!r}")
    _, config_class, net_class = MODEL_KINDS[kind]
    return net_class(config_class.from_dict(config))


def kind_of(config) -> str:
    """The card's ``kind`` for a config object (the inverse of MODEL_KINDS' config column)."""
    return next(kind for kind, (_, config_class, _) in MODEL_KINDS.items() if type(config) is config_class)
