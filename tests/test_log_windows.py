"""Log lines are judged over the time the log store covers (``agent.graph.log_windows``): an RCA whose store kept
minutes of logs, or whose event sits at the fault's start, compares its lines with a reference worth the name."""

from __future__ import annotations

import pytest

from agent.config import PROJECT_ROOT
from agent.events import Event, Pattern
from agent.graph.analysis import analyze_gathered
from agent.graph.log_windows import LOG_LEAD_S, log_windows
from agent.skills.library import load_library
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
RCA_WINDOW = {"start": T0 - 3600.0, "end": T0 + 300.0, "anchor": T0}  # generic-rca: an hour back, 5 min after


@pytest.fixture(scope="module")
def generic_rca():
    return load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill


def _error(ts: float, message: str, service: str = "a") -> dict:
    return {"ts": ts, "service": service, "level": "ERROR", "message": message, "query": "error_logs"}


def _log_findings(skill, lines: list[dict], span: tuple[float, float] | None) -> list[tuple[str, str]]:
    gathered = {"series": [], "logs": lines, "changes": [], "log_span": span}
    findings = analyze_gathered(skill, Event(pattern=Pattern.RCA, time=T0, service="a"), gathered, ["a"], RCA_WINDOW)
    return sorted((f.kind, f.summary.split('"')[1]) for f in findings if f.kind.startswith("log_"))


def test_an_event_at_the_faults_start_with_minutes_of_logs_finds_the_faults_template_only(generic_rca):
    """The store kept six minutes before the event, which is the fault's start. A routine timeout comes now and
    then before it; the fault's template comes after. Judged from five minutes before the event, the reference
    was the first minute, the routine timeout was missing from it and read as new, beside the fault's."""
    routine = [_error(T0 + t, f"upstream timeout calling b after {100 + i}ms")
               for i, t in enumerate((-280.0, -250.0, -220.0, -100.0, -70.0, -40.0))]
    fault = [_error(T0 + 10.0 * (i + 1), f"cannot parse order {i}: bad field") for i in range(12)]
    found = _log_findings(generic_rca, routine + fault, (T0 - 360.0, T0 + 120.0))
    assert [kind for kind, _ in found] == ["log_new_template"]
    assert found[0][1].startswith("cannot parse order")


def test_a_template_steady_since_the_stores_first_line_is_no_burst_in_an_rca(generic_rca):
    """Eight minutes of logs before the alert and an error every 20 s throughout: as often in the five minutes
    judged as before. Counted against the hour of the window (the store holds 3 minutes of it) it was a burst
    of nine times its rate."""
    steady = [_error(T0 - 480.0 + 20.0 * i, f"upstream timeout calling b after {100 + i}ms") for i in range(24)]
    assert _log_findings(generic_rca, steady, (T0 - 480.0, T0 - 20.0)) == []


def test_a_store_that_cannot_say_what_it_covers_is_judged_over_the_whole_window(generic_rca):
    steady = [_error(T0 - 480.0 + 20.0 * i, f"upstream timeout calling b after {100 + i}ms") for i in range(24)]
    assert [kind for kind, _ in _log_findings(generic_rca, steady, None)] == ["log_burst"]


def test_the_rca_reference_never_reaches_past_the_alert():
    """Logs from six minutes before the event to fifteen after (a replay): the reference would grow past the
    event to cover half what is judged after it, but the fault began no later than the event."""
    windows = log_windows(Pattern.RCA, T0 - 3600.0, T0 + 900.0, T0, T0 - 600.0, (T0 - 360.0, T0 + 899.0))
    assert windows is not None
    assert windows.baseline == (T0 - 360.0, T0)
    assert windows.current == (T0, T0 + 900.0)


def test_rca_lines_that_begin_inside_the_lead_keep_no_reference():
    """A hand-made bundle's logs often begin at the incident: nothing before them, so everything is new."""
    windows = log_windows(Pattern.RCA, T0 - 3600.0, T0 + 300.0, T0, T0 - 600.0, (T0 - 200.0, T0 - 50.0))
    assert windows is not None
    assert windows.baseline == (T0 - 3600.0, T0 - LOG_LEAD_S)
    assert windows.current == (T0 - LOG_LEAD_S, T0 - 49.0)


@pytest.mark.parametrize(("store_first", "said"), [
    (T0 - 200.0, "the log store begins"),  # the store's lines begin inside the judged part: nothing before them
    (T0 - 900.0, "none in baseline"),  # the store holds lines before: the template is new against them
])
def test_a_new_templates_summary_says_whether_there_was_anything_to_compare_with(generic_rca, store_first, said):
    lines = [_error(T0 - 200.0 + 30.0 * i, "cannot reach the payment gateway") for i in range(6)]
    gathered = {"series": [], "logs": lines, "changes": [], "log_span": (store_first, T0 - 50.0)}
    findings = analyze_gathered(generic_rca, Event(pattern=Pattern.RCA, time=T0, service="a"), gathered, ["a"],
                                RCA_WINDOW)
    (new,) = [f for f in findings if f.kind == "log_new_template"]
    assert said in new.summary
    assert ("nothing to compare with" in new.summary) == (said == "the log store begins")
