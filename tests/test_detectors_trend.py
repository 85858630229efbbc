"""Trend detector: leaks and filling disks fire; drift, oscillation and daily cycles do not."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_trend
from agent.detectors.trend import robust_fit
from agent.findings import FindingKind
from agent.series import Series

T0 = 1772445600.0  # 2026-03-02T10:00:00Z
HOUR = 3600.0
GIB = 1024.0**3


def series(t: np.ndarray, values: np.ndarray, metric: str) -> Series:
    return Series(metric, {"service": "ranking", "instance": "r-1"}, t, values)


def hour_of_minutes(hours: float = 2.0) -> np.ndarray:
    return T0 + 60.0 * np.arange(int(hours * 60))


def noise(seed: int, n: int, sd: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd, n)


def run(s: Series, hours: float = 2.0, **kw):
    return detect_trend([s], start=T0, end=T0 + hours * HOUR, **kw)


def test_memory_leak_without_a_limit():
    t = hour_of_minutes()
    values = 1.0 * GIB + 0.25 * GIB * (t - T0) / HOUR + noise(1, t.size, 0.01 * GIB)  # +256 MiB/h
    [finding] = run(series(t, values, "memory_usage_bytes"))
    assert finding.kind == FindingKind.TREND and finding.direction == "up"
    assert finding.numbers["slope_per_hour"] == pytest.approx(0.25 * GIB, rel=0.05)
    assert finding.numbers["r2"] > 0.95
    assert finding.numbers["growth_over_horizon"] > 3
    assert finding.score > 0.8
    assert "memory_usage_bytes at 1.5GiB growing +25" in finding.summary and "MiB/h" in finding.summary


def test_memory_leak_towards_a_limit():
    t = hour_of_minutes()
    values = 1.0 * GIB + 0.25 * GIB * (t - T0) / HOUR + noise(2, t.size, 0.01 * GIB)
    [finding] = run(series(t, values, "memory_usage_bytes"), limit=2.0 * GIB)
    assert finding.numbers["time_to_limit_h"] == pytest.approx(2.0, abs=0.2)
    assert "reaches" in finding.summary


def test_disk_fill_reaches_full_in_hours():
    t = hour_of_minutes()
    values = 0.70 + 0.05 * (t - T0) / HOUR + noise(3, t.size, 0.002)  # 0.80 at the end, full in ~4 h
    [finding] = run(series(t, values, "disk_usage_ratio"), limit=1.0)
    assert finding.numbers["time_to_limit_h"] == pytest.approx(4.0, abs=0.3)
    assert finding.numbers["limit"] == 1.0
    assert 0.4 < finding.score < 0.9


def test_nearer_exhaustion_scores_higher():
    t = hour_of_minutes()
    slow = 0.70 + 0.02 * (t - T0) / HOUR + noise(4, t.size, 0.001)
    fast = 0.70 + 0.10 * (t - T0) / HOUR + noise(4, t.size, 0.001)
    [a] = run(series(t, slow, "disk_usage_ratio"), limit=1.0)
    [b] = run(series(t, fast, "disk_usage_ratio"), limit=1.0)
    assert b.numbers["time_to_limit_h"] < a.numbers["time_to_limit_h"]
    assert b.score > a.score


def test_slow_harmless_drift_does_not_fire():
    t = hour_of_minutes()
    disk = 0.40 + 0.002 * (t - T0) / HOUR + noise(5, t.size, 0.0002)  # full in ~12 days
    memory = 1.0 * GIB * (1 + 0.005 * (t - T0) / HOUR) + noise(6, t.size, 0.001 * GIB)  # +0.5 %/h
    assert run(series(t, disk, "disk_usage_ratio"), limit=1.0) == []
    assert run(series(t, memory, "memory_usage_bytes")) == []


def test_oscillation_and_noise_do_not_fire():
    t = T0 + 60.0 * np.arange(6 * 60)
    cycle = 1.0 * GIB + 0.3 * GIB * np.sin(2 * np.pi * (t - T0) / HOUR) + noise(7, t.size, 0.01 * GIB)
    assert run(series(t, cycle, "memory_usage_bytes"), hours=6) == []
    flat = 0.5 + noise(8, t.size, 0.05)
    assert run(series(t, flat, "disk_usage_ratio"), hours=6, limit=1.0) == []


def test_a_rise_seen_at_the_same_time_yesterday_is_a_daily_cycle():
    t_now = hour_of_minutes()
    t_yesterday = t_now - 86400.0
    rise = 1.0 * GIB + 0.25 * GIB * (t_now - T0) / HOUR
    both = series(
        np.concatenate([t_yesterday, t_now]),
        np.concatenate([rise + noise(9, t_now.size, 0.01 * GIB), rise + noise(10, t_now.size, 0.01 * GIB)]),
        "memory_usage_bytes",
    )
    assert run(both) == []
    assert len(run(both, seasonal_offsets=())) == 1


def test_direction_and_already_past_the_limit():
    t = hour_of_minutes()
    free = 50.0 - 10.0 * (t - T0) / HOUR + noise(11, t.size, 0.1)  # free GiB falling to 0 in ~3 h
    s = series(t, free, "disk_free_gibibytes")
    assert run(s, limit=0.0) == []  # "up" is the default: a fall is not growth
    [finding] = run(s, direction="down", limit=0.0)
    assert finding.direction == "down" and finding.numbers["time_to_limit_h"] == pytest.approx(3.0, abs=0.2)
    over = 1.02 + 0.01 * (t - T0) / HOUR + noise(12, t.size, 0.0005)
    [past] = run(series(t, over, "disk_usage_ratio"), limit=1.0)
    assert past.numbers["time_to_limit_h"] == 0.0 and past.score > 0.9


def test_robust_fit_ignores_outliers():
    t = hour_of_minutes()
    values = 2.0 * (t - T0) / HOUR
    values[[10, 50, 90]] = 100.0
    fit = robust_fit(t, values)
    assert fit.slope * HOUR == pytest.approx(2.0, rel=1e-6)
    assert fit.level_end == pytest.approx(2.0 * (t[-1] - T0) / HOUR, rel=0.05)
    assert fit.r2 < 0.5  # the outliers are not explained by the line


def test_a_daily_ramp_is_seen_in_the_part_of_the_day_before_the_series_holds():
    """26 h of history for a 6 h look-back hold the last 2 h of the window a day earlier: those hours are compared
    with the same hours now. Less than a quarter of the fitted span (``SEASONAL_MIN_SHARE``) a day earlier says
    nothing of it (a handful of points had been enough)."""
    def ramp(hours_before: float, leak: bool = False) -> Series:
        t = T0 + 300.0 * np.arange(int(-hours_before * 12), 73)  # 5-minute samples up to T0 + 6 h
        day = 2 * np.pi * ((t - T0 - 3 * HOUR) % 86400) / 86400  # the daily rise is steepest mid-window
        traffic = 100.0 * (1 + 0.5 * np.sin(day)) * (1 + noise(3, t.size, 0.02))
        if leak:
            traffic += 20.0 * np.clip(t - (T0 + 3 * HOUR), 0, None) / HOUR
        return Series("requests_per_second", {"service": "ranking"}, t, traffic)

    def found(s: Series) -> int:
        return len(run(s, hours=6, min_growth=0.2))

    assert found(ramp(0.0)) == 1  # no day before: a trend
    assert found(ramp(20.0)) == 0  # 26 h in all: the 2 h held a day earlier rose as now
    assert found(ramp(19.75)) == 0  # 1.75 h: more than a quarter of the 6 h fitted
    assert found(ramp(19.0)) == 1  # 1 h: too little to say
    assert found(ramp(30.0)) == 0  # the whole window a day earlier
    assert found(ramp(20.0, leak=True)) == 1  # growth the same hours did not show a day earlier
