"""Daily level shift: the window's difference from the same hours a day before, against the reference's own
day-to-day differences."""

from __future__ import annotations

import numpy as np

from agent.detectors.level import detect_level_shift
from agent.detectors.seasonal import PERIOD_S, day_differences, detect_daily_shift
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T08:00:00Z")  # the window covers the daily peak (06:00)
STEP = 300.0
WINDOW = 24  # two hours of five-minute samples
HISTORY = 2 * 288  # two days before the window
TIMES = T0 - (HISTORY + WINDOW) * STEP + STEP * np.arange(HISTORY + WINDOW)
SPLIT = float(TIMES[HISTORY])
HOUR = (TIMES % 86400) / 3600


def daily(noise: float = 1.0, seed: int = 0) -> np.ndarray:
    """A daily sine between 20 and 80 with white noise."""
    rng = np.random.default_rng(seed)
    return 50.0 + 30.0 * np.sin(2 * np.pi * HOUR / 24) + rng.normal(0, noise, TIMES.size)


def judge(values: np.ndarray, detector=detect_daily_shift, direction: str = "both",
          times: np.ndarray = TIMES) -> list:
    return detector([Series("speed", {"service": "road"}, times, values)], start=float(times[0]),
                    end=float(times[-1]) + 1, baseline_end=SPLIT, direction=direction)


def test_a_level_wrong_for_its_hour_but_inside_the_daily_range_is_found():
    values = daily()
    values[HISTORY:] = 50.0  # flat at the cycle's mean where the day normally peaks near 80
    assert 20 < values[HISTORY:].min() and values[HISTORY:].max() < 80  # inside the range of every day
    assert judge(values, detect_level_shift) == []  # the plain level shift sees a level the reference held
    found = judge(values)
    assert len(found) == 1
    f = found[0]
    assert f.detector == "seasonal" and f.direction == "down" and f.score > 0.5
    assert f.numbers["daily_difference"] < -15 and f.numbers["excess"] > 1
    assert SPLIT <= f.onset <= TIMES[-1]


def test_the_same_day_repeated_is_no_shift_and_a_wrong_way_shift_is_left_to_its_direction():
    assert judge(daily()) == []
    values = daily()
    values[HISTORY:] += 25.0
    assert judge(values, direction="down") == []
    assert [f.direction for f in judge(values, direction="up")] == ["up"]


def test_a_series_that_differs_this_much_every_day_needs_more():
    day = np.floor((TIMES - TIMES[0]) / PERIOD_S).astype(int)
    values = daily() + np.array([20.0, -20.0, -20.0])[day]  # yesterday 40 below the day before
    values[HISTORY:] += 25.0  # today 25 above yesterday
    assert judge(values) == []
    values[HISTORY:] += 30.0  # 55 above: more than any change of day the reference shows
    assert [f.direction for f in judge(values)] == ["up"]


def test_no_difference_across_a_gap_and_too_little_history_is_no_judgement():
    values = daily()
    values[HISTORY:] = 50.0
    keep = np.ones(TIMES.size, dtype=bool)
    keep[HISTORY - 288 - 12:HISTORY - 288 + WINDOW + 12] = False  # nothing recorded at those hours a day before
    s = Series("speed", {"service": "road"}, TIMES[keep], values[keep])
    diffs = day_differences(s, float(TIMES[0]) + PERIOD_S, float(TIMES[-1]) + 1)
    assert not ((diffs.timestamps >= SPLIT).any())  # no interpolation across the missing hours
    assert judge(values[keep], times=TIMES[keep]) == []
    short = TIMES >= TIMES[-1] - PERIOD_S  # a day of data: no reference of day-to-day differences
    assert judge(values[short], times=TIMES[short]) == []


def test_a_difference_far_smaller_than_the_series_level_is_no_shift_when_the_days_repeat_exactly():
    values = np.full(TIMES.size, 100.0)  # a success ratio at 100 % every day: no day-to-day difference at all
    values[HISTORY:] = 99.99  # a hundredth of a percent below yesterday
    assert judge(values, direction="down") == []
    values[HISTORY:] = 90.0  # ten percent below is a shift
    assert [f.direction for f in judge(values, direction="down")] == ["down"]


def test_the_onset_is_where_the_window_leaves_its_hour_not_where_it_begins():
    values = daily(noise=2.0, seed=3)
    values[HISTORY + 8:] -= 40.0  # the window's first 40 minutes as on any day, then 40 below its hour
    found = judge(values)
    assert len(found) == 1
    assert found[0].onset == TIMES[HISTORY + 8]


def test_the_onset_is_where_the_window_turns_off_its_hours_not_a_stray_point_before():
    values = daily()
    values[HISTORY + 2] += 40.0  # one stray reading early in the window
    values[HISTORY + 8:] += 40.0  # off the day's pattern from the ninth point on
    [found] = judge(values, direction="up")
    assert found.onset == TIMES[HISTORY + 8]
