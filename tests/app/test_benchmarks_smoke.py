"""The page-rerun benchmark runs end to end at a tiny size."""

from benchmarks import pages


def test_page_rerun_benchmark_small():
    stats = pages.measure(pages.INTERACTIONS[0], repeats=1, warmup=0)
    assert stats.n == 1 and stats.median > 0
