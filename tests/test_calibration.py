"""Calibrated scores: each series against its own reference noise, the same meaning everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_onset
from agent.detectors.calibration import (
    MIN_EXCURSION,
    MIN_REFERENCE,
    calibrate,
    past_episodes,
    resolution,
    shorth,
)
from agent.detectors.deviation import WEAK_SCORE, detect_deviation
from agent.findings import Finding, FindingKind
from agent.reasoners.ranking import rank_services
from agent.series import Series

T0 = 1772445600.0
N = 60
START, END, SPLIT = T0, T0 + N * 60, T0 + 30 * 60


def series(values: np.ndarray, metric: str = "some_metric", service: str = "svc") -> Series:
    return Series(metric, {"service": service}, T0 + 60.0 * np.arange(len(values)), np.asarray(values, float))


def step(level: float, sd: float, jump_sds: float, seed: int) -> np.ndarray:
    values = level + np.random.default_rng(seed).normal(0.0, sd, N)
    values[40:] += jump_sds * sd
    return values


def onset_score(values: np.ndarray, **kw) -> float:
    found = detect_onset([series(values)], start=START, end=END, baseline_end=SPLIT, min_effect=0.0, **kw)
    return found[0].score if found else 0.0


def test_the_same_step_in_noise_units_scores_alike_on_quiet_and_noisy_series():
    quiet = onset_score(step(100.0, 2.0, 10, seed=1))  # noise above the 1 % floor
    noisy = onset_score(step(100.0, 20.0, 10, seed=1))
    assert quiet > 0.5 and noisy > 0.5
    assert abs(quiet - noisy) < 0.05


def test_a_series_that_spikes_normally_needs_a_larger_deviation():
    rng = np.random.default_rng(3)
    calm = 100.0 + rng.normal(0.0, 1.0, N)
    spiky = calm.copy()
    spiky[[3, 9, 17, 24]] += 15.0  # isolated spikes in the reference: how this series is noisy
    for values in (calm, spiky):
        values[40:] += 8.0  # the same shift on both
    assert onset_score(calm) > 0.5
    assert onset_score(spiky) < onset_score(calm)
    calibration = calibrate(spiky[:30], spiky[30:], "up")
    assert calibration is not None and calibration.excursion > MIN_EXCURSION


def test_flat_and_zero_baselines_give_finite_scores():
    flat = np.full(N, 100.0)
    flat[40:] = 99.0  # success rate 100 % -> 99 %
    calibration = calibrate(flat[:30], flat[30:], "down")
    assert calibration is not None
    assert np.isfinite(calibration.z(flat[30:])).all() and calibration.z(flat[30:]).max() == pytest.approx(1.0)
    counter = np.zeros(N)
    counter[40:] = 7.0  # a counter that sat at zero starts moving
    zero = calibrate(counter[:30], counter[30:], "up")
    assert zero is not None and np.isfinite(zero.excess(counter[30:])).all()
    assert zero.excess(counter[30:]).max() > 1.0


def test_too_short_a_reference_gives_no_calibration():
    assert calibrate(np.linspace(1, 2, MIN_REFERENCE - 1), np.ones(10), "up") is None
    assert calibrate(np.linspace(1, 2, MIN_REFERENCE), np.ones(10), "up") is not None


def test_an_earlier_incident_in_a_short_reference_is_set_aside_when_asked():
    # a real reference (CPU, an OnlineBoutique pod): the previous incident fills half of it
    reference = np.array([5.34, 5.73, 5.15, 9.1, 16.07, 20.05, 14.53, 20.9, 20.97, 17.55, 4.72, 5.23])
    current = np.array([3.0, 3.1, 2.6, 5.5, 3.9, 4.1, 5.1, 5.4, 19.9, 19.99, 16.1, 3.8, 5.2])
    assert past_episodes(reference, magnitude=21.0, rel_floor=0.01).tolist() == [False] * 3 + [True] * 7 + [False] * 2
    assert shorth(reference) < 6.0  # the densest half is the normal level, not the incident's
    kept = calibrate(reference, current, "up")
    aside = calibrate(reference, current, "up", set_aside_episodes=True)
    assert kept is not None and aside is not None
    assert aside.excess(current).max() > 2.0 > kept.excess(current).max()


def _lone_peak(reference_points: int, window_points: int = 15) -> tuple[Series, float]:
    """A quiet series with one far point in its last ``window_points``, and where its reference ends."""
    values = 50.0 + np.random.default_rng(5).normal(0.0, 1.0, reference_points + window_points)
    values[reference_points + window_points // 2] += 30.0  # one far point, not persistent
    return series(values), T0 + 60.0 * reference_points - 1.0


def test_weak_deviation_scores_are_capped_unless_lifted():
    peaked, split = _lone_peak(reference_points=45)
    common = {"start": START, "end": T0 + 60.0 * 60, "baseline_end": split, "direction": "up"}
    weak = detect_deviation([peaked], **common)
    lifted = detect_deviation([peaked], max_score=1.0, **common)
    assert weak and weak[0].score == WEAK_SCORE
    assert lifted and lifted[0].score > 0.9 and lifted[0].numbers["excess"] > 3.0


def test_a_lone_peak_beside_a_short_reference_is_not_called_rare():
    """With a reference shorter than three windows the window would hold the most extreme point of all with
    a chance over 1 in 4 even were nothing different: the peak keeps the weak cap, and says why."""
    peaked, split = _lone_peak(reference_points=30)
    (finding,) = detect_deviation([peaked], start=START, end=T0 + 60.0 * 45, baseline_end=split,
                                  direction="up", max_score=1.0)
    assert finding.score == WEAK_SCORE and finding.numbers["excess"] > 3.0
    assert finding.numbers["peak_chance"] == pytest.approx(15 / 45, abs=1e-3)
    assert "a reference of 30 points beside 15 is too short to call one point rare" in finding.summary


def _anomaly(service: str, metric: str, score: float) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject=service, service=service, metric=metric, signal="other",
                   window_start=T0, window_end=END, onset=SPLIT, score=score, direction="up",
                   summary=f"{service} {metric}", numbers={"active_z": 5.0})


def test_a_service_does_not_score_higher_for_having_more_metrics():
    findings = [_anomaly("many", f"metric_{i}", 0.6) for i in range(12)] + [_anomaly("one", "metric_0", 0.6)]
    ranked = {e.service: e for e in rank_services(findings, [], {})}
    assert ranked["many"].strength == pytest.approx(ranked["one"].strength)


@pytest.mark.parametrize("size", [1, 2, 5, 12, 577])
def test_the_fast_quantile_is_numpys(size):
    from agent.detectors.calibration import quantile

    values = np.random.default_rng(size).normal(size=size)
    for q in (0.0, 0.25, 0.5, 0.99, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), abs=1e-12)


# A real request rate (TrainTicket, one pod, requests per 15 s as ops/s): a few requests a minute, whole requests
REQUESTS_15S = np.array([0, 1, 2, 5, 0, 0, 1, 3, 2, 1, 1, 2, 0, 2, 3, 2, 1, 1, 1, 0, 0, 0]) / 15.0


def test_the_resolution_of_a_series_is_its_smallest_step_between_values():
    assert resolution(REQUESTS_15S) == pytest.approx(1 / 15)
    assert resolution(np.array([3.0, 3.0, 3.0])) == 0.0
    assert resolution(np.array([0.1 + 0.2, 0.3, 0.5])) == pytest.approx(0.2)  # rounding is no step
    assert resolution(np.random.default_rng(1).normal(10.0, 1.0, 50)) < 0.3  # well within its spread (sd 1)


# The same counts as a scraper's rate() reports them: each extrapolated to its window's edges, never exact twice
JITTERED_15S = REQUESTS_15S * (1.0 + np.random.default_rng(7).uniform(0.0, 0.005, REQUESTS_15S.size))


def test_jitter_around_a_level_is_no_step_between_levels():
    assert resolution(JITTERED_15S) == pytest.approx(1 / 15, rel=0.02)
    # a latency quantile interpolated inside one histogram bucket most of the time, now and then in the next
    bucketed = np.array([0.0046, 0.00459, 0.0046, 0.004601, 0.0425, 0.0046, 0.004598, 0.0046, 0.04251, 0.0046])
    assert resolution(bucketed) > 0.03


def test_jittered_counts_of_a_few_requests_are_not_taken_for_earlier_incidents():
    # one level held by a quarter of the points, but jittered: its spread was the jitter, every other count "far"
    assert not past_episodes(JITTERED_15S, magnitude=float(JITTERED_15S.max()), rel_floor=0.01).any()
    aside = calibrate(JITTERED_15S, np.array([1, 1, 0, 1, 2]) / 15.0, "up", set_aside_episodes=True)
    assert aside is not None and aside.excess(np.array([2 / 15])).max() < 1.0  # two requests now are nothing new


def test_counts_of_a_few_requests_are_not_taken_for_earlier_incidents():
    # a quarter of the points on one level gave the episode test no spread: every other count was "far"
    assert not past_episodes(REQUESTS_15S, magnitude=float(REQUESTS_15S.max()), rel_floor=0.01).any()
    aside = calibrate(REQUESTS_15S, np.array([1, 1, 0, 1, 2]) / 15.0, "up", set_aside_episodes=True)
    assert aside is not None and aside.excess(np.array([1 / 15])).max() < 1.0  # one request now is nothing new
    incident = REQUESTS_15S.copy()
    incident[8:12] = 40 / 15.0  # a burst of forty a sample for four samples is still an earlier incident
    assert past_episodes(incident, magnitude=40 / 15.0, rel_floor=0.01)[8:12].all()
