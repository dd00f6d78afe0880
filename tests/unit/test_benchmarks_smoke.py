"""A fast run of the benchmark code at tiny sizes, so `make bench` cannot rot between runs."""

import pytest

import core
from benchmarks import generation, pixelcnn_sampling, quality
from benchmarks.common import Stats, time_calls


def test_stats_and_timer():
    s = Stats.of([0.3, 0.1, 0.2])
    assert (s.median, s.min, s.max, s.n) == (0.2, 0.1, 0.3, 3)
    assert s.fmt(1000, 0) == "200 (100–300)"
    calls = []
    assert time_calls(lambda: calls.append(1), repeats=3, warmup=2).n == 3 and len(calls) == 5


def test_generation_benchmark_small(names_lm):
    res = generation.measure(names_lm, n_tokens=4, repeats=2)
    assert res.same_tokens
    assert len(res.cached) == len(res.uncached) == len(res.positions) >= 1
    text, head = generation.report(res, [1, 2])
    assert "tokens/s" in text and head["speedup_at_block"] > 0


def test_quality_rows_recompute_from_weights():
    rows = quality.quality_rows(["names-bigram"])
    card = core.load_text_model("names-bigram").card["metrics"]["heldout_nll"]
    assert rows[0]["heldout_nll"] == pytest.approx(card, rel=1e-12)  # recomputed: the same sum, maybe reordered
    assert "names-bigram" in quality.report(rows)


def test_pixelcnn_sampling_benchmark_small():
    from core.image.model import load_image_model

    r = pixelcnn_sampling.measure(load_image_model("pixelcnn"), n=2, rows=1, seed=0, repeats=1)
    assert r.identical and r.pixels == 28
    assert "pixelcnn" in pixelcnn_sampling.report([r])


def test_ws_load_reads_the_drawn_text_and_its_check_fails_on_a_wrong_text():
    """The capacity driver reads the page's first code block (the text), not the last one (the share link)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from benchmarks import ws_load

    def code(path, text):
        fwd = ForwardMsg()
        fwd.metadata.delta_path.extend(path)
        fwd.delta.new_element.code.code_text = text
        return fwd

    page = ws_load.Protocol(ws=None, query="")
    for fwd in (
        code([0, 4, 0], "ROMEO:\nWhat"),
        code([0, 7, 2], "http://localhost/sampling?seed=1"),
        code([0, 12], "x"),
    ):
        page.read(fwd)
    end = ForwardMsg()
    end.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    page.read(end)
    assert page.finished and page.code == "ROMEO:\nWhat"
    right = ws_load.WsSession(0, seed=1, latencies_s=[0.1], text="ROMEO:\nWhat", expected="ROMEO:\nWhat")
    wrong = ws_load.WsSession(1, seed=2, latencies_s=[0.1], text="ROMEO:\nWho", expected="ROMEO:\nWhat")
    assert ws_load.Capacity(1, 1.0, 1.0, [right]).problems == []
    [problem] = ws_load.Capacity(2, 1.0, 1.0, [right, wrong]).problems
    assert "session 1: text differs from core.generate" in problem and "first difference at 9" in problem
