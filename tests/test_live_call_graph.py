"""A live investigation without a call graph reads one off the log store's traces, for itself alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.graph.nodes.analyze import analyze
from agent.graph.nodes.gather import gather
from agent.graph.nodes.reason import reason
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.investigate import investigate
from agent.runtime import bundle_toolkit, live_toolkit
from agent.series import LogRecord, Series
from agent.sources.base import LogRequest, SourceResult
from agent.sources.bundle import BundleLogSource
from agent.sources.sqlstore import ObservabilityStore
from tests.fixtures.graph.world import (
    T0,
    RecordingLogSource,
    RecordingMetricSource,
    advance,
    alert_event,
    graph_library,
    start_state,
    world_changes,
    world_logs,
)

INFERRED = {"api": ["cache", "db"], "cache": [], "db": [], "gateway": ["api"]}
CALLS_NOTE = "no call graph given: 3 call(s) among 4 services read off the order of log lines in 5 traces"


def traced_logs() -> list[LogRecord]:
    """The test world's logs and five requests in the window, each gateway -> api -> db, then api -> cache."""
    path = ["gateway", "api", "db", "api", "cache", "api", "gateway"]
    return world_logs() + [LogRecord(T0 - 1800 + 60 * i + 0.01 * k, service, "INFO", "handled",
                                     trace_id=f"{i:032x}")
                           for i in range(1, 6) for k, service in enumerate(path)]


def live(topology: dict[str, list[str]] | None = None, tmp_path: Path | None = None, monkeypatch=None):
    """The Toolkit ``bianque serve`` builds (SQL log and change store holding the world's logs with traces,
    ``BIANQUE_TOPOLOGY_FILE`` when ``topology`` is given), over the test world's metrics and Skills."""
    if topology is not None:
        lines = [f"  {s}: {{depends_on: [{', '.join(deps)}]}}" for s, deps in topology.items()]
        (tmp_path / "topology.yaml").write_text("services:\n" + "\n".join(lines) + "\n", encoding="utf-8")
        monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(tmp_path / "topology.yaml"))
        get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    store = ObservabilityStore(settings.resolved_observability_url)
    store.ingest_logs(traced_logs())
    store.ingest_changes(world_changes())
    return replace(live_toolkit(settings), library=graph_library(), metrics=RecordingMetricSource())


class UnreadableLogs(RecordingLogSource):
    """Lists its services, but answers every query with an error."""

    def query(self, request: LogRequest) -> SourceResult[LogRecord]:
        return SourceResult.failed(self.name, {}, "store down")


def investigated(toolkit):
    return advance(start_state(alert_event()), toolkit, triage, select_skill, gather, analyze, reason)


def test_without_a_call_graph_the_log_stores_traces_give_the_dependencies_and_the_ranking_its_rules():
    toolkit = live()
    assert toolkit.topology is None
    state = investigated(toolkit)
    assert state["calls"] == {"api": ["cache", "db"], "gateway": ["api"]}
    assert state["gathered"]["dependencies"] == ["cache", "db"]  # not every service with data (billing, gateway)
    assert any(note.startswith(CALLS_NOTE) for note in state["notes"])
    assert not any("no call graph covers" in note for note in state["notes"])
    assert state["pack"]["topology"] == INFERRED
    db, api = state["verdict"]["root_causes"][:2]
    assert db["service"] == "db" and "explains anomalies in callers ['api']" in db["explanation"]
    assert api["service"] == "api" and "likely a victim" in api["explanation"]
    assert toolkit.topology is None  # the Toolkit, which the API server shares, is left as it was
    again = investigated(toolkit)
    assert again["calls"] == state["calls"] and again["pack"]["topology"] == INFERRED


def test_the_whole_investigation_says_where_its_call_graph_came_from():
    result = investigate(alert_event(), live(), source="api")
    assert result.verdict.root_causes[0].service == "db"
    assert any(note.startswith(CALLS_NOTE) for note in result.notes)


def test_a_topology_file_decides_alone(tmp_path, monkeypatch):
    toolkit = live({"api": ["db"], "gateway": ["api"]}, tmp_path, monkeypatch)
    state = investigated(toolkit)
    assert "calls" not in state and state["gathered"]["dependencies"] == ["db"]
    assert state["pack"]["topology"] == {"api": ["db"], "db": [], "gateway": ["api"]}
    assert not any("no call graph given" in note for note in state["notes"])


def test_calls_that_miss_the_alerted_service_still_rank_but_every_service_with_data_is_a_dependency():
    front_door = [r for r in traced_logs() if r.service != "api"]  # api logs nothing: the traces never name it
    toolkit = replace(live(), logs=RecordingLogSource(front_door))
    state = investigated(toolkit)
    assert state["calls"] == {"db": ["cache"], "gateway": ["db"]}
    assert state["pack"]["topology"] == {"cache": [], "db": ["cache"], "gateway": ["db"]}
    assert any(note.startswith("no call graph given: 2 call(s)") for note in state["notes"])
    assert any("no call graph covers api" in note for note in state["notes"])
    assert {"billing", "db", "gateway"} <= set(state["gathered"]["dependencies"])


@pytest.mark.parametrize("broken", ["raises", "answers an error"])
def test_a_log_source_that_fails_leaves_every_service_with_data_a_possible_dependency(broken):
    logs = (RecordingLogSource(traced_logs(), fail={"*": ConnectionError("store down")}) if broken == "raises"
            else UnreadableLogs(traced_logs()))
    state = investigated(replace(live(), logs=logs))
    assert "calls" not in state and state["verdict"]["root_causes"]
    assert any("no call graph covers api" in note for note in state["notes"])
    assert any("store down" in missing for missing in state["gathered"]["missing"])  # the Skill's own log query
    assert {"billing", "db"} <= set(state["gathered"]["dependencies"])


def test_logs_without_trace_ids_show_no_call_and_change_nothing():
    toolkit = replace(live(), logs=RecordingLogSource(world_logs()))
    state = investigated(toolkit)
    assert "calls" not in state and state["pack"]["topology"] == {}
    assert any("no call graph covers api" in note for note in state["notes"])
    assert any(request.levels == () and request.whole_traces for request in toolkit.logs.requests)


def test_a_bundles_logs_are_read_for_a_call_graph_once_when_its_toolkit_is_built(tmp_path, monkeypatch):
    times = T0 - 3600 + 60.0 * np.arange(70)
    series = [Series("latency_seconds", {"service": s}, times, np.full(times.size, 0.1)) for s in ("api", "db")]
    bundle = write_bundle(tmp_path / "case", alert_event().model_dump(mode="json"), series, logs=world_logs())
    toolkit = bundle_toolkit(bundle, library=graph_library(), knowledge=None)
    asked: list[LogRequest] = []
    query = BundleLogSource.query
    monkeypatch.setattr(BundleLogSource, "query", lambda self, request: asked.append(request) or query(self, request))
    state = investigated(toolkit)
    assert "calls" not in state and any("no call graph covers api" in note for note in state["notes"])
    assert [request.patterns for request in asked] == [("timeout",)]  # the Skill's query alone
