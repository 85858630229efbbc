"""A real Prometheus holding what instrumented services export: a latency histogram and a request counter split
by status. The generic Skill reads them with plain selectors: the buckets as p50 / p99, the 5xx series as
failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from agent.config import get_settings
from agent.events import Event
from agent.investigate import investigate
from agent.runtime import live_toolkit
from agent.series import Series

pytestmark = pytest.mark.e2e

T0 = 1_767_100_000.0  # the alert; the data runs from an hour before it to 5 minutes after
TIMES = T0 - 3600 + 60.0 * np.arange(66)
BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)


def _histogram(service: str, median: np.ndarray, p99: np.ndarray) -> list[Series]:
    sigma = np.log(p99 / median) / norm.ppf(0.99)
    return [Series("http_request_duration_seconds_bucket", {"service": service, "le": "+Inf" if math.isinf(b) else
                                                            f"{b:g}"}, TIMES,
                   np.round(np.cumsum(40.0 * 60.0 * (np.ones(TIMES.size) if math.isinf(b) else
                                                     norm.cdf((np.log(b) - np.log(median)) / sigma)))))
            for b in BOUNDS]


@pytest.fixture(scope="module")
def instrumented_prometheus(start_prometheus) -> str:
    """``catalog`` slows down (its latency histogram's p99 tenfold) from 5 minutes before T0; ``orders`` starts
    failing requests (its ``code="500"`` counter) at the same time; ``storefront`` stays as it was. No call graph:
    every service with data is examined."""
    rng = np.random.default_rng(5)
    def around(level: float) -> np.ndarray:
        return level * (1.0 + rng.normal(0.0, 0.03, TIMES.size))
    late = TIMES >= T0 - 300
    median, p99 = around(0.03), around(0.3)
    median[late] *= 4.0
    p99[late] *= 10.0
    failed = around(0.05)
    failed[late] += 8.0
    series = [*_histogram("catalog", median, p99), *_histogram("storefront", around(0.05), around(0.4)),
              *(Series("http_requests_total", {"service": "orders", "code": code}, TIMES, np.round(np.cumsum(v * 60)))
                for code, v in (("200", around(50.0)), ("500", failed)))]
    return start_prometheus(series)


def _investigate(url: str, monkeypatch, service: str):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", url)
    get_settings.cache_clear()
    event = Event.model_validate({"pattern": "rca", "time": T0, "service": service,
                                  "alert": {"labels": {"alertname": "Trouble", "service": service}}})
    return investigate(event, live_toolkit(get_settings()), source="api")


def test_a_live_latency_histogram_is_read_as_its_quantiles(instrumented_prometheus, bianque_home, monkeypatch):
    result = _investigate(instrumented_prometheus, monkeypatch, "catalog")
    slow = [f for f in result.findings if f.service == "catalog" and f.metric == "http_request_duration_p99_seconds"]
    assert slow and slow[0].direction == "up" and slow[0].score >= 0.5, result.report
    assert not [f for f in result.findings if (f.metric or "").endswith("_bucket")]


def test_a_live_5xx_counter_is_read_as_failures(instrumented_prometheus, bianque_home, monkeypatch):
    result = _investigate(instrumented_prometheus, monkeypatch, "orders")
    failing = [f for f in result.findings if f.service == "orders" and f.metric == "5xx:http_requests_total"]
    assert failing and failing[0].direction == "up", result.report
    orders = next(c for c in result.verdict.root_causes if c.service == "orders")
    assert orders.fault == "error_fault"  # read by name, a rise of a request counter is more traffic
