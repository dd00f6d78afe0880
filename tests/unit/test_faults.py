"""Faults contained at the core: one broken checkpoint fails alone, in words; weights load only via safetensors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import core
from core.checkpoint import MODELS_DIR, MODELS_DIR_ENV, models_dir
from core.errors import CheckpointError
from core.image.model import IMAGE_MODELS, load_image_model
from core.text.language_model import TEXT_MODELS, TRAINED_MODELS, load_text_model
from tests.fault_models import FAULTS, broken_models_dir

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
ALL_MODELS = [*TRAINED_MODELS, *IMAGE_MODELS]


def load(name: str):
    return load_text_model(name) if name in TEXT_MODELS else load_image_model(name)


def test_every_shipped_model_is_in_the_models_folder():
    missing = [n for n in ALL_MODELS if not (MODELS_DIR / f"{n}.safetensors").exists()]
    assert not missing, f"shipped models missing from {MODELS_DIR}: {missing}"


def test_the_models_folder_can_be_moved_by_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert models_dir() == MODELS_DIR
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(CheckpointError) as err:  # an empty folder: read at call time, not at import
        load_text_model("names")
    assert str(tmp_path) in str(err.value)
    with pytest.raises(CheckpointError):
        load_image_model("pixelcnn")


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", ["names", "shakespeare", "pixelcnn"])
def test_each_fault_is_a_checkpoint_error_in_words(tmp_path, monkeypatch, name, fault):
    monkeypatch.setenv(MODELS_DIR_ENV, str(broken_models_dir(tmp_path, name, fault)))
    with pytest.raises(CheckpointError) as err:
        load(name)
    message = str(err.value)
    assert FAULTS[fault] in message, message
    assert f"{name}." in message  # names the file
    assert "Traceback" not in message and len(message) < 400


@pytest.mark.parametrize("broken", ALL_MODELS)
def test_one_broken_model_leaves_the_others_loadable(tmp_path, monkeypatch, broken):
    monkeypatch.setenv(MODELS_DIR_ENV, str(broken_models_dir(tmp_path, broken, "altered weights")))
    with pytest.raises(CheckpointError, match="truncated or altered"):
        load(broken)
    for name in ALL_MODELS:
        if name != broken:
            model = load(name)
            assert model.name == name


def test_a_text_model_loaded_from_the_copy_matches_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(broken_models_dir(tmp_path, "pixelcnn", "missing weights")))
    copy, shipped = load_text_model("names"), load_text_model("names", models_dir=MODELS_DIR)
    assert core.score(copy, "emma").nll == core.score(shipped, "emma").nll


# ---------------------------------------------------------------------------------------------
# Weights load only through safetensors

UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "shelve", "marshal", "_pickle"}
SOURCES = sorted([ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "pages").rglob("*.py")])


def unsafe_loads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            f = node.func
            dotted = []
            while isinstance(f, ast.Attribute):
                dotted.insert(0, f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                dotted.insert(0, f.id)
            name = ".".join(dotted)
            if name in ("torch.load", "torch.jit.load", "torch.serialization.load", "load_state_dict_from_url"):
                found.append(f"{name}(...) line {node.lineno}")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{name}(allow_pickle=...) line {node.lineno}")
                if kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                    found.append(f"{name}(weights_only=False) line {node.lineno}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_pickle_anywhere(path: Path):
    assert not unsafe_loads(ast.parse(path.read_text(encoding="utf-8"))), path


def test_the_check_catches_pickle():
    bad = "import pickle\nimport torch\nx = torch.load('m.pt')\nimport numpy as np\nnp.load('a.npz', allow_pickle=True)"
    assert len(unsafe_loads(ast.parse(bad))) == 3


def test_checkpoints_are_parsed_by_safetensors_only():
    tree = ast.parse((ROOT / "core" / "checkpoint.py").read_text())
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("safetensors.torch", "load") in imported
    shipped = sorted(p.suffix for p in MODELS_DIR.iterdir() if p.is_file())
    assert set(shipped) == {".json", ".safetensors"}, shipped  # no .pt / .pkl / .bin files ship
