"""The CSV downloads parse back to the numbers the pages compute (core.score, core.generate, the matrices)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

import core
from core.exports import history_csv, ledger_csv, matrix_csv
from core.lessons.ledger import build_ledger
from core.lessons.sampling_session import SamplingSession
from core.text.sampling import SamplingSettings


def parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_history_csv_is_the_history(names_lm):
    s = SamplingSession.start([0], seed=6)
    settings = SamplingSettings(0.8, 6, repetition=1.2)
    for _ in range(5):
        s.next(names_lm, settings)
    s.force(names_lm, settings, 3, names_lm.vocab.stoi["z"])
    rows = parse(history_csv(s.history, names_lm.vocab))
    assert [int(r["token_id"]) for r in rows] == s.history.generated_ids
    assert [r["how"] for r in rows] == ["sampled", "sampled", "forced"]
    for r, e in zip(rows, s.history.entries, strict=True):
        assert float(r["p_model"]) == e.p_model and float(r["log_p"]) == e.step.logprob
        stages = dict(e.step.stages.stages)
        for name in ("raw", "penalties", "temperature", "top_k"):
            assert float(r[f"p_{name}"]) == float(stages[name][e.step.token_id])
        assert "repetition = 1.2" in r["settings"]
    # the first two draws are core.generate's
    assert s.history.generated_ids[:2] == [st.token_id for st in core.generate(names_lm, "", 2, settings, seed=6)]


def test_ledger_csv_is_the_ledger_and_sums_to_the_nll(names_lm):
    ledger = build_ledger(names_lm, "emma")
    rows = parse(ledger_csv(ledger))
    assert [r["token"] for r in rows] == [r.token for r in ledger.rows]
    assert math.fsum(float(r["neg_log_p_nats"]) for r in rows) == pytest.approx(ledger.nll, abs=1e-12)
    assert float(rows[-1]["running_total_nats"]) == pytest.approx(core.score(names_lm, "emma").nll, abs=1e-9)


def test_matrix_csv_round_trips_and_checks_its_shape():
    m = np.array([[1.0, np.nan], [0.25, 0.75]])
    rows = list(csv.reader(io.StringIO(matrix_csv(m, ["q0", "q1"], ["k0", "k1"], "query\\key"))))
    assert rows[0] == ["query\\key", "k0", "k1"]
    back = np.array([[float(x) for x in row[1:]] for row in rows[1:]])
    assert np.array_equal(back, m, equal_nan=True)
    with pytest.raises(ValueError, match="shape"):
        matrix_csv(m, ["q0"], ["k0", "k1"], "x")
