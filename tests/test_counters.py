"""Cumulative counters are judged by their per-second rate, not by their ever-growing value."""

from __future__ import annotations

import numpy as np
import pytest

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.detectors.counters import as_rate, counts_by_shape, looks_cumulative, rated, rated_by_shape
from agent.detectors.wording import fmt_value
from agent.events import Event, InspectionScope, Pattern
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
TIMES = T0 - 3600 + 60.0 * np.arange(66)


def counter(name: str, per_second: np.ndarray, service: str = "orders") -> Series:
    return Series(name, {"service": service}, TIMES, np.cumsum(per_second * 60.0))


def test_a_counter_becomes_its_per_second_increase_and_a_fall_is_a_reset() -> None:
    series = Series("http_requests_total", {"service": "a"}, np.array([0.0, 10, 20, 30, 40]),
                    np.array([100.0, 150, 200, 20, 70]))
    rate = as_rate(series)
    assert rate.timestamps.tolist() == [10.0, 20, 30, 40]
    assert rate.values.tolist() == [5.0, 5.0, 2.0, 5.0]  # after the restart the counter counts from 0 again


@pytest.mark.parametrize(("name", "values", "expected"), [
    ("http_requests_total", [1.0, 2, 4, 7, 9], True),
    ("request_duration_seconds_count", [10.0, 12, 15, 15, 18], True),
    ("http_requests_total", [5.0, 3, 6, 2, 7], False),  # goes up and down: already a rate
    ("http_requests_total", [3.0, 3, 3, 3, 3], False),  # flat: nothing to convert
    ("http_requests_total", [-1.0, 2, 4, 7, 9], False),
    ("thread_count", [8.0, 9, 7, 10, 6], False),  # a gauge with a counter-like name
    ("cpu_usage_percent", [1.0, 2, 4, 7, 9], False),  # a rising gauge is a gauge
    ("http_requests_total", [1.0, 2], False),
])
def test_only_counter_named_series_that_look_cumulative_are_converted(name, values, expected) -> None:
    series = Series(name, {"service": "a"}, 60.0 * np.arange(len(values)), np.array(values))
    assert looks_cumulative(series) is expected
    assert (rated(series) is series) is not expected


def test_counter_values_are_shown_per_second() -> None:
    assert fmt_value("http_errors_total", 2.5) == "2.5/s"
    assert fmt_value("http_errors", 2.5) == "2.5"


def _investigate(tmp_path, series: list[Series]):
    bundle = load_bundle(write_bundle(tmp_path / "case", Event(pattern=Pattern.RCA, time=T0, service="orders"),
                                      series))
    return investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                       source="cli")


def test_a_counter_that_stops_growing_is_found_as_a_fall_and_reported_per_second(tmp_path) -> None:
    rng = np.random.default_rng(5)
    requests = 50.0 + rng.normal(0.0, 2.0, TIMES.size)
    requests[58:] = 0.0  # nothing is served any more: the counter stays where it was
    result = _investigate(tmp_path, [counter("http_requests_total", requests)])
    found = [f for f in result.findings if f.metric == "http_requests_total" and f.score >= 0.35]
    assert found and found[0].direction == "down"
    assert "0/s vs" in found[0].summary


@pytest.mark.parametrize(("values", "expected"), [
    (np.cumsum(np.full(12, 3.0)), True),  # a count no name calls one: it never falls
    (np.array([5.0, 5, 6, 6, 6, 9, 9, 9, 9, 12, 12, 13]), True),  # and need not grow at every step
    (np.cumsum(np.full(9, 3.0)), False),  # too few samples to tell a count from a gauge
    (np.array([5.0, 6, 7, 8, 9, 8, 10, 11, 12, 13, 14, 15]), False),  # fell once: a gauge
    (np.full(12, 4.0), False),  # flat: nothing counted
    (np.cumsum(np.full(12, 3.0)) - 10.0, False),  # negative: no count
])
def test_a_series_that_never_falls_counts_whatever_its_name(values, expected) -> None:
    series = Series("consumer_offset", {"service": "a"}, 60.0 * np.arange(values.size), values)
    assert counts_by_shape(series) is expected
    assert (rated_by_shape(series) is series) is not expected


@pytest.mark.parametrize("series", [
    Series("cache_hit_ratio", {"service": "a"}, 60.0 * np.arange(12), np.linspace(0.1, 0.9, 12)),  # a share
    Series("request_latency_seconds", {"service": "a"}, 60.0 * np.arange(12), np.linspace(0.1, 0.9, 12)),  # a wait
    Series("requests_per_second", {"service": "a"}, 60.0 * np.arange(12), np.linspace(10.0, 90.0, 12)),  # a rate
    # a counter read as its rate by its name already: a rate rising steadily is no count
    as_rate(counter("http_requests_total", np.linspace(1.0, 2.0, TIMES.size))),
    Series("replicas", {"service": "a"}, 60.0 * np.arange(12), np.array([3.0] * 6 + [4.0] * 6)),  # one step up
    Series("replicas", {"service": "a"}, 60.0 * np.arange(12), np.array([3.0] * 4 + [4.0] * 4 + [5.0] * 4)),
])
def test_a_series_that_never_falls_is_no_count_when_its_name_or_its_few_steps_say_otherwise(series) -> None:
    assert not counts_by_shape(series)
    assert rated_by_shape(series) is series


def test_a_rate_keeps_saying_per_second_in_its_windows() -> None:
    rate = as_rate(Series("consumer_offset", {"service": "a"}, 60.0 * np.arange(12), np.cumsum(np.full(12, 3.0))))
    assert rate.per_second and rate.between(0.0, 300.0).per_second and rate.last(3).per_second
    assert fmt_value("consumer_offset", 0.05, per_second=True) == "0.05/s"
    assert fmt_value("disk_read_bytes", 2048.0, per_second=True) == "2.0KiB/s"
    assert fmt_value("http_requests_total", 2.5) == "2.5/s"


def _investigated(tmp_path, per_sample: np.ndarray):
    """Two days and two hours of an offset no name calls a counter, growing by ``per_sample`` every five minutes,
    inspected over the last two hours by the generic Skill."""
    times = T0 - 2 * 86400 - 7200 + 300.0 * np.arange(per_sample.size)
    event = Event(pattern=Pattern.INSPECTION, time=T0, service="orders",
                  scope=InspectionScope(services=["orders"], window=7200))
    series = Series("consumer_offset", {"service": "orders"}, times, 5e5 + np.cumsum(per_sample))
    bundle = load_bundle(write_bundle(tmp_path / "case", event, [series]))
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    assert result.skill["name"] == "generic-inspection"
    return result


def _inspected(tmp_path, per_sample: np.ndarray):
    """The warnings and worse of ``_investigated``."""
    return [i for i in _investigated(tmp_path, per_sample).verdict.items if i.severity in ("warning", "critical")]


def test_an_inspection_judges_an_unnamed_count_by_its_rate_not_its_ever_new_level(tmp_path) -> None:
    """Its level in the window is beyond every level of the reference days, as any count's is: no anomaly while it
    counts as it always did; counting three times as fast is one."""
    counts = np.random.default_rng(7).poisson(40.0, 2 * 288 + 24).astype(float)
    assert _inspected(tmp_path / "steady", counts) == []
    counts[-12:] *= 3.0
    assert [i.service for i in _inspected(tmp_path / "faster", counts)] == ["orders"]


def test_an_unnamed_count_read_as_its_rate_is_summarised_per_second(tmp_path) -> None:
    counts = np.random.default_rng(7).poisson(40.0, 2 * 288 + 24).astype(float)
    counts[-12:] *= 3.0
    found = [f for f in _investigated(tmp_path, counts).findings if f.metric == "consumer_offset" and f.score >= 0.5]
    assert found and all("/s vs" in f.summary or "/s over" in f.summary for f in found), [f.summary for f in found]

