"""Fixtures shared by every test layer: the shipped models, loaded once per test session."""

import pytest
import torch

import core

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def names_lm() -> core.TextModel:
    return core.load_text_model("names")


@pytest.fixture(scope="session")
def shakespeare_lm() -> core.TextModel:
    return core.load_text_model("shakespeare")
