"""Fixtures shared by every test layer: the shipped models, loaded once per test session."""

import pytest
import torch

import core

# one thread: the test process shares two cores with a streamlit server and a browser, and
# oversubscribed OpenMP threads slow tiny models down by orders of magnitude
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def names_lm() -> core.TextModel:
    return core.load_text_model("names")


@pytest.fixture(scope="session")
def shakespeare_lm() -> core.TextModel:
    return core.load_text_model("shakespeare")
