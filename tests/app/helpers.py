"""Reading what a page sent to the browser, shared by the AppTest suites."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest


def run(at: AppTest) -> AppTest:
    """One run of the page; it must end without an exception."""
    at.run()
    assert not at.exception, at.exception
    return at


def open_script(script: str, timeout: float, **query) -> AppTest:
    """``script`` run once with ``query`` as its link (each value as the browser would send it: a string)."""
    at = AppTest.from_file(script, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return run(at)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    return run(at)


def chart(at: AppTest, key: str) -> dict:
    """The plotly spec of the chart with widget key ``key``, as the browser receives it."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart with key {key!r}")


def arr(value) -> np.ndarray:
    """A plotly JSON array as floats: a (nested) list with None for gaps, or numpy data encoded as
    base64 ``bdata`` (plotly >= 6)."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = tuple(int(n) for n in value.get("shape", str(data.size)).split(","))
        return data.reshape(shape).astype(float)
    return np.array(_none_to_nan(value), dtype=float)


def _none_to_nan(value):
    if isinstance(value, list):
        return [_none_to_nan(v) for v in value]
    return np.nan if value is None else value
