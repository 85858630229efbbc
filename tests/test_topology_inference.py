"""A call graph read off the order of log lines in traces, for data that comes without one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.events import Event
from agent.graph.nodes.triage import triage
from agent.runtime import bundle_toolkit
from agent.series import LogRecord, Series
from agent.topology_inference import MIN_LINES, MIN_TRACES, calls_from_traces, calls_named
from tests.fixtures.graph.world import start_state

T0 = 1_700_000_000.0


@pytest.fixture
def no_knowledge(monkeypatch):
    """Knowledge is not the point here: skip embedding the handbook."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


def trace(trace_id: str, services: list[str], start: float = T0, in_text: bool = False) -> list[LogRecord]:
    """One request's lines, a millisecond apart, in call order; the id as a field or written in the message."""
    return [LogRecord(start + i * 0.001, service, "INFO",
                      f"TraceID: {trace_id} handled" if in_text else "handled",
                      trace_id=None if in_text else trace_id)
            for i, service in enumerate(services)]


def ids(n: int) -> list[str]:
    return [f"{i:032x}" for i in range(1, n + 1)]


def test_a_callers_line_before_its_callees_first_gives_the_call_seen_in_two_traces():
    first, second, third = ids(3)
    records = [*trace(first, ["gateway", "search", "cache", "search", "gateway"]),
               *trace(second, ["gateway", "search", "cache", "search", "gateway"], in_text=True),
               *trace(third, ["gateway", "ads", "gateway"])]  # gateway -> ads once: a coincidence, no edge
    records.reverse()  # lines come in any order: each trace is put in time order
    inferred = calls_from_traces(records)
    assert inferred.depends_on == {"gateway": ["search"], "search": ["cache"]}
    assert inferred.calls == 2 and inferred.traces == 3
    assert "2 call(s) among 3 services" in inferred.describe() and f"{MIN_TRACES}+ traces" in inferred.describe()


def test_lines_without_a_trace_or_of_one_service_show_no_call():
    records = [LogRecord(T0 + i, "gateway" if i % 2 else "search", "INFO", "no trace here") for i in range(10)]
    records += trace(ids(1)[0], ["gateway", "gateway"]) + trace(ids(2)[1], ["gateway", "gateway"])
    inferred = calls_from_traces(records)
    assert inferred.depends_on == {} and inferred.calls == 0 and inferred.traces == 0


def _bundle(tmp_path, topology: dict[str, list[str]] | None):
    times = T0 - 1800 + 60.0 * np.arange(40)
    series = [Series("request_latency_p99_seconds", {"service": s}, times, np.full(times.size, 0.1))
              for s in ("gateway", "search")]
    logs = [r for i, t in enumerate(ids(4)) for r in trace(t, ["gateway", "search", "gateway"], start=T0 - 600 + i)]
    event = {"pattern": "rca", "time": T0, "service": "gateway"}
    return write_bundle(tmp_path / "case", event, series, logs=logs, topology=topology)


def notes_of(path) -> list[str]:
    """The notes of ``bianque rca --bundle PATH --json``."""
    result = CliRunner().invoke(app, ["rca", "--bundle", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["notes"]


def test_a_bundle_without_a_call_graph_gets_the_one_its_traces_show_and_says_so_in_its_json(tmp_path, no_knowledge):
    path = _bundle(tmp_path, None)
    assert bundle_toolkit(path, library=None, knowledge=None).topology is None  # read in the gather step
    [note] = [note for note in notes_of(path) if "read off the order of log lines" in note]
    assert note.startswith("no call graph given: 1 call(s) among 2 services"), note


def test_a_given_call_graph_is_kept_as_it_is(tmp_path, no_knowledge):
    path = _bundle(tmp_path, {"gateway": ["cache"]})
    assert bundle_toolkit(path, library=None, knowledge=None).topology.dependencies("gateway", depth=1) == ["cache"]
    assert not any("read off the order of log lines" in note for note in notes_of(path))


def test_lines_that_share_a_timestamp_give_no_order_between_their_services():
    # gateway calls auth and search at once: their first lines share a millisecond, in either order in the file;
    # neither is the other's caller, whatever their names
    records = []
    for i, trace_id in enumerate(ids(4)):
        start = T0 + i
        pair = ["search", "auth"] if i % 2 else ["auth", "search"]
        records += [LogRecord(start, "gateway", "INFO", "in", trace_id=trace_id),
                    *(LogRecord(start + 0.001, s, "INFO", "served", trace_id=trace_id) for s in pair)]
    assert calls_from_traces(records).depends_on == {"gateway": ["auth", "search"]}


def test_an_inspection_naming_no_service_still_inspects_the_services_no_trace_shows(tmp_path):
    # the traces show gateway -> search; db has metrics but no log line: a call graph read off traces is not the
    # list of services there are, as a given one is
    times = T0 - 1800 + 60.0 * np.arange(40)
    series = [Series("latency_seconds", {"service": s}, times, np.full(times.size, 0.1))
              for s in ("gateway", "search", "db")]
    logs = [r for i, t in enumerate(ids(4)) for r in trace(t, ["gateway", "search", "gateway"], start=T0 - 600 + i)]
    path = write_bundle(tmp_path / "case", {"pattern": "inspection", "time": T0}, series, logs=logs)
    toolkit = bundle_toolkit(path, library=None, knowledge=None)
    state = triage(start_state(Event(pattern="inspection", time=T0)), toolkit)
    assert state["targets"] == ["db", "gateway", "search"]
    assert not any("in the topology" in note for note in state["notes"])


def test_a_given_graph_without_calls_is_said_to_have_none_not_to_be_missing(tmp_path, no_knowledge):
    [note] = [note for note in notes_of(_bundle(tmp_path, {"gateway": [], "search": []}))
              if "read off the order of log lines" in note]
    assert note.startswith("the topology names no call between its services: 1 call(s)"), note


def lines(service: str, *messages: str) -> list[LogRecord]:
    return [LogRecord(T0 + i, service, "WARN", message) for i, message in enumerate(messages)]


def test_a_services_lines_naming_another_in_two_lines_give_the_call():
    services = ["gateway", "cart", "cartservice", "ts-order-service", "ts-order-service-v2", "db"]
    records = [*lines("gateway", "retrying call to cart after transient error", "upstream cart timed out"),
               *lines("gateway", "GET http://ts-order-service:12031/api/v1/orders failed", "ts-order-service: 503"),
               *lines("gateway", "connection pool to db near capacity"),  # once: a coincidence, no call
               *lines("cart", "cart flushed", "cart flushed"),  # its own name
               *lines("db", "slow query from cartservice", "slow query from ts-order-service-v2")]
    named = calls_named(records, services)
    # "cart" inside "cartservice", "ts-order-service" inside "ts-order-service-v2" name no cart, no ts-order-service
    assert named.depends_on == {"gateway": ["cart", "ts-order-service"]}
    assert named.lines == 7 and named.calls == 2
    note = named.describe()
    assert "2 call(s) among 3 services read off 7 log line(s)" in note and f"{MIN_LINES}+ lines" in note


def test_a_pair_named_both_ways_names_no_call_and_words_that_name_no_service_with_data_none():
    records = [*lines("api", "timeout calling db", "timeout calling db", "calling payment provider", "payment failed"),
               *lines("db", "client api disconnected", "client api reconnected")]
    assert calls_named(records, ["api", "db"]).depends_on == {}
    assert calls_named(records, []).depends_on == {}


def test_a_path_segment_names_no_call_and_a_call_closing_a_cycle_is_left_out():
    services = ["api", "search", "store", "user"]
    records = [*lines("api", "GET /v2/search status=200", "GET /v1/search status=200"),  # a route, not a host
               *lines("api", "POST http://user:8080/login failed", "http://user:8080/login timed out"),
               *lines("user", "store timed out", "retrying call to store", "store unavailable"),
               *lines("store", "client api uses deprecated api version", "client api reconnected")]  # closes a cycle
    assert calls_named(records, services).depends_on == {"api": ["user"], "user": ["store"]}


def test_a_sentence_the_named_service_writes_too_names_no_call():
    # every service, api included, logs the same deprecation notice naming the word "api"; the cache's clients log
    # its lookups, the cache does not
    notice = "client app-3 uses deprecated api version v1"
    records = [*lines("rank", notice, notice, "cache lookup miss", "cache lookup miss"),
               *lines("query", notice, notice, "cache lookup miss", "cache lookup miss"),
               *lines("api", notice, notice), *lines("cache", "evicted 20 keys", "evicted 3 keys")]
    assert calls_named(records, ["api", "rank", "query", "cache"]).depends_on == {"query": ["cache"], "rank": ["cache"]}


def test_names_with_any_characters_are_read():
    services = ["CheckoutAPI", "orders_AWS::DynamoDB::Table", "db@orders.example.com", "Payment Service"]
    records = lines("CheckoutAPI",
                    "put to orders_AWS::DynamoDB::Table throttled", "put to orders_AWS::DynamoDB::Table failed",
                    "connect db@orders.example.com refused", "connect db@orders.example.com timed out",
                    "Payment Service returned 502", "Payment Service returned 503")
    assert calls_named(records, services).depends_on == {
        "CheckoutAPI": ["Payment Service", "db@orders.example.com", "orders_AWS::DynamoDB::Table"]}
