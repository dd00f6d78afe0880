"""Checkpoints describe themselves and fail in words: never a raw torch or safetensors error."""

import json
import shutil

import pytest
import torch

import core
from core.checkpoint import MODELS_DIR, checkpoint_files, load_checkpoint, save_checkpoint
from core.models.transformer import GPT, GPTConfig
from core.text.language_model import TRAINED_MODELS


@pytest.fixture
def model_dir(tmp_path):
    """A private copy of the shipped names model to damage."""
    for ext in ("safetensors", "json"):
        shutil.copy(MODELS_DIR / f"names.{ext}", tmp_path / f"names.{ext}")
    return tmp_path


def test_round_trip_preserves_weights_and_card(tmp_path):
    torch.manual_seed(0)
    net = GPT(GPTConfig(block_size=8, vocab_size=5, n_layer=1, n_head=1, n_embd=8))
    save_checkpoint(net.state_dict(), {"kind": "transformer", "config": net.config.to_dict()}, tmp_path, "m")
    tensors, card = load_checkpoint(tmp_path, "m")
    assert card["config"] == net.config.to_dict()
    assert len(card["weights_sha256"]) == 64
    for k, v in net.state_dict().items():
        assert torch.equal(tensors[k], v)


def test_checkpoint_files_load_back_like_a_saved_checkpoint(tmp_path):
    """The download's two files, written to a folder, pass the loader's checks and give the weights back."""
    torch.manual_seed(0)
    net = GPT(GPTConfig(block_size=8, vocab_size=5, n_layer=1, n_head=1, n_embd=8))
    blob, card_text = checkpoint_files(net.state_dict(), {"kind": "transformer", "config": net.config.to_dict()}, "m")
    (tmp_path / "m.safetensors").write_bytes(blob)
    (tmp_path / "m.json").write_text(card_text)
    tensors, card = load_checkpoint(tmp_path, "m")
    assert card["weights_file"] == "m.safetensors"
    for k, v in net.state_dict().items():
        assert torch.equal(tensors[k], v)


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(core.ModelNotFoundError) as e:
        core.load_text_model("gpt-5")
    assert isinstance(e.value, LookupError)
    for name in TRAINED_MODELS:
        assert name in str(e.value)


def test_missing_weights_file(model_dir):
    (model_dir / "names.safetensors").unlink()
    with pytest.raises(core.CheckpointError, match="names.safetensors: the weights file is missing"):
        core.load_text_model("names", models_dir=model_dir)


def test_missing_card(model_dir):
    (model_dir / "names.json").unlink()
    with pytest.raises(core.CheckpointError, match="model card is missing"):
        core.load_text_model("names", models_dir=model_dir)


def test_truncated_weights_file(model_dir):
    path = model_dir / "names.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(core.CheckpointError, match="truncated or altered"):
        core.load_text_model("names", models_dir=model_dir)


def test_altered_weights_file(model_dir):
    path = model_dir / "names.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF  # one flipped byte inside a tensor
    path.write_bytes(bytes(blob))
    with pytest.raises(core.CheckpointError, match="checksum does not match"):
        core.load_text_model("names", models_dir=model_dir)


def test_garbage_weights_without_checksum_are_still_caught(model_dir):
    card = json.loads((model_dir / "names.json").read_text())
    del card["weights_sha256"]
    (model_dir / "names.json").write_text(json.dumps(card))
    (model_dir / "names.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(core.CheckpointError, match="not a valid safetensors file"):
        core.load_text_model("names", models_dir=model_dir)


def test_card_that_does_not_fit_the_weights(model_dir):
    card = json.loads((model_dir / "names.json").read_text())
    card["config"]["n_embd"] = 32
    (model_dir / "names.json").write_text(json.dumps(card))
    with pytest.raises(core.CheckpointError, match="do not fit the model"):
        core.load_text_model("names", models_dir=model_dir)


def test_corrupt_card(model_dir):
    (model_dir / "names.json").write_text("{ not json")
    with pytest.raises(core.CheckpointError, match="not valid JSON"):
        core.load_text_model("names", models_dir=model_dir)


def test_loading_never_uses_pickle(monkeypatch):
    import pickle

    def refuse(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert core.load_text_model("names-bigram").vocab.size == 27
