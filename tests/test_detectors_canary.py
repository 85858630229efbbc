"""Canary vs baseline and before/after a change: Mann-Whitney + relative effect, direction aware."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_canary, detect_change_impact, select_by_labels
from agent.detectors.comparison import compare_samples
from agent.findings import FindingKind
from agent.series import Series

T0 = 1772445600.0  # 2026-03-02T10:00:00Z
N = 30
LATENCY = "request_latency_p99_seconds"


def instance(values: np.ndarray, name: str, version: str, metric: str = LATENCY) -> Series:
    ts = T0 + 60.0 * np.arange(values.size)
    labels = {"service": "ranking", "instance": name, "version": version}
    return Series(metric, labels, ts, np.asarray(values, dtype=float))


def fleet(seed: int, canary_level: float, base_level: float = 0.18, sd: float = 0.01, metric: str = LATENCY):
    rng = np.random.default_rng(seed)
    canary = [instance(canary_level + rng.normal(0, sd, N), f"c{i}", "v2", metric) for i in range(2)]
    baseline = [instance(base_level + rng.normal(0, sd, N), f"b{i}", "v1", metric) for i in range(4)]
    return canary, baseline


def run(canary, baseline, **kw):
    return detect_canary(canary, baseline, start=T0, end=T0 + N * 60, **kw)


def test_clear_latency_regression():
    canary, baseline = fleet(1, canary_level=0.42)
    [finding] = run(canary, baseline, signal="p99", source="bundle:metrics.csv")
    assert finding.kind == FindingKind.CANARY_REGRESSION
    assert (finding.subject, finding.service, finding.signal) == ("ranking", "ranking", "p99")
    assert finding.direction == "up" and finding.detector == "canary"
    assert finding.numbers["canary_median"] == pytest.approx(0.42, abs=0.01)
    assert finding.numbers["baseline_median"] == pytest.approx(0.18, abs=0.01)
    assert finding.numbers["rel_change"] == pytest.approx(1.33, abs=0.1)
    assert finding.numbers["n_canary"] == 60 and finding.numbers["n_baseline"] == 120
    assert finding.score > 0.8
    assert "canary 420ms vs baseline 180ms (+13" in finding.summary
    assert finding.source == "bundle:metrics.csv"


def test_identical_distributions_give_nothing():
    canary, baseline = fleet(2, canary_level=0.18)
    assert run(canary, baseline) == []


def test_noise_with_equal_median_gives_nothing():
    canary, baseline = fleet(3, canary_level=0.18, sd=0.08)
    assert run(canary, baseline) == []


def test_tiny_but_significant_effect_is_below_min_effect():
    canary, baseline = fleet(4, canary_level=0.19, sd=0.002)  # +5.5 %, p tiny
    result = compare_samples(
        np.concatenate([s.values for s in canary]), np.concatenate([s.values for s in baseline])
    )
    assert result is not None and result.p_value < 1e-6 and result.classification == "pass"
    assert run(canary, baseline) == []
    assert len(run(canary, baseline, min_effect=0.05)) == 1


def test_direction_awareness():
    worse_ctr, baseline = fleet(5, canary_level=0.02, base_level=0.05, sd=0.002, metric="click_through_ratio")
    assert run(worse_ctr, baseline, direction="up") == []  # a drop is not bad for an "up" metric
    [down] = run(worse_ctr, baseline, direction="down")
    assert down.direction == "down" and down.numbers["rel_change"] < -0.5
    [both] = run(worse_ctr, baseline, direction="both")
    assert both.direction == "down"


def test_better_canary_passes():
    canary, baseline = fleet(6, canary_level=0.09)
    assert run(canary, baseline) == []


def test_too_few_samples_or_no_baseline_gives_nothing():
    canary, baseline = fleet(7, canary_level=0.42)
    assert detect_canary(canary, baseline, start=T0, end=T0 + 120) == []  # 2 samples per instance
    assert run(canary, []) == []


def test_min_abs_effect_floor():
    canary, baseline = fleet(8, canary_level=0.002, base_level=0.0005, sd=0.0001, metric="request_error_ratio")
    assert len(run(canary, baseline)) == 1
    assert run(canary, baseline, min_abs_effect=0.01) == []


def test_select_by_labels():
    canary, baseline = fleet(9, canary_level=0.2)
    everything = canary + baseline
    assert select_by_labels(everything, {"version": "v2"}) == canary
    assert select_by_labels(everything, {"version": "v2", "instance": "c1"}) == [canary[1]]
    assert select_by_labels(everything, {"version": "v3"}) == []


def step_series(seed: int, step_at: int, jump: float, n: int = 60) -> Series:
    values = 0.18 + np.random.default_rng(seed).normal(0, 0.01, n)
    values[step_at:] += jump
    return Series("request_latency_p99_seconds", {"service": "ranking", "instance": f"r{seed}"},
                  T0 + 60.0 * np.arange(n), values)


def test_change_impact_regression_with_delayed_onset():
    change_ts = T0 + 30 * 60
    series = [step_series(seed, step_at=33, jump=0.2) for seed in (10, 11)]
    [finding] = detect_change_impact(series, change_ts=change_ts, before=1800, after=1800, change_id="deploy-8812")
    assert finding.kind == FindingKind.CHANGE_REGRESSION and finding.detector == "change_impact"
    assert finding.onset == change_ts + 180
    assert finding.numbers["onset_delay_s"] == 180
    assert finding.numbers["n_after"] == 60 and finding.numbers["n_before"] == 60
    assert finding.window_start == change_ts - 1800 and finding.window_end == change_ts + 1800
    assert "after deploy-8812" in finding.summary and finding.score > 0.7


def test_change_impact_nothing_when_unchanged_or_changed_before_the_change():
    change_ts = T0 + 30 * 60
    assert detect_change_impact([step_series(12, step_at=0, jump=0.0)], change_ts=change_ts) == []
    assert detect_change_impact([step_series(13, step_at=10, jump=0.2)], change_ts=change_ts) == []


def daily(seed: int, rise: float, extra: float = 0.0) -> tuple[Series, Series]:
    """A metric that rises by ``rise`` at the same hour every day: (today, with ``extra`` on top after the change;
    the same hours a day earlier)."""
    rng = np.random.default_rng(seed)
    hours = 60.0 * np.arange(60)
    shape = np.where(np.arange(60) >= 30, 1.0 + rise, 1.0)
    today = Series("requests_per_second", {"service": "ranking"}, T0 + 86400 + hours,
                   shape * 100 + extra * 100 * (np.arange(60) >= 30) + rng.normal(0, 2, 60))
    earlier = Series("requests_per_second", {"service": "ranking"}, T0 + hours, shape * 100 + rng.normal(0, 2, 60))
    return today, earlier


def test_change_impact_judges_a_change_against_the_same_hours_a_day_before():
    """A rise the series makes every day at that hour is the daily cycle; a rise beyond it is the change's."""
    change_ts = T0 + 86400 + 30 * 60
    common = {"change_ts": change_ts, "before": 1800, "after": 1800, "direction": "up", "min_effect": 0.3}
    today, earlier = daily(1, rise=0.5)
    assert len(detect_change_impact([today], **common)) == 1  # without the day before: a regression
    assert detect_change_impact([today], earlier=[earlier], **common) == []
    worse, earlier = daily(2, rise=0.5, extra=0.5)
    [finding] = detect_change_impact([worse], earlier=[earlier], **common)
    assert finding.numbers["earlier_rel_change"] == pytest.approx(0.5, abs=0.05)
    flat_day_before = Series(earlier.metric, earlier.labels, earlier.timestamps, np.full(60, 100.0))
    assert len(detect_change_impact([today], earlier=[flat_day_before], **common)) == 1
