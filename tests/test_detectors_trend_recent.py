"""Growth that begins part-way through the window is still a trend (fit on the recent part)."""

from __future__ import annotations

import numpy as np

from agent.detectors.trend import MIN_POINTS, detect_trend
from agent.series import Series


def _disk(flat_share: float, seed: int = 3, step: float = 60.0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(0, 90 * 60, step, dtype=float)
    start = int(flat_share * t.size)
    v = np.full(t.size, 0.19) + rng.normal(0, 0.001, t.size)
    v[start:] += np.linspace(0, 0.6, t.size - start)
    return Series("disk_usage_ratio", {"service": "cache"}, t, v)


def test_fill_starting_half_way_is_found_with_time_to_limit():
    found = detect_trend([_disk(0.45)], start=0, end=90 * 60, limit=1.0, min_growth=0.2)
    assert len(found) == 1
    assert found[0].numbers["time_to_limit_h"] < 2


def test_flat_disk_is_not_a_trend():
    assert detect_trend([_disk(1.0)], start=0, end=90 * 60, limit=1.0, min_growth=0.2) == []


def test_a_fill_in_the_last_ten_of_eighteen_coarse_samples_is_found():
    """One sample every 5 minutes: the window's recent half or third holds fewer points than a fit needs, so
    the fit takes the last ``MIN_POINTS`` samples instead of skipping the recent part (the whole window's line,
    flat then rising, fits too badly to report)."""
    disk = _disk(8 / 18, step=300.0)
    assert len(disk) == 18
    (found,) = detect_trend([disk], start=0, end=90 * 60, limit=1.0, min_growth=0.2)
    assert found.numbers["time_to_limit_h"] < 2


def test_too_few_coarse_samples_are_no_trend():
    disk = _disk(0.0, step=900.0)  # six samples, all of them rising
    assert len(disk) < MIN_POINTS
    assert detect_trend([disk], start=0, end=90 * 60, limit=1.0, min_growth=0.2) == []


def test_the_last_samples_of_a_series_are_at_most_as_many_as_asked():
    disk = _disk(0.0, step=900.0)
    assert [len(disk.last(n)) for n in (0, 2, 100)] == [0, 2, 6]
    assert disk.last(2).timestamps.tolist() == disk.timestamps[-2:].tolist()


def test_a_series_that_stopped_reporting_is_not_fitted_over_its_last_samples():
    """One sample a minute that ends 40 minutes before the window does: the recent third holds none because the
    series stopped, not because the data is coarse, so the rise in its last ten samples is no recent trend."""
    t = np.arange(0, 50 * 60, 60, dtype=float)
    v = np.full(t.size, 0.19) + np.random.default_rng(4).normal(0, 0.001, t.size)
    v[-10:] += np.linspace(0, 0.3, 10)
    stopped = Series("disk_usage_ratio", {"service": "cache"}, t, v)
    assert detect_trend([stopped], start=0, end=90 * 60, limit=1.0, min_growth=0.2) == []
