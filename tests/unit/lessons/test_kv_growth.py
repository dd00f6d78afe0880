"""How the totals grow with and without the key/value cache (core.lessons.kv_timing).

Oracles: synthetic totals from an exact quadratic and an exact line (least squares must recover the
coefficients, R² = 1), running sums written out here (the totals), and the uncached path
(core.generate without the cache: the cached run must give the same tokens).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

import core
from core.errors import InputError
from core.figures.sampling import kv_totals_figure, step_times_figure
from core.lessons.kv_timing import (
    KVTimingResult,
    cumulative_totals,
    fit_line,
    fit_quadratic,
    growth_fits,
    growth_words,
    polynomial_text,
    time_kv_cache,
)
from core.lessons.stream_timing import StreamTiming
from core.text.language_model import generate

torch.set_num_threads(1)


def test_a_quadratic_fit_recovers_an_exact_quadratic():
    n = np.arange(1, 41)
    fit = fit_quadratic(n.tolist(), (2.5 + 0.75 * n + 0.031 * n**2).tolist())
    np.testing.assert_allclose(fit.coefficients, (2.5, 0.75, 0.031), rtol=1e-8, atol=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(fit([10, 20]), [2.5 + 7.5 + 3.1, 2.5 + 15 + 12.4], rtol=1e-9)


def test_a_line_fit_recovers_an_exact_line_and_a_quadratic_finds_no_curvature_in_it():
    n = list(range(1, 31))
    y = [4.0 + 1.2 * k for k in n]
    line = fit_line(n, y)
    np.testing.assert_allclose(line.coefficients, (4.0, 1.2), rtol=1e-9)
    assert line.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit_quadratic(n, y).coefficients[2] == pytest.approx(0.0, abs=1e-9)


def test_r2_is_one_minus_residual_over_total():
    n, y = [1, 2, 3, 4], [1.0, 3.0, 2.0, 5.0]
    fit = fit_line(n, y)
    b, a = np.polyfit(n, y, 1)  # numpy's own least squares as the reference
    np.testing.assert_allclose(fit.coefficients, (a, b), rtol=1e-9, atol=1e-12)
    predicted = [a + b * k for k in n]
    mean = sum(y) / len(y)
    r2 = 1 - sum((p - q) ** 2 for p, q in zip(y, predicted, strict=True)) / sum((q - mean) ** 2 for q in y)
    assert fit.r2 == pytest.approx(r2, rel=1e-12)


def test_too_few_points_are_refused_in_words():
    with pytest.raises(InputError, match="at least 3 points"):
        fit_quadratic([1, 2], [1.0, 2.0])


def test_polynomial_text_writes_the_signs():
    assert polynomial_text(fit_line([1, 2, 3], [-0.5 + 2 * k for k in [1, 2, 3]])) == "−0.50 + 2.000·n"
    assert polynomial_text(fit_quadratic([1, 2, 3, 4], [1.0 - 0.5 * k + 0.25 * k * k for k in [1, 2, 3, 4]])) == (
        "1.00 − 0.500·n + 0.2500·n²"
    )


def synthetic_result(uncached_ms, cached_ms) -> KVTimingResult:
    tokens = list(range(len(cached_ms)))
    return KVTimingResult(1, list(cached_ms), list(uncached_ms), tokens, tokens, repeats=1)


def test_the_totals_are_running_sums_and_the_fits_read_them():
    steps_u = [1.0 + 0.1 * t for t in range(20)]  # each uncached step a little longer: a quadratic total
    steps_c = [0.8] * 20
    result = synthetic_result(steps_u, steps_c)
    np.testing.assert_allclose(result.uncached_totals_ms, [math.fsum(steps_u[:k]) for k in range(1, 21)], rtol=1e-12)
    np.testing.assert_allclose(result.cached_totals_ms, [0.8 * k for k in range(1, 21)], rtol=1e-12)
    assert cumulative_totals([]) == []
    quadratic, line = growth_fits(result)
    # total(n) = sum_{t<n} (1 + 0.1 t) = n + 0.05 n (n - 1) = 0.95 n + 0.05 n²
    np.testing.assert_allclose(quadratic.coefficients, (0.0, 0.95, 0.05), atol=1e-9)
    np.testing.assert_allclose(line.coefficients, (0.0, 0.8), atol=1e-9)
    words = growth_words(quadratic, line)
    assert "0.950·n + 0.0500·n²" in words and "R² = 1.000" in words
    assert growth_fits(synthetic_result([1.0, 2.0], [1.0, 1.0])) is None  # 2 tokens: nothing to fit


def test_measured_totals_and_identical_tokens_on_shakespeare():
    lm = core.load_text_model("shakespeare")
    result = time_kv_cache(lm, "ROMEO:", seed=2, repeats=1, max_new_tokens=24)
    oracle = [s.token_id for s in generate(lm, "ROMEO:", 24, seed=2, use_cache=False)]  # the uncached path
    assert result.cached_tokens == result.uncached_tokens == oracle
    for totals, steps in ((result.cached_totals_ms, result.cached_ms), (result.uncached_totals_ms, result.uncached_ms)):
        np.testing.assert_allclose(totals, [math.fsum(steps[:k]) for k in range(1, len(steps) + 1)], rtol=1e-12)
    quadratic, line = growth_fits(result)
    spec = go.Figure(kv_totals_figure(result, quadratic, line).to_dict()).to_dict()  # validated by plotly
    names = [t["name"] for t in spec["data"]]
    assert len(names) == 4 and any("fitted quadratic" in n for n in names) and any("fitted line" in n for n in names)
    assert list(spec["data"][0]["y"]) == result.uncached_totals_ms
    np.testing.assert_allclose(spec["data"][1]["y"], quadratic(range(1, 25)))


def test_step_times_figure_draws_each_step_and_the_running_latency():
    t = StreamTiming(first_fed=7, first_ms=12.0, later_ms=(1.0, 4.0, 2.0), later_fed=(1, 1, 1))
    first, later, latency = go.Figure(step_times_figure(t).to_dict()).to_dict()["data"]  # validated by plotly
    assert list(first["x"]) == [1] and list(first["y"]) == [12.0] and list(first["customdata"]) == [7]
    assert (
        list(later["x"]) == [2, 3, 4] and list(later["y"]) == [1.0, 4.0, 2.0] and list(later["customdata"]) == [1] * 3
    )
    assert list(latency["y"]) == [12.0, 13.0, 17.0, 19.0] and latency["y"][-1] == t.latency_to_last_ms
