"""An inspection judges every series at once: a peak must stand out from what the most extreme of that many
normal series would reach, not only from its own reference (``deviation.among_many``)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config import PROJECT_ROOT
from agent.detectors.calibration import MIN_TAIL, calibrate
from agent.detectors.deviation import among_many, detect_deviation
from agent.events import Event, InspectionScope, Pattern
from agent.graph.analysis import analyze_gathered
from agent.series import Series
from agent.skills.library import load_library
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
REFERENCE_POINTS, WINDOW_POINTS = 180, 60  # a reference three windows long: a lone peak may count


def _noise(seed: int, peak: float | None = None, level: float = 100.0) -> np.ndarray:
    """Three hours of unit Gaussian noise around ``level``, one point of the last hour ``peak`` sigmas up."""
    values = level + np.random.default_rng(seed).normal(0.0, 1.0, REFERENCE_POINTS + WINDOW_POINTS)
    values[REFERENCE_POINTS:] = np.clip(values[REFERENCE_POINTS:], level - 2.5, level + 2.5)  # a quiet window
    if peak is not None:
        values[REFERENCE_POINTS + 30] = level + peak
    return values


def _times() -> np.ndarray:
    return T0 - 60.0 * (REFERENCE_POINTS + WINDOW_POINTS) + 60.0 * np.arange(1, REFERENCE_POINTS + WINDOW_POINTS + 1)


def _deviation(peak: float):
    series = Series("queue_depth", {"service": "a"}, _times(), _noise(1, peak))
    split = float(_times()[REFERENCE_POINTS - 1]) + 1
    (finding,) = detect_deviation([series], start=float(_times()[0]), end=T0 + 1, baseline_end=split,
                                  max_score=1.0)
    return finding


def test_one_series_alone_keeps_its_score():
    finding = _deviation(4.5)
    assert among_many(finding, 1) == finding
    assert finding.score >= 0.5


def test_the_bar_rises_with_the_number_of_series_judged():
    finding = _deviation(4.5)
    scores = [among_many(finding, n).score for n in (1, 5, 50, 500)]
    assert scores == sorted(scores, reverse=True) and scores[-1] < scores[0]
    assert among_many(finding, 50).score < 0.5  # a peak most of 50 normal series would reach somewhere
    among = among_many(finding, 50)
    assert among.numbers["series_judged"] == 50 and "most extreme of 50 normal series" in among.summary


def test_a_peak_far_beyond_the_family_stays_a_warning():
    assert among_many(_deviation(12.0), 500).score >= 0.5


def test_other_detectors_are_left_alone():
    finding = _deviation(4.5).model_copy(update={"detector": "onset"})
    assert among_many(finding, 50) == finding


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_tail_follows_the_reference(seed):
    rng = np.random.default_rng(seed)
    gaussian = calibrate(rng.normal(0.0, 1.0, 4000), np.zeros(3), "up")
    heavy = calibrate(rng.laplace(0.0, 1.0, 4000), np.zeros(3), "up")
    lumpy = calibrate(np.r_[np.zeros(3990), np.full(10, 5.0)], np.zeros(3), "up")
    assert gaussian.tail() == pytest.approx(MIN_TAIL, abs=0.1)  # (2.33 - 1.28) / ln 10 robust sigmas
    assert heavy.tail() > gaussian.tail() + 0.2  # a Laplace tail thins more slowly
    assert lumpy.tail() == MIN_TAIL


def _gathered(metric: str, service: str, values: np.ndarray) -> dict:
    return {"signal": "other", "service": service, "role": "target", "period": "current", "metric": metric,
            "labels": {"service": service}, "t": _times().tolist(), "v": values.tolist(), "source": "test"}


@pytest.fixture(scope="module")
def generic_inspection():
    return load_library([PROJECT_ROOT / "skills"]).get("generic-inspection").skill


def _peak_score(skill, others: int) -> float:
    series = [_gathered("queue_depth", "a", _noise(1, 3.6, level=10.0))]  # a 36 % peak: beyond any min_effect
    series += [_gathered(f"metric_{i}", f"svc-{i % 10}", _noise(100 + i, level=10.0)) for i in range(others)]
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["a"], window=3600))
    window = {"start": float(_times()[0]), "end": T0, "anchor": T0,
              "reference_end": float(_times()[REFERENCE_POINTS - 1]) + 1}
    findings = analyze_gathered(skill, event, {"series": series, "logs": [], "changes": []}, ["a"], window)
    return max(f.score for f in findings if f.metric == "queue_depth")


def test_an_inspection_of_many_series_needs_a_peak_beyond_the_family(generic_inspection):
    assert _peak_score(generic_inspection, 0) >= 0.5  # alone: beyond its own reference, a warning
    assert _peak_score(generic_inspection, 59) < 0.5  # one of 60: what chance alone would give one of them


def test_a_peak_smaller_than_the_signals_min_effect_is_not_reported():
    """4.5 sigmas of a series whose noise is 1 % of its level is a 4.5 % change: under a 5 % min_effect."""
    series = Series("queue_depth", {"service": "a"}, _times(), _noise(1, 4.5))
    split = float(_times()[REFERENCE_POINTS - 1]) + 1
    common = {"start": float(_times()[0]), "end": T0 + 1, "baseline_end": split, "max_score": 1.0}
    assert detect_deviation([series], min_effect=0.04, **common)
    assert detect_deviation([series], min_effect=0.05, **common) == []


def test_a_sustained_shift_keeps_its_onset_among_many(generic_inspection):
    """The family bar lowers a deviation before the strongest Finding of a series is picked, so an onset it
    had beaten is kept, not lost to the lowered deviation."""
    shifted = _noise(1, level=10.0)
    shifted[REFERENCE_POINTS + 30:] += 4.0  # 40 % up for the last half hour
    series = [_gathered("queue_depth", "a", shifted)]
    series += [_gathered(f"metric_{i}", f"svc-{i % 10}", _noise(100 + i, level=10.0)) for i in range(59)]
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["a"], window=3600))
    window = {"start": float(_times()[0]), "end": T0, "anchor": T0,
              "reference_end": float(_times()[REFERENCE_POINTS - 1]) + 1}
    findings = analyze_gathered(generic_inspection, event, {"series": series, "logs": [], "changes": []}, ["a"],
                                window)
    (kept,) = [f for f in findings if f.metric == "queue_depth" and f.signal == "other"]
    assert kept.detector == "onset" and kept.score >= 0.5
