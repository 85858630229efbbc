"""One deadline bounds all of an investigation's waiting for its sources (BIANQUE_GATHER_DEADLINE_S): each phase
waits at most what is left, what is unanswered then is missing data naming the deadline, and nothing is asked once
it has passed. No assertion here is on a duration: threads are joined only as a guard against a hang."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.call_labels import CallLabels
from agent.config import Settings, SettingsError, get_settings
from agent.graph.deadline import GatherDeadline, ask
from agent.graph.nodes.gather import gather
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.investigate import investigate
from agent.runtime import _query_limits
from agent.sources.base import SourceResult
from tests.fixtures.graph.world import (
    HANG_CAP_S,
    RecordingChangeSource,
    RecordingLogSource,
    RecordingMetricSource,
    advance,
    alert_event,
    make_toolkit,
    release_event,
    start_state,
)

DEADLINE = "the investigation's 0.3 s for gathering (BIANQUE_GATHER_DEADLINE_S)"
GUARD_S = HANG_CAP_S / 2  # an investigation still running then waited for a hung source (which returns at the cap)
HUNG_METRICS = {"latency_seconds", "error_ratio"}  # every metric the test Skill asks


class ListingMetricSource(RecordingMetricSource):
    """A metric source that can list its label names and read calls off its labels; ``label_names`` hangs (until
    ``release`` is set) when ``hang_listing``."""

    def __init__(self, hang_listing: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hang_listing = hang_listing
        self.asked_calls: list[str] = []

    def label_names(self, start: float, end: float) -> set[str]:
        if self.hang_listing:
            self.release.wait(HANG_CAP_S)
        return {"service", "caller", "callee"}

    def calls(self, convention: CallLabels, start: float, end: float) -> SourceResult[tuple[str, str]]:
        self.asked_calls.append(convention.name)
        return SourceResult.of(self.name, convention.name, [])


@pytest.fixture
def released() -> Iterator[list[Any]]:
    """Sources whose hung requests are let go at teardown, so no test leaves a thread waiting."""
    sources: list[Any] = []
    yield sources
    for source in sources:
        source.release.set()


def finished(run: Callable[[], Any]) -> Any:
    """``run()``'s result, run in a thread joined with a generous guard: a run still going then waited for a hung
    source instead of giving up on it."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", run()), daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert not thread.is_alive(), "the investigation waited for a hung source past its deadline"
    return out["result"]


def test_queries_the_deadline_cuts_are_missing_data_that_names_it(released):
    metrics = RecordingMetricSource(hang=HUNG_METRICS)
    released.append(metrics)
    toolkit = make_toolkit(metrics=metrics, source_timeout_s=HANG_CAP_S, gather_deadline_s=0.3)
    result = finished(lambda: investigate(alert_event(), toolkit))
    metric_gaps = [g for g in result.missing_data if g.kind == "metrics"]
    assert metric_gaps and {g.reason for g in metric_gaps} == {f"not answered within {DEADLINE}"}
    assert not [g for g in result.missing_data if "timed out" in g.reason]  # the deadline, not the source timeout
    assert f"not answered within {DEADLINE}" in result.report
    assert result.verdict.judged is False  # no metric came: the investigation could not judge


def test_a_hung_label_listing_leaves_the_skills_own_data_its_share_of_the_deadline(released, caplog):
    """Questions on the way to the Skill's data (label names, calls read off labels and logs) may spend the deadline
    but for one source timeout (half of it, at most): a hung listing costs the call graph, not the Skill's data.
    The source warns of its own failures (with its URL): gather does not warn of the same listing again."""
    caplog.set_level("DEBUG", logger="agent.graph.nodes.gather")
    metrics = ListingMetricSource(hang_listing=True)
    logs, changes = RecordingLogSource(), RecordingChangeSource()
    released.append(metrics)
    toolkit = make_toolkit(metrics=metrics, logs=logs, changes=changes, topology=None,
                           source_timeout_s=HANG_CAP_S, gather_deadline_s=0.3)
    state = finished(lambda: advance(start_state(alert_event()), toolkit, triage, select_skill, gather))
    kept = f"not read: the rest of {DEADLINE} is kept for the Skill's own data"
    notes = "\n".join(state["notes"])
    assert metrics.asked_calls == []  # no convention was asked once the listing had spent its share
    assert (f"calls not read off the metric labels of 11 of 11 conventions (source_workload/destination_workload: "
            f"{kept}") in notes
    assert f"calls not read off the log lines ({kept})" in notes
    assert not any(r.whole_traces for r in logs.requests)  # the log scan for calls was not asked either
    assert {q.name for q in metrics.requests} == HUNG_METRICS  # the Skill's own data was asked, and came
    assert {s["metric"] for s in state["gathered"]["series"]} == HUNG_METRICS
    assert not [g for g in state["gathered"]["gaps"] if "BIANQUE_GATHER_DEADLINE_S" in g["reason"]]
    listing = [r for r in caplog.records if "cannot list label names" in r.getMessage()]
    assert listing and {r.levelname for r in listing} == {"DEBUG"}


def test_triage_draws_on_the_same_deadline_as_gather(released):
    changes = RecordingChangeSource(hang={"*"})
    released.append(changes)
    toolkit = make_toolkit(changes=changes, source_timeout_s=HANG_CAP_S, gather_deadline_s=0.3)
    state = finished(lambda: advance(start_state(release_event()), toolkit, triage, select_skill, gather))
    assert (f"could not look up when the change began (not answered within {DEADLINE}); using the event time"
            in state["notes"])
    assert toolkit.metrics.requests == [] and len(changes.requests) == 1  # nothing asked after the deadline


def test_each_investigation_on_a_toolkit_has_a_deadline_of_its_own(released):
    metrics = RecordingMetricSource(hang=HUNG_METRICS)
    released.append(metrics)
    toolkit = make_toolkit(metrics=metrics, source_timeout_s=HANG_CAP_S, gather_deadline_s=2.0)  # room for the 2nd
    first = finished(lambda: investigate(alert_event(), toolkit))
    metrics.release.set()  # the source answers again
    second = finished(lambda: investigate(alert_event(), toolkit))
    assert any("BIANQUE_GATHER_DEADLINE_S" in g.reason for g in first.missing_data)
    assert not any("BIANQUE_GATHER_DEADLINE_S" in g.reason for g in second.missing_data)
    assert second.findings and second.verdict.judged is not False


def test_a_source_timeout_inside_the_deadline_keeps_its_own_wording(released):
    metrics = RecordingMetricSource(hang={"error_ratio"})
    released.append(metrics)
    toolkit = make_toolkit(metrics=metrics, source_timeout_s=0.2, gather_deadline_s=HANG_CAP_S)
    gathered = finished(lambda: advance(start_state(alert_event()), toolkit, triage, select_skill, gather))["gathered"]
    assert {g["reason"] for g in gathered["gaps"] if g["signal"] == "errors"} == {"timed out after 0.2s"}
    assert {s["signal"] for s in gathered["series"]} == {"latency"}


def test_ask_starts_nothing_once_the_deadline_has_passed():
    started: list[str] = []
    deadline = GatherDeadline(1.0)
    deadline.spend(1.0)
    answers = ask({"a": lambda: started.append("a"), "b": lambda: started.append("b")}, 5.0, deadline)
    assert started == []
    assert answers == dict.fromkeys("ab", "not asked: the investigation's 1 s for gathering "
                                          "(BIANQUE_GATHER_DEADLINE_S) had passed")


def test_the_deadline_defaults_to_three_source_timeouts_and_reaches_the_toolkit(monkeypatch, tmp_path):
    monkeypatch.setenv("BIANQUE_HOME", str(tmp_path))
    monkeypatch.setenv("BIANQUE_SOURCE_TIMEOUT_S", "20")
    assert Settings().resolved_gather_deadline_s == 60.0
    monkeypatch.setenv("BIANQUE_GATHER_DEADLINE_S", " ")  # blank: the default
    assert Settings().resolved_gather_deadline_s == 60.0
    monkeypatch.setenv("BIANQUE_GATHER_DEADLINE_S", "25")
    assert _query_limits(Settings())["gather_deadline_s"] == 25.0
    assert make_toolkit(source_timeout_s=2.0).deadline.limit_s == 6.0


@pytest.mark.parametrize(("value", "why"), [
    ("0", "Input should be greater than 0"),
    ("-1", "Input should be greater than 0"),
    ("inf", "Input should be a finite number"),
    ("soon", "Input should be a valid number, unable to parse string as a number"),
])
@pytest.mark.parametrize("variable", ["BIANQUE_GATHER_DEADLINE_S", "BIANQUE_SOURCE_TIMEOUT_S"])
def test_a_deadline_that_cannot_work_is_named(monkeypatch, tmp_path, value, why, variable):
    """An infinite source timeout had been taken, and the first wait on a source then raised OverflowError."""
    monkeypatch.setenv("BIANQUE_HOME", str(tmp_path))
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(raised.value) == f"invalid setting: {variable}: {why} (got {value!r})"
