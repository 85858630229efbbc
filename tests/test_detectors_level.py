"""Level shift: the inspected window's median against the reference's rolling medians of the same length."""

from __future__ import annotations

import numpy as np
import pytest

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.detectors import detect_level_shift
from agent.detectors.calibration import MIN_EXCURSION, calibrate
from agent.detectors.deviation import detect_deviation
from agent.detectors.level import MIN_POINTS, level_excess, level_floor
from agent.events import Event, InspectionScope, Pattern
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
STEP = 300.0
WINDOW = 24  # two hours of five-minute samples
HISTORY = 2 * 288  # two days before the window
TIMES = T0 - (HISTORY + WINDOW) * STEP + STEP * np.arange(HISTORY + WINDOW)
SPLIT = float(TIMES[HISTORY])


def bursty(window_mean: float, seed: int = 0) -> np.ndarray:
    """Mention counts around 3 with one half-hour burst of 200 in the reference (over 1 % of its points)."""
    rng = np.random.default_rng(seed)
    values = rng.poisson(3.0, TIMES.size).astype(float)
    values[200:208] = 200.0
    values[HISTORY:] = rng.poisson(window_mean, WINDOW)
    return values


def level(values: np.ndarray, direction: str = "both") -> list:
    return detect_level_shift([Series("mentions", {"service": "svc"}, TIMES, values)], start=float(TIMES[0]),
                              end=float(TIMES[-1]) + 1, baseline_end=SPLIT, direction=direction)


def test_a_held_shift_in_a_bursty_series_is_a_level_shift_but_no_point_deviation():
    values = bursty(15.0)
    s = Series("mentions", {"service": "svc"}, TIMES, values)
    points = detect_deviation([s], start=float(TIMES[0]), end=float(TIMES[-1]) + 1, baseline_end=SPLIT,
                              max_score=1.0)
    assert not points or points[0].score < 0.5  # every reading lies far below the bursts
    found = level(values)
    assert len(found) == 1
    f = found[0]
    assert f.detector == "level" and f.direction == "up" and f.score > 0.5
    assert f.numbers["excess"] > 1 and f.numbers["post_median"] > 10
    assert SPLIT <= f.onset <= TIMES[-1]


def test_the_same_series_without_the_shift_has_no_level_shift():
    assert level(bursty(3.0)) == []


def test_a_level_the_reference_already_held_as_long_is_no_shift():
    values = bursty(15.0)
    values[300:300 + WINDOW] = 15.0  # the reference held the same level for two hours once
    assert level(values) == []


def test_a_tie_with_small_counts_is_not_beyond():
    values = np.zeros(TIMES.size)
    values[100:100 + WINDOW] = 1.0
    values[HISTORY:] = 1.0  # the window's median equals the reference's highest rolling median
    assert level(values) == []
    values[HISTORY:] = 2.0
    assert len(level(values)) == 1


def test_a_daily_peak_seen_the_days_before_is_no_shift():
    rng = np.random.default_rng(3)
    hour = ((TIMES - SPLIT) % 86400) / 3600
    values = 100.0 + rng.normal(0, 2, TIMES.size) + np.where(hour < 3, 100.0, 0.0)  # a 3-hour daily peak
    assert level(values) == []  # the window sits in the peak, as it did one and two days earlier
    values[HISTORY:] += 20.0
    assert len(level(values)) == 1  # above the peaks of the days before


def test_the_bad_direction_is_respected_and_a_fall_is_caught():
    values = 100.0 + np.random.default_rng(5).normal(0, 2, TIMES.size)
    values[HISTORY:] -= 30.0
    assert level(values, "up") == []
    (fall,) = level(values, "down")
    assert fall.direction == "down" and fall.numbers["robust_z"] < 0
    assert level(values, "both")[0].direction == "down"


def test_level_excess_is_floored_and_needs_enough_points():
    reference = np.zeros(50)
    calibration = calibrate(reference, np.ones(5))
    found = level_excess(reference, np.ones(5), 1.0, calibration)
    assert found.excursion == MIN_EXCURSION and found.p_value < 0.01
    cut = HISTORY + MIN_POINTS
    values = 100.0 + np.random.default_rng(5).normal(0, 2, cut)
    values[HISTORY:] += 30.0
    short = Series("mentions", {"service": "svc"}, TIMES[:cut], values)
    kw = {"start": float(TIMES[0]), "end": float(TIMES[cut - 1]) + 1, "baseline_end": SPLIT}
    assert len(detect_level_shift([short], **kw)) == 1
    assert detect_level_shift([short.between(float(TIMES[0]), float(TIMES[cut - 2]) + 1)], **kw) == []


@pytest.mark.parametrize(("window_mean", "flagged"), [(15.0, True), (3.0, False)])
def test_an_inspection_reports_a_held_shift_in_a_bursty_series(tmp_path, window_mean, flagged):
    event = Event(pattern=Pattern.INSPECTION, time=float(TIMES[-1]) + 60, service="mentions-svc",
                  scope=InspectionScope(services=["mentions-svc"], window=7200))
    path = write_bundle(tmp_path / "case", event,
                        [Series("Twitter_volume_X", {"service": "mentions-svc"}, TIMES, bursty(window_mean))])
    bundle = load_bundle(path)
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    serious = [i.service for i in result.verdict.items if i.severity in ("warning", "critical")]
    assert serious == (["mentions-svc"] if flagged else [])


def daily_cycle(seed: int = 4) -> np.ndarray:
    """A smooth daily cycle between 20 and 80 with little point-to-point noise (a day's traffic)."""
    hours = (TIMES % 86400) / 3600
    return 50.0 + 30.0 * np.sin(2 * np.pi * hours / 24) + np.random.default_rng(seed).normal(0, 1.0, TIMES.size)


def test_the_floor_is_noise_not_the_spread_of_a_daily_cycle():
    white = 50.0 + np.random.default_rng(1).normal(0, 5.0, HISTORY)
    assert level_floor(white, calibrate(white, white[:WINDOW])) == pytest.approx(MIN_EXCURSION, rel=0.15)
    flat = np.full(HISTORY, 42.0)
    assert level_floor(flat, calibrate(flat, flat[:WINDOW])) == MIN_EXCURSION
    cycle = daily_cycle()[:HISTORY]
    assert level_floor(cycle, calibrate(cycle, cycle[:WINDOW])) == pytest.approx(1.0)


def test_a_daily_cycle_held_beyond_its_daily_extremes_is_a_shift():
    """A window 40 above the cycle lies beyond every value of the reference days but within three robust
    sigmas of their median, since the cycle's spread makes the MAD wide."""
    values = daily_cycle()
    assert level(values) == []
    hours = (TIMES[HISTORY:] % 86400) / 3600
    assert (hours >= 8).all() and (hours < 10).all()  # the window 08:00-10:00, when the cycle is near its top
    values[HISTORY:] += 40.0
    (found,) = level(values)
    assert found.direction == "up" and found.numbers["excess"] > 1
    assert abs(found.numbers["robust_z"]) < MIN_EXCURSION  # no point deviation would call this unusual


def test_the_onset_is_where_the_window_turns_to_the_level_not_a_count_that_touched_it_before():
    """Failures a minute on a service: 0 most minutes, now and then 1 or 2 (each beyond a reference whose spread is
    0), then a step to about 6 a third into the window. The report said the level was held "from" the first stray
    failure, before the step."""
    rng = np.random.default_rng(3)
    step = WINDOW // 3
    values = rng.poisson(0.5, TIMES.size).astype(float)
    values[HISTORY + step:] = rng.poisson(6.0, WINDOW - step)
    assert values[HISTORY:HISTORY + step].any()  # a stray failure before the step
    [found] = level(values, "up")
    assert found.onset == TIMES[HISTORY + step]
    held = bursty(15.0)
    held[HISTORY:] = 40.0  # beyond from the window's start: the onset is its first point
    [whole] = level(held)
    assert whole.onset == TIMES[HISTORY]
