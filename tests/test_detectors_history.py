"""History detector: now vs the same window 1 day / 7 days earlier."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_history, detect_onset
from agent.findings import FindingKind
from agent.series import Series

T0 = 1772445600.0  # 2026-03-02T10:00:00Z, "now" window is T0 .. T0 + 1 h
DAY, WEEK = 86400.0, 604800.0
WINDOW = 60


def daily(t: np.ndarray, seed: int) -> np.ndarray:
    """Requests with a strong daily cycle (steep morning rise to a peak at 11:00) and noise."""
    hours = (t % DAY) / 3600.0
    cycle = 1000.0 + 800.0 * np.exp(-(((hours - 11.0) / 0.6) ** 2))
    return cycle + np.random.default_rng(seed).normal(0.0, 20.0, t.size)


def with_history(now_values: np.ndarray | None = None, seed: int = 1, offsets=(DAY, WEEK)) -> Series:
    """The current hour plus the same hour at each offset; the cycle is identical every day."""
    parts_t, parts_v = [], []
    for k, offset in enumerate(sorted(offsets, reverse=True)):
        t = T0 - offset + 60.0 * np.arange(WINDOW)
        parts_t.append(t)
        parts_v.append(daily(t, seed + k + 1))
    t_now = T0 + 60.0 * np.arange(WINDOW)
    parts_t.append(t_now)
    parts_v.append(daily(t_now, seed) if now_values is None else now_values)
    return Series("requests_per_second", {"service": "gateway"}, np.concatenate(parts_t), np.concatenate(parts_v))


def run(series: Series, **kw):
    kw.setdefault("offsets", (DAY, WEEK))
    return detect_history([series], start=T0, end=T0 + WINDOW * 60, **kw)


def now_times() -> np.ndarray:
    return T0 + 60.0 * np.arange(WINDOW)


def test_daily_peak_seen_yesterday_and_last_week_is_no_anomaly():
    series = with_history()
    # within the hour alone the rise looks like an anomaly ...
    assert detect_onset([series], start=T0, end=T0 + WINDOW * 60, direction="up")
    # ... but yesterday and last week rose the same way
    assert run(series) == []
    assert run(series, direction="both") == []


def test_elevated_against_both_offsets_fires():
    values = daily(now_times(), 2)
    values[35:] *= 1.6
    [finding] = run(with_history(values))
    assert finding.kind == FindingKind.HISTORY_DEVIATION and finding.direction == "up"
    assert finding.numbers["rel_change_1d"] == pytest.approx(0.6, abs=0.1)
    assert finding.numbers["rel_change_7d"] == pytest.approx(0.6, abs=0.1)
    assert finding.onset == T0 + 35 * 60
    assert "1d ago" in finding.summary and "7d ago" in finding.summary
    assert finding.score > 0.5


def test_a_drop_only_fires_for_down_or_both():
    values = daily(now_times(), 3)
    values[30:] *= 0.5
    series = with_history(values)
    assert run(series) == []
    [finding] = run(series, direction="both")
    assert finding.direction == "down" and finding.numbers["rel_change_1d"] < -0.3


def test_like_last_week_but_unlike_yesterday_is_no_anomaly():
    """A weekly pattern: yesterday was quieter, last week had the same level; it must beat every offset."""
    t_now = now_times()
    t_day, t_week = t_now - DAY, t_now - WEEK
    rng = np.random.default_rng(4)
    values = np.concatenate([
        1500 + rng.normal(0, 20, WINDOW), 1000 + rng.normal(0, 20, WINDOW), 1500 + rng.normal(0, 20, WINDOW),
    ])
    series = Series("requests_per_second", {"service": "gateway"}, np.concatenate([t_week, t_day, t_now]), values)
    assert run(series) == []
    assert len(run(series, offsets=(DAY,))) == 1


@pytest.mark.parametrize("positions", [[50], [50, 51], [WINDOW - 1], [WINDOW - 2, WINDOW - 1]])
def test_spikes_and_last_point_blips_are_ignored(positions):
    values = daily(now_times(), 5)
    values[positions] *= 3.0
    assert run(with_history(values)) == []


def test_no_history_means_no_judgement():
    values = daily(now_times(), 6) * 2.0
    only_now = Series("requests_per_second", {"service": "gateway"}, now_times(), values)
    assert run(only_now) == []


def test_noisy_history_raises_the_bar():
    rng = np.random.default_rng(7)
    t_now, t_day = now_times(), now_times() - DAY
    history = 100 + rng.normal(0, 30, WINDOW)  # very noisy yesterday
    now = 100 + rng.normal(0, 30, WINDOW)
    now[40:] += 25  # +25 %, within the noise band of +-3 x 30 x sqrt(2)
    series = Series("requests_per_second", {"service": "gateway"}, np.concatenate([t_day, t_now]),
                    np.concatenate([history, now]))
    assert run(series, offsets=(DAY,)) == []
