"""Tables a student takes away: every page's numbers as CSV text, built from the same objects the page shows.

Plain functions, data in, ``str`` out (UTF-8 CSV with a header row, ``csv`` module quoting), so a
test can parse a download and compare it with the page's own computation.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from core.lessons.ledger import Ledger
from core.lessons.sampling_session import History, describe_settings
from core.text.vocab import Vocab


def _csv(header: Sequence[str], rows: list[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def history_csv(history: History, vocab: Vocab) -> str:
    """One row per generated token: step, token, p under the model, p at each stage of its draw, settings.

    A stage column is empty where the step's distributions were not kept (a large vocabulary keeps
    only the current step's) or the stage was off for that step.
    """
    stage_names: list[str] = []
    for e in history.entries:
        for name, _ in e.step.stages.stages if e.step.stages is not None else ():
            if name not in stage_names:
                stage_names.append(name)
    rows = []
    for n, e in enumerate(history.entries, start=1):
        stages = dict(e.step.stages.stages) if e.step.stages is not None else {}
        i = e.step.token_id
        rows.append(
            [
                n,
                vocab.token_text(i),
                i,
                "forced" if e.forced else "sampled",
                repr(e.p_model),
                repr(e.p_sampled),
                repr(e.step.logprob),
                *[repr(float(stages[s][i])) if s in stages else "" for s in stage_names],
                describe_settings(e.settings),
            ]
        )
    header = [
        "step",
        "token",
        "token_id",
        "how",
        "p_model",
        "p_sampled_from",
        "log_p",
        *[f"p_{s}" for s in stage_names],
    ]
    return _csv([*header, "settings"], rows)


def ledger_csv(ledger: Ledger) -> str:
    """The chain-rule ledger: one row per factor p(x_i | x_<i), with −log p and the running total in nats."""
    rows = [[r.position, r.token, repr(r.prob), repr(r.neglog), repr(r.running), r.context_length] for r in ledger.rows]
    return _csv(["position", "token", "p", "neg_log_p_nats", "running_total_nats", "context_tokens"], rows)


def matrix_csv(matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], corner: str) -> str:
    """A labelled matrix (attention weights: query rows x key columns; a per-pixel NLL map: rows x columns)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"matrix of shape {matrix.shape} for {len(row_labels)} x {len(col_labels)} labels")
    return _csv(
        [corner, *col_labels], [[r, *map(repr, map(float, row))] for r, row in zip(row_labels, matrix, strict=True)]
    )
