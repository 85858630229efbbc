"""Shared detector helpers: scores, robust statistics, directions, wording."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.detectors.calibration import reference_spread
from agent.detectors.changepoint import run_end
from agent.detectors.direction import bad_signs, is_bad, mwu_alternative
from agent.detectors.robust import diff_noise, finite, relative_change
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_change, fmt_offset, fmt_value, subject_of, untrusted
from agent.series import Series


def test_saturate_and_confidence():
    assert saturate(0) == 0 and saturate(1) == 0.5 and saturate(2) == 0.75 and saturate(math.inf) == 1.0
    assert saturate(-3) == 0 and saturate(math.nan) == 0
    assert p_confidence(0.02, alpha=0.01) == 0.0
    assert p_confidence(0.0099, alpha=0.01) == pytest.approx(0.5, abs=0.01)
    assert p_confidence(1e-5, alpha=0.01) == 1.0
    assert combine(0.9, 2.0) == 1.0 and combine(0.5, 0.5) == 0.25


def test_robust_statistics():
    center, scale = reference_spread(np.array([1.0, 1.0, 1.0, 1.0, 100.0]))
    assert center == 1.0 and scale == pytest.approx(0.01)  # MAD 0: floored at 1 % of the median
    assert reference_spread(np.array([1.0, 1.0, 1.0, 1.0, 100.0]), magnitude=100.0)[1] == pytest.approx(1.0)
    noisy = np.random.default_rng(1).normal(10.0, 2.0, 5000)
    assert reference_spread(noisy)[1] == pytest.approx(2.0, rel=0.05)
    trend_plus_noise = np.linspace(0, 1000, 5000) + noisy
    assert diff_noise(trend_plus_noise) == pytest.approx(2.0, rel=0.1)
    assert relative_change(3.0, 2.0) == 0.5 and relative_change(0.0, 0.0) == 0.0
    assert relative_change(1.0, 0.0) == math.inf and finite(math.inf) == 1e6 and finite(math.nan) == 0.0


def test_directions():
    assert bad_signs("up") == (1,) and bad_signs("both") == (1, -1)
    assert is_bad(-1.0, "down") and not is_bad(-1.0, "up")
    assert mwu_alternative("down") == "less"
    with pytest.raises(ValueError, match="direction"):
        bad_signs("left")


def test_run_end_bridges_single_gaps():
    flags = np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool)
    assert run_end(flags, 0) == 3


def test_wording():
    assert fmt_value("request_latency_p99_seconds", 0.42) == "420ms"
    assert fmt_value("request_latency_p99_seconds", 2.5) == "2.50s"
    assert fmt_value("istio_request_duration_p99_milliseconds", 230.0) == "230ms"
    assert fmt_value("gc_pause_ms", 1500.0) == "1.50s"
    assert fmt_value("memory_usage_bytes", 1.5 * 1024**3) == "1.5GiB"
    assert fmt_value("success_rate_percent", 97.25) == "97.2%"
    assert fmt_value("request_error_ratio", 0.012345) == "0.0123"
    assert fmt_change(1.333) == "+133%" and fmt_change(math.inf) == "from 0"
    assert fmt_offset(86400) == "1d" and fmt_offset(604800) == "7d" and fmt_offset(5400) == "90m"
    assert untrusted('a\x00b\n"c"', limit=10) == "\"a b 'c'\""
    s = Series("m", {"service": "ranking", "instance": "r-1"}, np.empty(0), np.empty(0))
    assert subject_of(s) == "ranking/r-1"
    assert subject_of(Series("m", {}, np.empty(0), np.empty(0))) == "m"


def test_every_metric_detector_accepts_empty_and_tiny_series():
    from agent.detectors import (
        detect_canary,
        detect_change_impact,
        detect_history,
        detect_onset,
        detect_slo_burn,
        detect_threshold,
        detect_trend,
    )

    empty = Series("request_error_ratio", {"service": "a"}, np.empty(0), np.empty(0))
    tiny = Series("request_error_ratio", {"service": "a"}, np.array([0.0, 60.0]), np.array([0.5, 0.9]))
    for s in (empty, tiny):
        assert detect_onset([s], start=0, end=120) == []
        assert detect_canary([s], [s], start=0, end=120) == []
        assert detect_change_impact([s], change_ts=60) == []
        assert detect_history([s], start=0, end=120) == []
        assert detect_threshold([s], threshold=0.1, start=0, end=120) == []
        assert detect_slo_burn([s], objective=0.99, start=0, end=120) == []
        assert detect_trend([s], start=0, end=120) == []
