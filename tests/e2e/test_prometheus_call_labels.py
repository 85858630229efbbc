"""Live, without a topology file: the calls the series' labels name, read off a real Prometheus (backfilled with
promtool, ``prometheus_url``: gateway -> ranking in Istio's labels, ranking -> retrieval in a client span's)."""

from __future__ import annotations

import pytest

from agent.call_labels import CONVENTIONS
from agent.config import get_settings
from agent.events import Alert, Event
from agent.graph.nodes.gather import gather
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.runtime import live_toolkit
from agent.sources.prometheus import PrometheusMetricSource
from tests.fixtures.graph.world import advance, start_state

pytestmark = pytest.mark.e2e

CONVENTION = {c.name: c for c in CONVENTIONS}


@pytest.fixture(scope="module")
def window(prometheus_series) -> tuple[float, float]:
    ts = prometheus_series[0].timestamps
    return float(ts[0]), float(ts[-1])


def test_the_source_answers_the_pairs_each_convention_names(prometheus_url, window):
    source = PrometheusMetricSource(prometheus_url)
    istio = source.calls(CONVENTION["source_workload/destination_workload"], *window)
    assert istio.status == "ok", istio.error
    assert istio.data == [("gateway", "ranking"), ("unknown", "gateway")]
    assert "group by (source_workload, destination_workload)" in istio.request["expr"]
    spans = source.calls(CONVENTION["service_name/peer_service"], *window)
    assert spans.data == [("ranking", "retrieval")]  # the server span names no call
    assert source.calls(CONVENTION["client/server"], *window).data == [("ranking", "db-host-3")]
    assert source.calls(CONVENTION["caller/callee"], *window).status == "no_data"
    later = source.calls(CONVENTION["source_workload/destination_workload"], window[1] + 3600, window[1] + 7200)
    assert later.status == "no_data"


def test_an_unreachable_server_is_a_failed_result():
    result = PrometheusMetricSource("http://127.0.0.1:9", timeout=1.0).calls(CONVENTIONS[0], 0.0, 60.0)
    assert result.status == "error" and "cannot reach" in result.error


def test_a_live_investigation_without_a_topology_file_reads_the_calls_off_the_labels(prometheus_url, window,
                                                                                     monkeypatch):
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", prometheus_url)
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    toolkit = live_toolkit(settings)
    assert toolkit.topology is None
    alert = Alert(labels={"alertname": "LatencyHigh", "service": "gateway"}, startsAt=window[1] - 300)
    event = Event(pattern="rca", time=window[1], service="gateway", alert=alert)
    state = advance(start_state(event), toolkit, triage, select_skill, gather)
    assert state["calls"] == {"gateway": ["ranking"], "ranking": ["retrieval"]}
    assert ("no call graph given: 2 call(s) among 3 services read off metric labels naming caller and callee "
            "(source_workload/destination_workload, service_name/peer_service); 2 pair(s) naming something that "
            "is no service with data left out") in state["notes"]
    assert state["gathered"]["dependencies"] == ["ranking", "retrieval"]  # not every service with data
    assert not any("no call graph covers" in note for note in state["notes"])
