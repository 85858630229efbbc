"""Spike density: separate spikes in the window against the reference's own rate of them."""

from __future__ import annotations

import numpy as np

from agent.detectors.deviation import detect_deviation
from agent.detectors.spikes import MIN_SPIKES, count_runs, detect_spike_density
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T08:00:00Z")
STEP = 300.0
WINDOW = 24  # two hours of five-minute samples
HISTORY = 2 * 288
TIMES = T0 - (HISTORY + WINDOW) * STEP + STEP * np.arange(HISTORY + WINDOW)
SPLIT = float(TIMES[HISTORY])


def spiky(every_in_window: int | None, seed: int = 0) -> np.ndarray:
    """A daily cycle with noise and a spike of +25 every 40 readings; in the window every ``every_in_window``."""
    rng = np.random.default_rng(seed)
    hour = (TIMES % 86400) / 3600
    values = 50.0 + 30.0 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 1.0, TIMES.size)
    values[5:HISTORY:40] += 25.0
    if every_in_window is not None:
        values[HISTORY + 1::every_in_window] += 25.0
    return values


def judge(values: np.ndarray, times: np.ndarray = TIMES, direction: str = "up") -> list:
    return detect_spike_density([Series("requests", {"service": "lb"}, times, values)], start=float(times[0]),
                                end=float(times[-1]) + 1, baseline_end=SPLIT, direction=direction)


def test_spikes_coming_far_more_often_are_found_though_no_reading_is_beyond_the_reference():
    values = spiky(every_in_window=3)
    s = Series("requests", {"service": "lb"}, TIMES, values)
    points = detect_deviation([s], start=float(TIMES[0]), end=float(TIMES[-1]) + 1, baseline_end=SPLIT,
                              max_score=1.0)
    assert not points or points[0].score < 0.5  # each spike is as high as the reference's
    found = judge(values)
    assert len(found) == 1
    f = found[0]
    assert f.detector == "spikes" and f.direction == "up" and f.score >= 0.5
    assert f.numbers["spikes"] >= MIN_SPIKES and f.numbers["expected"] < 1 and f.numbers["p_value"] < 0.001
    assert SPLIT <= f.onset <= TIMES[-1]


def test_the_reference_rate_or_a_wrong_way_is_no_finding():
    assert judge(spiky(every_in_window=None)) == []
    assert judge(spiky(every_in_window=40)) == []
    assert judge(spiky(every_in_window=3), direction="down") == []


def test_one_burst_of_many_readings_is_one_spike_and_a_short_reference_is_no_judgement():
    values = spiky(every_in_window=None)
    values[HISTORY + 4:HISTORY + 12] += 25.0  # eight readings in a row: one burst, a level's business
    assert judge(values) == []
    recent = TIMES >= SPLIT - 60 * STEP  # five hours of reference: too few readings for a 1 % rate
    assert judge(spiky(every_in_window=3)[recent], times=TIMES[recent]) == []


def test_count_runs_counts_separate_runs():
    assert count_runs(np.array([], dtype=bool)) == 0
    assert count_runs(np.array([True, True, False, True, False, False, True])) == 3


def test_spikes_far_smaller_than_the_series_level_are_no_spikes_on_a_flat_reference():
    values = np.full(TIMES.size, 100.0)  # a success ratio at 100 % the whole reference: no spread of its own
    values[HISTORY + 2:HISTORY + 20:6] = 99.99  # three dips of a hundredth of a percent
    assert judge(values, direction="down") == []
    values[HISTORY + 2:HISTORY + 20:6] = 90.0  # three dips of ten percent are spikes
    assert [f.direction for f in judge(values, direction="down")] == ["down"]
