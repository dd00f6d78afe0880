"""Fixtures of the unit tests: the shipped PixelCNNs and the test digits, loaded once (tests/unit/pixel_models.py)."""

from tests.unit.pixel_models import digits, shipped  # noqa: F401 (fixtures for every unit test)
