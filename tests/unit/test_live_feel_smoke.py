"""The live-feel benchmark's arithmetic on hand-made timelines (no browser): what its table reports."""

import math

from benchmarks import live_feel as lf


def test_percentile_interpolates_between_ranks():
    # sorted [100, 100, 100, 200]: rank (4 - 1) * 0.95 = 2.85 -> 100 + 0.85 * (200 - 100)
    assert math.isclose(lf.percentile([100, 200, 100, 100], 95), 185)
    assert lf.percentile([3, 1, 2], 50) == 2
    assert lf.percentile([7], 95) == 7
    assert math.isnan(lf.percentile([], 50))


def test_new_tiles_ignore_a_strip_redrawn_for_a_moment():
    counts = [(0, 6), (10, 7), (20, -1), (30, 7), (40, 8), (50, 8)]
    assert lf.new_tile_times(counts) == [(10, 7), (40, 8)]


def test_share_of_time_with_a_flag_set():
    flags = [(0, False), (10, True), (25, False), (40, True)]
    # in [5, 50]: true from 10 to 25 and from 40 to 50, 25 of 45 ms
    assert math.isclose(lf.share_true(flags, 5, 50), 25 / 45)
    assert lf.share_true(flags, 50, 50) == 0


def test_playing_stats_by_hand():
    # paused at 6 tiles; Play clicked at 1000 ms, Pause at 2000 ms; a stale element in view 1250-1400 ms
    log = [
        (0, 6, False),
        (1100, 7, False),
        (1200, 8, False),
        (1250, 8, True),
        (1300, 9, True),
        (1400, 9, False),
        (1500, 10, False),
        (1550, -1, False),  # the strip replaced: no tiles for a moment
        (1560, 10, False),
        (1600, 11, False),
        (2300, 12, False),  # after Pause: not counted as played
    ]
    p = lf.playing_stats(log, t_play=1000, t_pause=2000)
    assert p.tokens == 5  # tiles 7..11 appeared between Play and Pause
    assert p.seconds == 0.5 and p.tokens_per_s == 8.0  # 4 more after the first (1100 ms) by 1600 ms
    assert math.isclose(p.p95_gap_ms, 185)  # gaps 100, 100, 200, 100 ms
    assert math.isclose(p.stale_share, 150 / 900)  # from the first new tile (1100) to Pause (2000)
    nothing = lf.playing_stats([(0, 6, False)], t_play=10, t_pause=510)
    assert nothing.tokens_per_s == 0 and nothing.tokens == 0


def test_idle_since_is_the_start_of_the_last_quiet_stretch():
    assert lf.idle_since([(0, False), (100, True), (200, False), (300, True), (350, True)]) == 300
    assert lf.idle_since([(0, False)]) is None


def test_rows_judge_the_shown_value_and_the_table_has_both_conditions():
    fig = "auto-play at 10 tok/s: tokens shown per second"
    assert lf.row(fig, "idle", 9.96)["met"]  # shown as 10.0
    assert not lf.row(fig, "idle", 9.94)["met"]
    assert lf.row(fig, "under load", 9.0)["met"] and lf.row(fig, "under load", 9.0)["target"] == "≥ 9"
    assert not lf.row("/: first paint", "idle", math.nan)["met"]
    assert lf.row("Play → first new tile", "idle", 120)["met"] is None
    rows = [lf.row(fig, "idle", 10.2), lf.row(fig, "under load", 8.1)]
    rows.append(
        {
            "figure": "note",
            "condition": "idle",
            "value": math.nan,
            "unit": "",
            "target": None,
            "met": None,
            "note": "something seen",
        }
    )
    table = lf.report(rows)
    assert f"| {fig} | tok/s | 8.1 **missed** | ≥ 9 | 10.2 met | ≥ 10 |" in table
    assert "* idle: something seen" in table
    assert lf.summary(rows) == [
        ["live feel in the browser, under load", "every figure's target", "0 of 1", "**missed**"],
        ["live feel in the browser, idle", "every figure's target", "1 of 1", "met"],
    ]
