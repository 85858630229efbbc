"""Data that begins minutes before an alert (the day's first incident, a pod just started): a reference of
three or four samples is judged with a spread of at least its range; fewer cannot be judged."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.detectors.calibration import MIN_REFERENCE, SHORT_REFERENCE, calibrate
from agent.events import Event
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
CHAIN = ["edge", "api", "db"]  # each calls the next


def test_a_short_reference_is_as_wide_as_its_range():
    reference = np.array([26.7, 28.6, 25.7])  # three samples: their MAD (1.0) is luck, their range is not
    found = calibrate(reference, np.array([27.0, 81.0]), "up")
    assert found is not None and found.scale == pytest.approx(2.9)
    assert found.z(np.array([81.0]))[0] > 10 > found.z(np.array([33.0]))[0]
    assert calibrate(reference[: MIN_REFERENCE - 1], np.array([81.0]), "up") is None


def test_a_reference_of_five_or_more_uses_its_robust_spread():
    reference = np.array([26.7, 28.6, 25.7, 26.9, 26.5])
    found = calibrate(reference, np.array([27.0]), "up")
    assert SHORT_REFERENCE <= reference.size and found is not None and found.scale < np.ptp(reference)


def investigate_chain(tmp_path, minutes_of_data: int, fault: bool = True, pattern: str = "rca"):
    """The alert on ``edge`` at T0; ``db``'s CPU triples two minutes before it (unless not ``fault``); data
    from ``minutes_of_data`` minutes before the alert, one sample a minute."""
    rng = np.random.default_rng(7)
    times = T0 - 60.0 * minutes_of_data + 60.0 * np.arange(minutes_of_data + 3)
    series = []
    for service in CHAIN:
        for metric, base in (("cpu_usage_percent", 30.0), ("request_latency_p90_seconds", 0.1)):
            values = base * (1 + 0.03 * rng.normal(size=times.size))
            if fault and service == "db" and metric.startswith("cpu"):
                values[times >= T0 - 120] *= 3
            series.append(Series(metric, {"service": service}, times, values))
    alert = {"service": "edge", "alert": {"labels": {"alertname": "EdgeSlow", "service": "edge"}}}
    event = Event.model_validate({"pattern": pattern, "time": T0, **(
        alert if pattern == "rca" else {"scope": {"services": CHAIN}})})
    topology = {caller: [callee] for caller, callee in pairwise(CHAIN)}
    bundle = load_bundle(write_bundle(tmp_path / "case", event, series, topology=topology))
    return investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                       source="cli").verdict


def test_three_samples_before_the_fault_are_enough_to_find_it(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=5)  # reference: the first three samples
    assert verdict.judged and verdict.needs_attention, verdict.attention_reason
    assert verdict.root_causes[0].service == "db"


def test_a_short_history_where_nothing_moved_is_not_called_noise(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=5, fault=False)
    assert verdict.judged and verdict.needs_attention
    assert "too short a history to call the alert noise" in verdict.attention_reason
    assert verdict.evidence  # the caveat is cited


def test_an_inspection_of_a_short_history_is_no_clean_bill_of_health(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=6, fault=False, pattern="inspection")  # 4 reference samples
    assert verdict.judged and not verdict.summary.startswith("Healthy"), verdict.summary
    assert "too short a history to call a clean bill of health" in verdict.summary
    long = investigate_chain(tmp_path / "long", minutes_of_data=60, fault=False, pattern="inspection")
    assert "too short a history" not in long.summary


def test_a_long_history_where_nothing_moved_is_noise(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=20, fault=False)
    assert verdict.judged and not verdict.needs_attention, verdict.attention_reason


def test_two_samples_before_the_fault_cannot_be_judged(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=4)  # reference: the first two samples
    assert not verdict.judged and verdict.needs_attention
    assert verdict.attention_reason.startswith("could not judge")
