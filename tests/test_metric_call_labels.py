"""Without a call graph, the calls metric labels name (Istio, Linkerd, OpenTelemetry span metrics, generic pairs)
become the investigation's, between services the data has; a bundle's metrics.csv carries them as extra columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.bundles.writer import write_bundle
from agent.call_labels import CONVENTIONS, calls_from_labels, service_named
from agent.graph.nodes.analyze import analyze
from agent.graph.nodes.gather import gather
from agent.graph.nodes.reason import reason
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.runtime import bundle_toolkit
from agent.series import LogRecord, Series, make_series
from agent.sources.bundle import BundleMetricSource
from agent.sources.promql import classic_label
from agent.topology import Topology
from tests.fixtures.graph.world import (
    T0,
    TOPOLOGY,
    advance,
    alert_event,
    graph_library,
    start_state,
    world_changes,
    world_logs,
    world_series,
)
from tests.test_live_call_graph import traced_logs

CONVENTION = {c.name: c for c in CONVENTIONS}
ISTIO_NOTE = ("no call graph given: 5 call(s) among 5 services read off metric labels naming caller and callee "
              "(source_workload/destination_workload)")


def requests_total(labels: dict[str, str], start: float = T0 - 7200) -> Series:
    """A per-call counter over the test world's two hours, one sample a minute."""
    ts = np.arange(start, T0 + 600 + 1, 60.0)
    return make_series("istio_requests_total", labels, list(zip(ts.tolist(), (100.0 + ts - ts[0]).tolist(),
                                                                strict=True)))


def istio_series(topology: dict[str, list[str]] = TOPOLOGY) -> list[Series]:
    """One counter per call of ``topology`` as the caller's proxy reports it, and calls naming no service: from
    outside the mesh (``unknown``, as the callee's proxy reports it) and to a database address."""
    calls = [(caller, callee, "source") for caller, callees in topology.items() for callee in callees]
    calls += [("unknown", "gateway", "destination"), ("api", "10.0.0.7:5432", "source")]
    return [requests_total({"service": caller if reporter == "source" else callee, "reporter": reporter,
                            "source_workload": caller, "destination_workload": callee})
            for caller, callee, reporter in calls]


def bundled(tmp_path: Path, name: str, series: list[Series], topology=None, logs: list[LogRecord] | None = None):
    path = write_bundle(tmp_path / name, alert_event().model_dump(mode="json"), series,
                        logs=world_logs() if logs is None else logs, changes=world_changes(), topology=topology)
    return bundle_toolkit(path, library=graph_library(), knowledge=None)


# the test world's logs without its "timeout calling db" lines, which name db (a call read off the logs)
UNNAMING_LOGS = [r for r in world_logs() if "calling db" not in r.message]


def investigated(toolkit):
    return advance(start_state(alert_event()), toolkit, triage, select_skill, gather, analyze, reason)


def ranked(state) -> list[tuple[str, str]]:
    return [(cause["service"], cause["explanation"]) for cause in state["verdict"]["root_causes"]]


def test_a_bundle_whose_metrics_name_caller_and_callee_ranks_as_with_the_equivalent_topology(tmp_path):
    given = investigated(bundled(tmp_path, "given", world_series(), topology=TOPOLOGY))
    labelled = bundled(tmp_path, "labelled", world_series() + istio_series())
    assert labelled.topology is None
    state = investigated(labelled)
    edges = {caller: callees for caller, callees in TOPOLOGY.items() if callees}
    assert state["calls"] == {caller: sorted(callees) for caller, callees in edges.items()}
    assert Topology(state["pack"]["topology"]).services() == Topology(given["pack"]["topology"]).services()
    assert state["gathered"]["dependencies"] == ["cache", "db"]  # not every service with data
    [note] = [note for note in state["notes"] if "read off metric labels" in note]
    assert note == ISTIO_NOTE + "; 2 pair(s) naming something that is no service with data left out"
    assert not any("no call graph covers" in note for note in state["notes"])
    assert ranked(state) == ranked(given)
    db = state["verdict"]["root_causes"][0]
    assert db["service"] == "db" and "explains anomalies in callers ['api']" in db["explanation"]


def test_dotted_opentelemetry_label_columns_give_the_calls(tmp_path):
    """A bundle converted from OpenTelemetry span metrics keeps the attributes' own dotted names as label columns."""
    dotted = [requests_total({"service": caller, "service.name": caller, "peer.service": callee, "span.kind": "client"})
              for caller, callees in TOPOLOGY.items() for callee in callees]
    state = investigated(bundled(tmp_path, "dotted", world_series() + dotted))
    assert state["calls"] == {caller: sorted(callees) for caller, callees in TOPOLOGY.items() if callees}


def test_labels_naming_no_service_with_data_give_no_edge(tmp_path):
    foreign = [requests_total({"service": "api", "source_workload": "api-7d9f-x2x", "destination_workload": "db-0"}),
               requests_total({"service": "api", "client": "api", "server": "db-host-3"}),
               requests_total({"service": "api", "source_workload": "unknown", "destination_workload": "api"})]
    state = investigated(bundled(tmp_path, "foreign", world_series() + foreign, logs=UNNAMING_LOGS))
    assert "calls" not in state
    assert not any("read off metric labels" in note for note in state["notes"])
    assert any("no call graph covers api" in note for note in state["notes"])


def test_a_topology_with_edges_decides_alone(tmp_path):
    state = investigated(bundled(tmp_path, "both", world_series() + istio_series({"api": ["billing"]}),
                                 topology=TOPOLOGY))
    assert "calls" not in state and state["gathered"]["dependencies"] == ["db", "cache"]


def test_calls_read_off_labels_and_traces_are_joined(tmp_path):
    state = investigated(bundled(tmp_path, "joined", world_series() + istio_series({"billing": ["db"]}),
                                 logs=traced_logs()))
    assert state["calls"] == {"api": ["cache", "db"], "billing": ["db"], "gateway": ["api"]}
    assert any(note.startswith("no call graph given: 1 call(s) among 2 services read off metric labels")
               for note in state["notes"])
    assert any("read off the order of log lines" in note for note in state["notes"])
    assert "the call graph joins both: 4 call(s)" in state["notes"]


def test_a_metric_source_that_cannot_answer_is_a_note_and_the_traces_still_give_the_calls(tmp_path):
    from dataclasses import replace

    from agent.sources.prometheus import PrometheusMetricSource

    unreachable = PrometheusMetricSource("http://127.0.0.1:9", timeout=1.0)
    state = investigated(replace(bundled(tmp_path, "down", world_series(), logs=traced_logs()), metrics=unreachable))
    assert state["calls"] == {"api": ["cache", "db"], "gateway": ["api"]}
    [note] = [note for note in state["notes"] if note.startswith("calls not read off the metric labels")]
    asked = sum(all(map(classic_label, c.named_labels)) for c in CONVENTIONS)  # no listing: classic names only
    assert f"of {asked} of {asked} conventions (source_workload/destination_workload: " in note
    assert "cannot reach" in note


@pytest.mark.parametrize(("labels", "convention", "call"), [
    ({"source_workload": "a", "destination_workload": "b"}, "source_workload/destination_workload", ("a", "b")),
    ({"deployment": "a", "dst_deployment": "b", "direction": "outbound"}, "deployment/dst_deployment", ("a", "b")),
    ({"deployment": "a", "dst_deployment": "b", "direction": "inbound"}, "deployment/dst_deployment", None),
    ({"service_name": "a", "peer_service": "b", "span_kind": "SPAN_KIND_CLIENT"}, "service_name/peer_service",
     ("a", "b")),
    ({"service_name": "a", "peer_service": "b", "span_kind": "SPAN_KIND_SERVER"}, "service_name/peer_service", None),
    ({"service_name": "a", "peer_service": "b"}, "service_name/peer_service", ("a", "b")),
    ({"service": "a", "destination_service": "b"}, "service/destination_service", ("a", "b")),
    ({"service.name": "a", "peer.service": "b", "span.kind": "client"}, "service.name/peer.service", ("a", "b")),
    ({"service.name": "a", "peer.service": "b", "span.kind": "server"}, "service.name/peer.service", None),
    # another label names the caller: the series' own service (a proxy's, a reporter's) is not taken for it
    ({"service": "a", "source_service": "c", "destination_service": "b"}, "service/destination_service", None),
    ({"service": "a", "caller": "a", "callee": "a"}, "caller/callee", None),  # a call to itself is no edge
    ({"service": "a", "callee": ""}, "service/callee", None),
])
def test_each_convention_reads_its_labels(labels, convention, call):
    assert CONVENTION[convention].call_of(labels) == call


def test_the_bundle_source_answers_the_pairs_of_series_with_samples_in_the_window():
    from agent.bundles.reader import CaseBundle

    early = requests_total({"service": "a", "caller": "a", "callee": "b"}, start=T0 - 7200)
    late = Series("calls_total", {"service": "c", "caller": "c", "callee": "d"}, np.array([T0 + 3600.0]),
                  np.array([1.0]))
    source = BundleMetricSource(CaseBundle(event=alert_event(), series=[early, late]))
    assert source.calls(CONVENTION["caller/callee"], T0 - 600, T0).data == [("a", "b")]
    assert source.calls(CONVENTION["caller/callee"], T0, T0 + 7200).data == [("a", "b"), ("c", "d")]
    assert source.calls(CONVENTION["source_app/destination_app"], T0 - 600, T0).status == "no_data"


def test_calls_from_labels_keeps_pairs_between_services_with_data():
    istio, generic = CONVENTION["source_workload/destination_workload"], CONVENTION["client/server"]
    read = calls_from_labels([(istio, "a", "b"), (generic, "a", "c"), (generic, "a", "db-host-3"),
                              (istio, "unknown", "a")], {"a", "b", "c"})
    assert read.depends_on == {"a": ["b", "c"]} and read.calls == 2 and read.left_out == 2
    assert read.conventions == ("source_workload/destination_workload", "client/server")


@pytest.mark.parametrize(("value", "named"), [
    ("reviews", "reviews"), ("reviews.default.svc.cluster.local", "reviews"), ("reviews:9080", "reviews"),
    ("reviews.default.svc.cluster.local:9080", "reviews"), ("db.internal", "db.internal"),
    ("10.0.3.7:9080", None), ("unknown", None), ("reviews-v2-5d8f", None)])
def test_a_label_naming_a_host_names_the_service_of_its_first_dns_label(value, named):
    assert service_named(value, {"reviews", "ratings", "db.internal"}) == named


def test_istio_host_names_give_the_calls_between_their_services():
    istio = CONVENTION["source_service/destination_service"]
    read = calls_from_labels([(istio, "productpage.default.svc.cluster.local", "reviews.default.svc.cluster.local"),
                              (istio, "reviews", "reviews.default.svc.cluster.local:9080"),
                              (istio, "reviews", "10.0.3.7:9080")], {"productpage", "reviews"})
    assert read.depends_on == {"productpage": ["reviews"]} and read.left_out == 1


def test_a_bundle_without_label_columns_asks_no_convention(tmp_path, monkeypatch):
    asked = []
    calls = BundleMetricSource.calls
    monkeypatch.setattr(BundleMetricSource, "calls",
                        lambda self, convention, start, end: asked.append(convention) or calls(self, convention,
                                                                                              start, end))
    state = investigated(bundled(tmp_path, "plain", world_series(), logs=UNNAMING_LOGS))
    assert asked == [] and "calls" not in state
    istio = investigated(bundled(tmp_path, "istio", world_series() + istio_series()))
    assert [c.name for c in asked] == ["source_workload/destination_workload"] and istio["calls"]
