"""The Training page's progress and cost bands (core.lessons.training_run), against hand-made runs."""

from types import SimpleNamespace

import pytest

from core.lessons.training_run import cost_band, cost_strip, run_progress


def test_progress_is_the_last_events_step_over_its_time():
    events = [SimpleNamespace(step=s, elapsed_s=s / 40) for s in (1, 50, 100)]
    p = run_progress(events, total=600)
    assert p.rate == pytest.approx(40) and p.seconds_left == pytest.approx(500 / 40)
    assert p.step_text == "100 / 600"
    done = run_progress([SimpleNamespace(step=600, elapsed_s=12.0)], total=600)
    assert done.seconds_left == 0


@pytest.mark.parametrize(
    "cost, band", [(5.0, "orange"), (3.0001, "orange"), (3.0, "gray"), (1.5, "gray"), (1.0, "blue"), (0.0, "blue")]
)
def test_cost_bands(cost, band):
    assert cost_band(cost) == band


def test_the_strip_shows_blanks_and_escapes_markup():
    strip = cost_strip([("a", 0.5), (" ", 2.0), ("\n", 4.0), ("*", 0.1)])
    assert ":blue[a]" in strip and ":gray[␣]" in strip and ":orange[⏎]" in strip and "\\*" in strip
