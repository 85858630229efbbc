"""An investigation without a call graph reads one off its logs' traces in the gather step, for itself alone: live
(the log store) and from a bundle alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.events import Alert, Event
from agent.graph.nodes.analyze import analyze
from agent.graph.nodes.gather import gather
from agent.graph.nodes.reason import reason
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.graph.plan import reads_dependencies
from agent.investigate import investigate
from agent.runtime import bundle_toolkit, live_toolkit
from agent.series import LogRecord
from agent.sources.base import LogRequest, SourceResult
from agent.sources.bundle import BundleLogSource
from agent.sources.sqlstore import ObservabilityStore
from agent.topology_inference import calls_from_traces
from tests.fixtures.graph.world import (
    T0,
    RecordingLogSource,
    RecordingMetricSource,
    advance,
    alert_event,
    graph_library,
    release_event,
    start_state,
    world_changes,
    world_logs,
    world_series,
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


def test_a_given_graph_without_the_alerted_service_is_weighed_as_given(tmp_path, monkeypatch):
    # the user's graph says which services there are: the alerted api, outside it, is added to no graph read off
    # the data (none is read: a topology with edges decides alone)
    state = investigated(live({"gateway": ["db"]}, tmp_path, monkeypatch))
    assert "calls" not in state and state["pack"]["topology"] == {"db": [], "gateway": ["db"]}
    assert any("no call graph covers api" in note for note in state["notes"])


def test_calls_that_miss_the_alerted_service_still_rank_but_every_service_with_data_is_a_dependency():
    front_door = [r for r in traced_logs() if r.service != "api"]  # api logs nothing: the traces never name it
    toolkit = replace(live(), logs=RecordingLogSource(front_door))
    state = investigated(toolkit)
    assert state["calls"] == {"db": ["cache"], "gateway": ["db"]}
    # the alerted service is a node of the ranking's graph, named by no trace or not: api is weighed; billing, on no
    # path the traces show, is not
    assert state["pack"]["topology"] == {"api": [], "cache": [], "db": ["cache"], "gateway": ["db"]}
    assert [c["service"] for c in state["verdict"]["root_causes"]][:2] == ["db", "api"]
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


def test_logs_without_trace_ids_naming_no_service_with_data_show_no_call_and_change_nothing():
    # api's lines name db, but the metric source lists no services and the log store has none of db's lines
    toolkit = replace(live(), logs=RecordingLogSource(world_logs()))
    state = investigated(toolkit)
    assert "calls" not in state and state["pack"]["topology"] == {}
    assert any("no call graph covers api" in note for note in state["notes"])
    assert any(request.levels == () and request.whole_traces for request in toolkit.logs.requests)


def bundled(tmp_path: Path, logs: list[LogRecord], event=None):
    """The Toolkit of a bundle without topology.yaml holding the test world's metrics and changes and ``logs``."""
    path = write_bundle(tmp_path / "case", (event or alert_event()).model_dump(mode="json"), world_series(),
                        logs=logs, changes=world_changes())
    return bundle_toolkit(path, library=graph_library(), knowledge=None)


def recorded_log_requests(monkeypatch) -> list[LogRequest]:
    """The requests every bundle's log source answers from now on."""
    asked: list[LogRequest] = []
    query = BundleLogSource.query
    monkeypatch.setattr(BundleLogSource, "query", lambda self, request: asked.append(request) or query(self, request))
    return asked


def test_a_bundle_without_a_call_graph_gets_the_calls_its_traces_show_in_the_gather_step_once(tmp_path, monkeypatch):
    reads = []
    monkeypatch.setattr("agent.graph.nodes.gather.calls_from_traces",
                        lambda records: reads.append(records) or calls_from_traces(records))
    toolkit = bundled(tmp_path, traced_logs())
    assert toolkit.topology is None and not reads  # building the Toolkit reads no log line
    asked = recorded_log_requests(monkeypatch)
    state = investigated(toolkit)
    assert state["calls"] == {"api": ["cache", "db"], "gateway": ["api"]}
    assert state["gathered"]["dependencies"] == ["cache", "db"] and state["pack"]["topology"] == INFERRED
    [note] = [note for note in state["notes"] if "read off the order of log lines" in note]
    assert note.startswith(CALLS_NOTE)
    assert state["verdict"]["root_causes"][0]["service"] == "db"
    assert len(reads) == 1 and [r.patterns for r in asked] == [(), ("timeout",)]  # the calls' read, the Skill's
    assert asked[0].whole_traces and asked[0].levels == ()
    assert toolkit.topology is None  # the Toolkit, which a bundle's replays may share, is left as it was


def test_a_bundles_logs_without_trace_ids_are_read_once_and_give_the_calls_their_lines_name(tmp_path, monkeypatch):
    toolkit = bundled(tmp_path, world_logs())  # api logs "timeout calling db after 213ms": db has metrics here
    asked = recorded_log_requests(monkeypatch)
    state = investigated(toolkit)
    assert state["calls"] == {"api": ["db"]} and state["gathered"]["dependencies"] == ["db"]
    assert any(note.startswith("no call graph given: 1 call(s) among 2 services read off 30 log line(s) of one "
                               "service naming another") for note in state["notes"])
    assert state["verdict"]["root_causes"][0]["service"] == "db"
    assert [request.patterns for request in asked] == [(), ("timeout",)]


def test_the_services_with_data_are_asked_of_the_sources_once_per_investigation(tmp_path, monkeypatch):
    # the calls the lines name, and every service a possible dependency when those calls miss the alerted one
    from agent.graph.toolkit import Toolkit

    asked = []
    listed = Toolkit.data_services
    monkeypatch.setattr(Toolkit, "data_services", lambda self, *a, **k: asked.append(a) or listed(self, *a, **k))
    toolkit = bundled(tmp_path, [r for r in traced_logs() if r.service != "api"])
    asked.clear()
    state = investigated(toolkit)
    assert any("no call graph covers api" in note for note in state["notes"]) and state["calls"]
    assert len(asked) == 1


@pytest.mark.parametrize("where", ["live", "bundle"])
def test_a_skill_reading_no_dependencies_still_gets_the_calls_for_its_ranking(where, tmp_path):
    toolkit = live() if where == "live" else bundled(tmp_path, traced_logs(), release_event())
    state = advance(start_state(release_event()), toolkit, triage, select_skill)
    assert not reads_dependencies(toolkit.skill(state["skill"]["name"]))
    state = advance(state, toolkit, gather, analyze, reason)
    assert state["calls"] == {"api": ["cache", "db"], "gateway": ["api"]} and state["pack"]["topology"] == INFERRED
    assert any(note.startswith(CALLS_NOTE) for note in state["notes"])
    assert not any("no call graph covers" in note for note in state["notes"])  # it asks for no dependency


@pytest.mark.parametrize("where", ["live", "bundle"])
def test_an_event_naming_no_service_starts_from_the_entry_points_of_the_calls_read(where, tmp_path):
    event = Event(pattern="rca", time=T0, alert=Alert(labels={"alertname": "SiteDown"}, startsAt=T0 - 60))
    toolkit = live() if where == "live" else bundled(tmp_path, traced_logs(), event)
    state = advance(start_state(event), toolkit, triage, select_skill)
    assert state["targets"] == []  # no call graph yet
    state = advance(state, toolkit, gather)
    assert state["targets"] == ["gateway"] and state["gathered"]["dependencies"] == ["api"]
    assert "event names no service: starting from entry points ['gateway']" in state["notes"]
