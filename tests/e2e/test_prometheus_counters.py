"""A raw counter in a real Prometheus, read by the generic Skill without ``rate()``: judged by its rate."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config import get_settings
from agent.events import Event
from agent.investigate import investigate
from agent.runtime import live_toolkit
from agent.series import Series

pytestmark = pytest.mark.e2e

T0 = 1_767_000_000.0  # the alert; the data runs from an hour before it to 5 minutes after


@pytest.fixture(scope="module")
def counter_prometheus(start_prometheus) -> str:
    """``http_requests_total`` of ``orders`` growing about 50/s, flat (nothing served) from 3 minutes before T0."""
    rng = np.random.default_rng(11)
    times = T0 - 3600 + 60.0 * np.arange(66)
    per_second = 50.0 + rng.normal(0.0, 2.0, times.size)
    per_second[times >= T0 - 180] = 0.0
    return start_prometheus([Series("http_requests_total", {"service": "orders"}, times,
                                    np.round(np.cumsum(per_second * 60.0)))])


def test_a_counter_that_stops_growing_is_found_as_a_fall_per_second(counter_prometheus, bianque_home, monkeypatch):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", counter_prometheus)
    get_settings.cache_clear()
    event = Event.model_validate({"pattern": "rca", "time": T0, "service": "orders",
                                  "alert": {"labels": {"alertname": "OrdersDown", "service": "orders"}}})
    result = investigate(event, live_toolkit(get_settings()), source="api")
    found = [f for f in result.findings if f.metric == "http_requests_total" and f.score >= 0.35]
    assert found, result.report
    assert found[0].direction == "down" and found[0].source.startswith("prometheus:")
    assert "0/s vs" in found[0].summary
