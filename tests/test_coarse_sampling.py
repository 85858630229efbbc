"""Coarse sampling (five-minute series, as cloud monitoring often keeps): persistence, windows and onset order
are measured in samples as well as in seconds, so a fresh fault is still seen and placed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.detectors import detect_onset
from agent.detectors.changepoint import persistence_points
from agent.eval.runner import evaluate
from agent.events import Pattern
from agent.findings import Finding, FindingKind
from agent.graph.reference import RECENT_REFERENCE_GAP_S, reference_split
from agent.reasoners.service_evidence import ONSET_TOLERANCE_S, no_later, onset_tolerance
from agent.series import Series, sample_step
from agent.sim.scenario import build_scenario, thin_scenario, write_scenario

T0 = 1772445600.0
STEP = 300.0


def five_minute_series(values: list[float]) -> Series:
    ts = T0 + STEP * np.arange(len(values))
    return Series("cache_hit_ratio", {"service": "cache"}, ts, np.asarray(values, dtype=float))


def test_persistence_is_three_samples_at_one_minute_and_two_when_coarser():
    assert persistence_points(15.0) == (3, 4)
    assert persistence_points(60.0) == (3, 4)
    assert persistence_points(300.0) == (2, 3)


def test_a_jittered_one_minute_series_is_held_to_three_samples():
    # scrape times a few seconds early or late: the median gap is 60.5 s, still one-minute sampling, and two
    # raised samples at the window's end are no sustained deviation yet
    rng = np.random.default_rng(0)
    ts = T0 + np.concatenate([[0.0], np.cumsum(np.tile([59.0, 60.5, 62.0], 12))[:35]])  # gaps of 59 to 62 s
    assert sample_step([Series("m", {}, ts, np.zeros(36))]) == 60.5
    values = np.concatenate([0.008 + rng.normal(0.0, 0.0005, 34), [0.016, 0.0165]])
    series = Series("latency_seconds", {"service": "cart"}, ts, values)
    found = detect_onset([series], start=T0, end=float(ts[-1]) + 1, baseline_end=float(ts[-8]) - 30, direction="up")
    assert found == []


def test_sample_step_is_the_median_gap():
    assert sample_step([five_minute_series([1.0] * 12)]) == STEP
    jittered = Series("m", {}, np.array([0.0, 59.0, 120.0, 181.0, 240.0]), np.zeros(5))
    assert sample_step([jittered]) == pytest.approx(60.0, abs=1.0)
    assert sample_step([Series("m", {}, np.array([5.0]), np.zeros(1))]) == 60.0  # unknown: the default


def test_a_fault_two_samples_old_is_found_on_five_minute_data():
    rng = np.random.default_rng(3)
    values = list(0.93 + rng.normal(0.0, 0.004, 14)) + [0.19, 0.20]  # the last two samples fell
    series = five_minute_series(values)
    end = float(series.timestamps[-1]) + 1
    split = float(series.timestamps[-4])
    [finding] = detect_onset([series], start=T0, end=end, baseline_end=split, direction="down")
    assert finding.onset == series.timestamps[-2]
    # Three-of-four persistence (one-minute sampling) cannot see it yet: two points are all there is.
    assert detect_onset([series], start=T0, end=end, baseline_end=split, direction="down", k=3, m=4) == []


def test_the_rca_reference_ends_at_least_three_samples_before_the_alert():
    anchor = T0 + 7200
    # each half a sample before the sample it falls on, which stays after it
    assert reference_split(Pattern.RCA, T0, anchor + 300, anchor) == anchor - RECENT_REFERENCE_GAP_S - 30.0
    assert reference_split(Pattern.RCA, T0, anchor + 300, anchor, step=STEP) == anchor - 3 * STEP - STEP / 2


def _finding(step: float) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject="a", service="a", window_start=0, window_end=1, score=0.8,
                   summary="x", numbers={"step_s": step})


def test_onsets_a_sample_apart_are_not_ordered_on_coarse_data():
    assert onset_tolerance([_finding(60.0)]) == ONSET_TOLERANCE_S
    tolerance = onset_tolerance([_finding(STEP), _finding(STEP)])
    assert tolerance == 1.5 * STEP
    assert no_later(T0 + STEP, T0, tolerance)  # one sample later: the same moment
    assert not no_later(T0 + 2 * STEP, T0, tolerance)


@pytest.mark.parametrize(("fault", "seed"), [("cache_failure", 1011), ("traffic_spike", 1031), ("memory_leak", 1039)])
def test_a_simulated_incident_thinned_to_five_minutes_is_still_found(tmp_path: Path, fault: str, seed: int):
    scenario = thin_scenario(build_scenario("rca", fault, seed), STEP)
    assert {sample_step([s]) for s in scenario.series} == {STEP}
    bundle = write_scenario(scenario, tmp_path / "case")
    [score] = evaluate([bundle]).scores
    assert score.needs_attention
    assert score.rank == 1, score.detail
