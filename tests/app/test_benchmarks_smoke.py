"""The page-rerun benchmark runs end to end at a tiny size."""

from benchmarks import pages


def test_page_rerun_benchmark_small():
    stats = pages.measure(pages.INTERACTIONS[0], repeats=3, warmup=0)
    assert stats.n == 3
    assert 0 < stats.min <= stats.median <= stats.max  # three real timings, ordered as Stats promises
    assert stats.max < 120  # a rerun that hangs would not come back at all
