"""Core memory round trips, written once and run on SQLite here and on PostgreSQL in tests/e2e."""

from __future__ import annotations

import pytest

from agent.events import Event
from agent.evidence import EvidencePack
from agent.findings import Finding, FindingKind
from agent.memory import AlertKind, CaseNotFoundError, InvalidInputError, Memory
from agent.verdict import RootCause, Verdict

ALERT_TIME = "2026-03-02T10:14:00Z"


def rca_event(service: str = "ranking", alertname: str = "RankingP99LatencyHigh") -> Event:
    return Event.model_validate(
        {
            "pattern": "rca",
            "time": "2026-03-02T10:15:00Z",
            "service": service,
            "alert": {
                "status": "firing",
                "labels": {"alertname": alertname, "service": service, "severity": "critical"},
                "annotations": {"summary": "p99 latency above 250ms"},
                "startsAt": ALERT_TIME,
            },
        }
    )


def release_event(service: str = "ranking") -> Event:
    return Event.model_validate(
        {
            "pattern": "release_interception",
            "time": 1772446500,
            "service": service,
            "change": {"id": "deploy-8812", "type": "canary", "service": service, "version": "v2.31.0"},
        }
    )


def finding(fid: str = "F1", service: str = "feature-store", score: float = 0.9) -> Finding:
    return Finding(
        id=fid,
        kind=FindingKind.ANOMALY,
        subject=service,
        service=service,
        metric="latency_p99_ms",
        window_start=1772445600.0,
        window_end=1772446500.0,
        onset=1772446200.0,
        score=score,
        direction="up",
        numbers={"before": 40.0, "after": 310.0},
        summary=f"{service} p99 latency 40 -> 310 ms",
    )


def rca_verdict(service: str = "feature-store", cite: str = "F1") -> Verdict:
    return Verdict(
        pattern="rca",
        summary=f"{service} is slow and ranking waits on it",
        needs_attention=True,
        attention_reason="actionable",
        root_causes=[RootCause(service=service, fault="slow_dependency", confidence=0.8, evidence=[cite])],
        evidence=[cite],
        actions=["check feature-store pods"],
        confidence=0.8,
        reasoner="offline",
    )


def finished_case(memory: Memory, skill: str = "rca-latency", event: Event | None = None) -> str:
    """Store an event and a finished case for it; return the case id."""
    event = event or rca_event()
    stored = memory.record_event(event, source="bundle")
    case = memory.start_case(stored.id, skill, 1, "alert name matched", bundle_path="/bundles/x")
    pack = EvidencePack(event=event, skill=skill, skill_version=1, findings=[finding()])
    memory.finish_case(
        case.id,
        findings=[finding()],
        verdict=rca_verdict(),
        report="# RCA\nfeature-store is slow",
        reasoner="offline",
        prompt_tokens=0,
        duration_ms=42,
        evidence=pack,
    )
    return case.id


def run_core_round_trips(memory: Memory) -> None:
    """Events, cases, corrections, Skill versions, alerts and schedules through one database."""
    event = rca_event()
    stored = memory.record_event(event, source="webhook")
    assert memory.get_event(stored.id).event == event
    assert stored.source == "webhook"

    case = memory.start_case(stored.id, "rca-latency", 3, "alert name matched", thread_id="t-1")
    assert (case.status, case.skill_version, case.thread_id, case.event) == ("running", 3, "t-1", event)
    done = memory.finish_case(
        case.id,
        [finding()],
        rca_verdict(),
        "# report",
        "offline",
        prompt_tokens=17,
        duration_ms=250,
        evidence=EvidencePack(event=event, skill="rca-latency", skill_version=3, findings=[finding()]),
    )
    again = memory.get_case(case.id)
    assert again == done
    assert again.status == "done" and again.verdict == rca_verdict() and again.findings == [finding()]
    assert again.evidence is not None and again.evidence.findings[0].numbers == {
        "before": 40.0,
        "after": 310.0,
    }
    assert (again.report, again.reasoner, again.prompt_tokens, again.duration_ms) == (
        "# report",
        "offline",
        17,
        250,
    )
    assert again.finished_at is not None and again.finished_at >= again.created_at

    other = memory.start_case(memory.record_event(release_event()).id, "release-canary", 1, "change type")
    memory.fail_case(other.id, "source timed out", duration_ms=5)
    assert memory.get_case(other.id).error == "source timed out"
    assert [c.id for c in memory.list_cases(pattern="rca")] == [case.id]
    assert [c.id for c in memory.list_cases(skill="release-canary")] == [other.id]
    assert {c.id for c in memory.list_cases()} == {case.id, other.id}
    assert [c.id for c in memory.cases_for_skill("rca-latency")] == [case.id]
    assert memory.cases_for_skill("release-canary") == []  # failed cases are not replayed by default

    correction = memory.add_correction(
        case.id,
        False,
        root_cause_service="cache",
        root_cause_fault="cache_miss",
        note="it was the cache",
        author="alice",
    )
    assert memory.corrections_for(case.id) == [correction]
    assert memory.get_case(case.id).verdict == rca_verdict()  # untouched
    assert [c.id for c in memory.corrected_cases()] == [case.id]
    with pytest.raises(CaseNotFoundError, match="nope"):
        memory.add_correction("nope", True)

    v1 = memory.save_skill_version("rca-latency", "name: rca-latency\nversion: 1\n", "initial", "alice")
    v2 = memory.save_skill_version(
        "rca-latency", "name: rca-latency\nversion: 2\n", "refined from correction 1"
    )
    dup = memory.save_skill_version("rca-latency", "name: rca-latency\nversion: 2\n", "again")
    assert (v1.version, v2.version, dup.version, dup.created) == (1, 2, 2, False)
    with pytest.raises(InvalidInputError, match="is not a Skill name"):  # matched whole: $ passes a final newline
        memory.save_skill_version("rca-latency\n", "name: rca-latency\nversion: 3\n")
    assert [(v.version, v.active) for v in memory.skill_versions("rca-latency")] == [(1, False), (2, True)]
    assert memory.activate_skill_version("rca-latency", 1).active
    assert memory.get_skill_version("rca-latency").version == 1

    first = memory.observe_alert("fp-1", "RankingP99LatencyHigh", "ranking", "firing", 100.0)
    assert first.kind is AlertKind.NEW
    memory.link_incident_case(first.incident_id, case.id)
    assert (
        memory.observe_alert("fp-1", "RankingP99LatencyHigh", "ranking", "firing", 160.0).kind
        is AlertKind.REPEAT
    )
    dup_alert = memory.observe_alert("fp-2", "RankingErrorsHigh", "ranking", "firing", 170.0)
    assert (dup_alert.kind, dup_alert.incident_id, dup_alert.case_id) == (
        AlertKind.DUPLICATE,
        first.incident_id,
        case.id,
    )

    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *", ["ranking"])
    memory.record_schedule_run("nightly", "done", ts=1000.0, case_id=case.id)
    assert memory.get_schedule("nightly").last_case_id == case.id
    assert memory.delete_schedule("nightly") and memory.list_schedules() == []


def test_core_round_trips_on_sqlite(memory: Memory, bianque_home) -> None:
    assert memory.url == f"sqlite:///{bianque_home / 'bianque.db'}"
    run_core_round_trips(memory)


def test_data_survives_reopening(bianque_home) -> None:
    with Memory() as first:
        case_id = finished_case(first)
    with Memory() as second:
        assert second.get_case(case_id).verdict == rca_verdict()


ENDINGS = {  # how a running case ends, given the event as the investigation resolved it
    "finished": lambda memory, case_id, event: memory.finish_case(case_id, [], rca_verdict(), "", "offline",
                                                                   event=event),
    "failed": lambda memory, case_id, event: memory.fail_case(case_id, "RuntimeError: boom", event=event),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_case_that_ends_keeps_its_event_as_the_investigation_resolved_it(memory: Memory, ending: str) -> None:
    """A change named by id alone was stored as given, a ``deploy``, whatever its changes line said (a failed case
    kept it so even when the investigation had resolved it before failing)."""
    end = ENDINGS[ending]
    named = Event.model_validate({"pattern": "release_interception", "time": 1772446500, "change": {"id": "cfg-3"}})
    stored = memory.record_event(named, source="bundle")
    resolved = named.model_copy(update={"change": named.change.model_copy(
        update={"type": "config", "service": "ranking", "started": 1772445600.0})})
    other = release_event()
    case = memory.start_case(stored.id, "generic-release")
    with pytest.raises(InvalidInputError, match="is not the stored event"):
        end(memory, case.id, other.model_copy(update={"time": 1.0}))
    assert memory.get_case(case.id).status == "running" and memory.get_event(stored.id).event == named
    ended = end(memory, case.id, resolved)
    assert ended.status == ("done" if ending == "finished" else "failed")
    assert ended.event == resolved and memory.get_event(stored.id).event.change.type == "config"
    assert [c.id for c in memory.list_cases(pattern="release_interception")] == [case.id]
