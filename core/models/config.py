"""What every model shares: a typed config that round-trips through a JSON card, and the text models' output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn


class ModelConfig:
    """Mixin for a model's ``@dataclass`` config: ``to_dict`` for the card, ``from_dict`` back.

    JSON has lists, not tuples, so tuple-typed fields (such as ``input_only_ids``) are written as
    lists and turned back into tuples when read; a field missing from an older card takes its
    default.
    """

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        d = dict(d)
        for f in fields(cls):
            if f.name in d and "tuple" in str(f.type):
                d[f.name] = tuple(d[f.name])
        return cls(**d)


def count_parameters(module: nn.Module) -> int:
    """Number of learned parameters (buffers such as masks are not counted)."""
    return sum(p.numel() for p in module.parameters())


@dataclass
class ForwardOutput:
    """What a text model's ``forward_detailed`` returns: every position's logits, and attention on request."""

    logits: torch.Tensor  # (B, T, V)
    attention: list[torch.Tensor] | None  # per layer (B, n_head, T, T_all), if asked for
