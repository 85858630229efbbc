"""Whether the log store reaches back to the reference: a query at ERROR level that finds nothing there means
"no errors" only when the store holds lines there at all, and counts compare only over time it covers
(``LogSource.line_span``)."""

from __future__ import annotations

import pytest

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import PROJECT_ROOT
from agent.events import Event, InspectionScope, Pattern
from agent.graph.analysis import analyze_gathered
from agent.series import LogRecord
from agent.skills.library import load_library
from agent.sources.bundle import BundleLogSource
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
WINDOW = {"start": T0 - 2 * 86400.0, "end": T0, "anchor": T0, "reference_end": T0 - 3600.0}  # 2 days, then 1 h


@pytest.fixture(scope="module")
def generic_inspection():
    return load_library([PROJECT_ROOT / "skills"]).get("generic-inspection").skill


def _error(ts: float, message: str) -> dict:
    return {"ts": ts, "service": "a", "level": "ERROR", "message": message, "query": "error_logs"}


def _new_templates(skill, log_start: float | None) -> list[str]:
    steady = [_error(T0 - 3600.0 + 600.0 * i + 5, f"upstream timeout calling b after {100 + i}ms") for i in range(6)]
    # twelve lines: in halves of an hour, fewer could all fall in the second by chance (``test_new``)
    fresh = [_error(T0 - 1500.0 + 60.0 * i, f"cannot parse order {i}: bad field") for i in range(12)]
    span = None if log_start is None else (log_start, T0 - 60.0)
    gathered = {"series": [], "logs": steady + fresh, "changes": [], "log_span": span}
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["a"], window=3600))
    findings = analyze_gathered(skill, event, gathered, ["a"], WINDOW)
    return sorted(f.summary.split('"')[1] for f in findings if f.kind == "log_new_template")


def test_errors_throughout_the_hour_are_new_when_the_store_covers_the_days_before(generic_inspection):
    assert len(_new_templates(generic_inspection, WINDOW["start"] + 60)) == 2  # none in two days of logs
    assert len(_new_templates(generic_inspection, None)) == 2  # a source that cannot say: as before


@pytest.mark.parametrize("reaches_back_s", [-1.0, 600.0])  # none of the reference, or ten minutes of it
def test_a_store_that_kept_about_the_hour_only_is_split_in_halves(generic_inspection, reaches_back_s):
    """The same error every ten minutes since the store's first line is how this service runs; the template
    that began in the second half is new."""
    (template,) = _new_templates(generic_inspection, WINDOW["reference_end"] - reaches_back_s)
    assert template.startswith("cannot parse order")


@pytest.mark.parametrize(("fresh_lines", "reported"), [(3, False), (12, True)])
def test_an_inspection_leaves_out_a_new_template_chance_explains(generic_inspection, fresh_lines, reported):
    """An hour judged against the hour before it: three new timeouts would all fall in the judged hour by chance
    with p = 0.5 ** 3 (routine noise of a healthy service); twelve would not (``detect_logs(test_new=True)``)."""
    window = {"start": T0 - 7200.0, "end": T0, "anchor": T0, "reference_end": T0 - 3600.0}
    quiet = [_error(T0 - 7000.0 + 1200.0 * i, f"cannot parse order {i}: bad field") for i in range(6)]
    fresh = [_error(T0 - 1500.0 + 60.0 * i, f"upstream timeout calling b after {100 + i}ms")
             for i in range(fresh_lines)]
    gathered = {"series": [], "logs": quiet + fresh, "changes": [], "log_span": None}
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["a"], window=3600))
    findings = analyze_gathered(generic_inspection, event, gathered, ["a"], window)
    assert bool([f for f in findings if f.kind == "log_new_template"]) == reported


def test_a_template_steady_since_the_stores_first_line_is_no_burst(generic_inspection):
    """The store kept seventy minutes; an error logged every ten minutes since is how the service runs. Its
    expected count comes from the reference the store holds, not from two days it holds nothing of (which made it
    a burst of 80 times its rate)."""
    steady = [_error(T0 - 3600.0 + 600.0 * i + 5, f"upstream timeout calling b after {100 + i}ms") for i in range(6)]
    gathered = {"series": [], "logs": steady, "changes": [], "log_span": (WINDOW["reference_end"] - 600.0, T0 - 60.0)}
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["a"], window=3600))
    assert analyze_gathered(generic_inspection, event, gathered, ["a"], WINDOW) == []


def test_a_bundles_line_span_of_any_level(tmp_path):
    logs = [LogRecord(T0 - 600.0, "a", "INFO", "served"), LogRecord(T0 - 60.0, "b", "ERROR", "failed"),
            LogRecord(T0 - 20.0, "b", "DEBUG", "retrying")]
    path = write_bundle(tmp_path / "b", {"pattern": "inspection", "time": T0}, [], logs)
    source = BundleLogSource(load_bundle(path))
    assert source.line_span(T0 - 3600.0, T0) == (T0 - 600.0, T0 - 20.0)
    assert source.line_span(T0 - 599.0, T0 - 21.0) == (T0 - 60.0, T0 - 60.0)
    assert source.line_span(T0 - 10.0, T0) is None


def test_an_rca_keeps_lines_with_nothing_before_them_new():
    """An RCA's incident window is the minutes before the alert; a bundle's logs often begin there."""
    skill = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill
    logs = [_error(T0 - 200.0 + 30.0 * i, "cannot reach the payment gateway") for i in range(6)]
    event = Event(pattern=Pattern.RCA, time=T0, service="a")
    gathered = {"series": [], "logs": logs, "changes": [], "log_span": (T0 - 200.0, T0 - 50.0)}
    findings = analyze_gathered(skill, event, gathered, ["a"], {"start": T0 - 3600.0, "end": T0 + 300.0, "anchor": T0})
    assert [f.kind for f in findings if f.service == "a"] == ["log_new_template"]


class _Logs:
    name = "logs"

    def __init__(self, line_span) -> None:  # noqa: ANN001 - a callable or a value
        self._line_span = line_span

    def query(self, request):  # noqa: ANN001, ANN201
        from agent.sources.base import SourceResult

        return SourceResult.of(self.name, {}, [LogRecord(T0 - 60.0, "a", "ERROR", "failed")])

    def services(self, start: float | None = None, end: float | None = None) -> list[str]:
        return ["a"]

    def line_span(self, start: float, end: float) -> tuple[float, float] | None:
        return self._line_span(start, end) if callable(self._line_span) else self._line_span


def _gather(logs) -> dict:  # noqa: ANN001
    from agent.graph.nodes.gather import execute_plan
    from agent.graph.plan import GatherPlan
    from agent.graph.toolkit import Toolkit
    from agent.sources.base import LogRequest

    plan = GatherPlan(start=T0 - 3600.0, end=T0, anchor=T0, variables={},
                      log_requests={"error_logs": LogRequest(("a",), T0 - 3600.0, T0)})
    return execute_plan(plan, Toolkit(library=None, reasoner=None, logs=logs), skill_knowledge=None, event_text="")


def test_gather_records_which_part_the_log_store_covers_and_survives_a_source_that_cannot_say():
    assert _gather(_Logs((T0 - 120.0, T0 - 5.0)))["log_span"] == (T0 - 120.0, T0 - 5.0)

    def broken(start: float, end: float) -> tuple[float, float]:
        raise RuntimeError("store gone")

    gathered = _gather(_Logs(broken))
    assert gathered["log_span"] is None and [r["message"] for r in gathered["logs"]] == ["failed"]
