"""Fixed thresholds (sustained breach) and SLO burn rate."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_slo_burn, detect_threshold
from agent.detectors.persistence import sustained, trailing_run_start
from agent.findings import FindingKind
from agent.series import Series

T0 = 1772445600.0  # 2026-03-02T10:00:00Z
N = 60


def series(values: np.ndarray, metric: str = "cpu_usage_ratio") -> Series:
    return Series(metric, {"service": "ranking"}, T0 + 60.0 * np.arange(len(values)), np.asarray(values, dtype=float))


def cpu(seed: int, level: float = 0.5) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, 0.02, N)


def breach(values: np.ndarray, **kw):
    return detect_threshold([series(values)], threshold=0.8, start=T0, end=T0 + N * 60, **kw)


def test_sustained_breach_fires_with_onset():
    values = cpu(1)
    values[52:] = 0.9 + np.random.default_rng(2).normal(0, 0.01, N - 52)
    [finding] = breach(values)
    assert finding.kind == FindingKind.THRESHOLD_BREACH and finding.direction == "up"
    assert finding.onset == T0 + 52 * 60
    assert finding.numbers["breach_fraction"] >= 0.7
    assert finding.numbers["excess"] == pytest.approx(0.125, abs=0.02)
    assert 0.5 < finding.score <= 1.0
    assert "over the 0.8 threshold" in finding.summary and "since 10:52" in finding.summary


@pytest.mark.parametrize("positions", [[55], [54, 55], [N - 1], [N - 2, N - 1], [50, 53]])
def test_spikes_and_a_last_point_blip_do_not_fire(positions):
    values = cpu(3)
    values[positions] = 0.95
    assert breach(values) == []


def test_a_dip_in_the_newest_point_does_not_hide_a_breach():
    values = cpu(4)
    values[45:] = 0.9
    values[-1] = 0.1  # reporting delay: the newest point is incomplete
    assert len(breach(values)) == 1


def test_down_direction_and_both_is_rejected():
    values = np.full(N, 0.95)
    values[48:] = 0.6
    hit_ratio = series(values, metric="cache_hit_ratio")
    [finding] = detect_threshold([hit_ratio], threshold=0.8, direction="down", start=T0, end=T0 + N * 60)
    assert finding.direction == "down" and "under the 0.8 threshold" in finding.summary
    with pytest.raises(ValueError, match="direction must be one of up, down"):
        detect_threshold([hit_ratio], threshold=0.8, direction="both", start=T0, end=T0 + N * 60)


def test_sustained_helper():
    flags = np.array([0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 0], dtype=bool)
    held = sustained(flags, last_n=6, min_fraction=0.6, ignore_last=1)
    assert held.held and held.considered == 6 and held.count == 5 and held.run_start == 4
    assert not sustained(flags, last_n=6, min_fraction=0.9).held
    assert not sustained(np.array([1, 1], dtype=bool), last_n=10, ignore_last=0).held  # below min_count
    assert trailing_run_start(np.array([1, 0, 0, 1, 0, 1], dtype=bool), max_gap=1) == 3
    assert trailing_run_start(np.zeros(3, dtype=bool)) is None


def errors(level: float, seed: int, n: int = N) -> np.ndarray:
    return np.clip(level + np.random.default_rng(seed).normal(0, level / 10, n), 0, 1)


def burn(values: np.ndarray, **kw):
    kw.setdefault("objective", 0.999)
    return detect_slo_burn([series(values, "request_error_ratio")], start=T0, end=T0 + len(values) * 60, **kw)


def test_fast_burn_fires():
    values = errors(0.0002, 5)
    values[30:] = errors(0.03, 6, N - 30)  # 30x the 0.1 % budget for the last half hour
    [finding] = burn(values)
    assert finding.kind == FindingKind.SLO_BURN and finding.detector == "slo_burn"
    assert finding.numbers["burn_short"] == pytest.approx(30, rel=0.1)
    assert finding.numbers["burn_long"] == pytest.approx(15, rel=0.15)
    assert finding.numbers["factor"] == 14.4
    assert finding.onset == T0 + 30 * 60
    assert finding.score > 0.5


def test_healthy_error_ratio_and_a_recovered_burst_do_not_fire():
    assert burn(errors(0.0005, 7)) == []
    values = errors(0.0002, 8)
    values[20:35] = 0.03  # burned, then recovered: the short window is clean again
    assert burn(values) == []


def test_success_ratio_in_percent():
    values = np.full(N, 99.99)
    values[25:] = 97.0
    [finding] = burn(values, measure="success", unit_max=100.0)
    assert finding.direction == "down"
    assert finding.numbers["burn_short"] == pytest.approx(30.0, rel=0.01)


def test_windows_shrink_to_the_data_and_need_a_faster_burn():
    # 20 minutes of data: the 1 h / 5 m pair becomes 20 m / 100 s at 3 x 14.4 = 43.2x (same budget share)
    assert burn(np.full(20, 0.03)) == []  # 30x would fire on a full hour, not on 20 minutes
    [finding] = burn(np.full(20, 0.05))
    assert finding.numbers["long_s"] == pytest.approx(1200.0)
    assert finding.numbers["short_s"] == pytest.approx(100.0)
    assert finding.numbers["factor"] == pytest.approx(43.2)


def test_bad_slo_parameters_are_rejected():
    with pytest.raises(ValueError, match="objective must be between 0 and 1"):
        burn(errors(0.01, 9), objective=99.9)
    with pytest.raises(ValueError, match="measure must be"):
        burn(errors(0.01, 9), measure="latency")
