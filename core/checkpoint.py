"""Self-describing checkpoints: weights in safetensors, and beside them a JSON card.

``<name>.safetensors`` holds the tensors; ``<name>.json`` (the card) holds everything needed
to rebuild and trust them: the kind of model and its config, the vocabulary, the data source,
the exact training command, the seed, the measured metrics, and the SHA-256 of the weights
file so that a truncated or altered file is caught before it is parsed. Nothing is ever loaded
through pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from core.errors import CheckpointError

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"  # shipped weights and held-out data
MODELS_DIR = ASSETS_DIR / "models"
DATA_DIR = ASSETS_DIR / "data"
MODELS_DIR_ENV = "CHAIN_RULE_LAB_MODELS_DIR"  # another folder of checkpoints (fault tests, staging new weights)


def models_dir(default: Path = MODELS_DIR) -> Path:
    """Where the load functions look by default: $CHAIN_RULE_LAB_MODELS_DIR if set, else ``default``.

    Read at call time, so a test (or an operator) can point a running server at other weights.
    """
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else Path(default)


def save_checkpoint(state: dict[str, torch.Tensor], card: dict, directory: Path, name: str) -> Path:
    """Write ``name.safetensors`` and ``name.json`` into ``directory``; returns the weights path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    blob = safetensors_save(tensors)
    weights = directory / f"{name}.safetensors"
    weights.write_bytes(blob)
    card = dict(card, weights_file=weights.name, weights_sha256=hashlib.sha256(blob).hexdigest())
    (directory / f"{name}.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return weights


def checkpoint_files(state: dict[str, torch.Tensor], card: dict, name: str) -> tuple[bytes, str]:
    """The weights and the card as ``save_checkpoint`` writes them (the shipped format), for a download."""
    with tempfile.TemporaryDirectory() as tmp:
        weights = save_checkpoint(state, card, Path(tmp), name)
        return weights.read_bytes(), weights.with_suffix(".json").read_text()


def read_card(directory: Path, name: str) -> dict:
    """The JSON card of checkpoint ``name``; CheckpointError if it is missing or not valid JSON."""
    path = Path(directory) / f"{name}.json"
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(path, "the model card is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"the model card is not valid JSON ({e})") from None
    if not isinstance(card, dict) or "kind" not in card or "config" not in card:
        raise CheckpointError(path, "the model card lacks its 'kind' or 'config'")
    return card


def load_checkpoint(directory: Path, name: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify checkpoint ``name``: (tensors, card). Every failure is a CheckpointError."""
    card = read_card(directory, name)
    path = Path(directory) / f"{name}.safetensors"
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(path, "the weights file is missing") from None
    except OSError as e:
        raise CheckpointError(path, f"the weights file cannot be read ({e.strerror})") from None
    expected = card.get("weights_sha256")
    if expected and hashlib.sha256(blob).hexdigest() != expected:
        raise CheckpointError(
            path,
            f"the weights file is truncated or altered ({len(blob):,} bytes; its checksum does not match the card)",
        )
    try:
        tensors = safetensors_load(blob)
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise CheckpointError(path, f"the weights file is not a valid safetensors file ({e})") from None
    return tensors, card


def load_state_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path) -> None:
    """Copy ``tensors`` into ``module``; missing, extra or misshapen tensors are a CheckpointError."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(path, f"the weights do not fit the model described by its card ({first})") from None
