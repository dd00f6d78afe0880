"""A copy of assets/models with one checkpoint broken on purpose, for the fault-containment tests.

Good files are symlinked (no 12 MB copy per test); only the broken file is written. Point the app
at the copy with the environment variable core.checkpoint.MODELS_DIR_ENV.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from core.checkpoint import MODELS_DIR

FAULTS = {
    "missing weights": "the weights file is missing",
    "truncated weights": "the weights file is truncated or altered",
    "altered weights": "the weights file is truncated or altered",
    "garbage weights without a checksum": "not a valid safetensors file",
    "pickle posing as safetensors": "not a valid safetensors file",
    "missing card": "the model card is missing",
    "card not JSON": "the model card is not valid JSON",
}


def broken_models_dir(tmp: Path, name: str, fault: str) -> Path:
    """``tmp``/models: every shipped checkpoint, with ``name``'s broken by ``fault`` (a key of FAULTS)."""
    out = Path(tmp) / "models"
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(MODELS_DIR.iterdir()):
        if src.suffix in (".json", ".safetensors") and src.stem != name:
            (out / src.name).symlink_to(src)
    card = json.loads((MODELS_DIR / f"{name}.json").read_text())
    weights = (MODELS_DIR / f"{name}.safetensors").read_bytes()
    if fault == "missing weights":
        weights = None
    elif fault == "truncated weights":
        weights = weights[: len(weights) // 2]
    elif fault == "altered weights":
        middle = len(weights) // 2
        weights = weights[:middle] + bytes(b ^ 0xFF for b in weights[middle : middle + 64]) + weights[middle + 64 :]
    elif fault == "garbage weights without a checksum":
        card.pop("weights_sha256", None)
        weights = b"\xff" * 8 + b"not a safetensors header" * 10
    elif fault == "pickle posing as safetensors":
        card.pop("weights_sha256", None)  # no checksum to stop it: the parser itself must refuse
        buf = io.BytesIO()
        torch.save({"weight": torch.zeros(3)}, buf)  # a pickle archive, as torch.load would read
        weights = buf.getvalue()
    elif fault not in ("missing card", "card not JSON"):
        raise ValueError(f"unknown fault {fault!r}")
    if fault == "missing card":
        pass
    elif fault == "card not JSON":
        (out / f"{name}.json").write_text('{"kind": "transformer", "config": {')
    else:
        (out / f"{name}.json").write_text(json.dumps(card))
    if weights is not None:
        (out / f"{name}.safetensors").write_bytes(weights)
    return out
