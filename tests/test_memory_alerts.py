"""Alert dedup: new / repeat / duplicate / resolved, incidents and staleness."""

from __future__ import annotations

import pytest

from agent.memory import AlertKind, CaseNotFoundError, IncidentNotFoundError, InvalidInputError, Memory
from tests.test_memory_roundtrip import finished_case


def fire(memory: Memory, fingerprint: str, ts: float, service: str | None = "ranking", **kwargs):
    return memory.observe_alert(fingerprint, f"Alert-{fingerprint}", service, "firing", ts, **kwargs)


def resolve(memory: Memory, fingerprint: str, ts: float, service: str | None = "ranking"):
    return memory.observe_alert(fingerprint, f"Alert-{fingerprint}", service, "resolved", ts)


def test_first_alert_opens_an_incident(memory: Memory) -> None:
    seen = fire(memory, "a", 100)
    assert seen.kind is AlertKind.NEW and seen.needs_investigation and seen.count == 1
    incident = memory.get_incident(seen.incident_id)
    assert (incident.status, incident.service, incident.first_seen, incident.alert_count) == (
        "open",
        "ranking",
        100,
        1,
    )


def test_repeats_count_up_and_do_not_need_investigation(memory: Memory) -> None:
    first = fire(memory, "a", 100)
    second = fire(memory, "a", 400)
    third = fire(memory, "a", 700)
    assert [second.kind, third.kind] == [AlertKind.REPEAT, AlertKind.REPEAT]
    assert third.count == 3 and third.incident_id == first.incident_id and not third.needs_investigation
    assert memory.get_incident(first.incident_id).last_seen == 700


def test_other_alert_on_same_service_is_a_duplicate_of_the_open_incident(memory: Memory) -> None:
    first = fire(memory, "a", 100)
    case_id = finished_case(memory)
    memory.link_incident_case(first.incident_id, case_id)
    dup = fire(memory, "b", 150)
    assert (dup.kind, dup.incident_id, dup.case_id) == (AlertKind.DUPLICATE, first.incident_id, case_id)
    assert memory.get_incident(first.incident_id).alert_count == 2


def test_other_service_gets_its_own_incident(memory: Memory) -> None:
    first = fire(memory, "a", 100)
    other = fire(memory, "c", 120, service="cache")
    assert other.kind is AlertKind.NEW and other.incident_id != first.incident_id
    assert [i.service for i in memory.open_incidents()] == ["cache", "ranking"]
    assert [i.id for i in memory.open_incidents(service="cache")] == [other.incident_id]


def test_alerts_without_service_are_never_grouped_by_service(memory: Memory) -> None:
    assert fire(memory, "a", 100, service=None).kind is AlertKind.NEW
    assert fire(memory, "b", 100, service=None).kind is AlertKind.NEW


def test_incident_resolves_when_its_last_alert_resolves(memory: Memory) -> None:
    first = fire(memory, "a", 100)
    fire(memory, "b", 110)
    partly = resolve(memory, "a", 200)
    assert partly.kind is AlertKind.RESOLVED and not partly.incident_resolved
    assert memory.get_incident(first.incident_id).status == "open"
    fully = resolve(memory, "b", 250)
    assert fully.incident_resolved
    incident = memory.get_incident(first.incident_id)
    assert (incident.status, incident.resolved_at) == ("resolved", 250)
    assert memory.open_incidents() == []


def test_refiring_after_resolution_is_new_again(memory: Memory) -> None:
    first = fire(memory, "a", 100)
    resolve(memory, "a", 200)
    again = fire(memory, "a", 300)
    assert again.kind is AlertKind.NEW and again.count == 1 and again.incident_id != first.incident_id


def test_resolution_of_an_unknown_alert_is_reported_without_incident(memory: Memory) -> None:
    seen = resolve(memory, "never-fired", 100)
    assert (seen.kind, seen.incident_id, seen.count) == (AlertKind.RESOLVED, None, 0)


def test_stale_incidents_absorb_nothing_and_get_closed(memory: Memory) -> None:
    first = fire(memory, "a", 100, stale_after=600)
    late_other = fire(memory, "b", 1000, stale_after=600)
    assert late_other.kind is AlertKind.NEW and late_other.incident_id != first.incident_id
    assert memory.get_incident(first.incident_id).status == "resolved"
    late_same = fire(memory, "b", 5000, stale_after=600)
    assert late_same.kind is AlertKind.NEW  # a repeat after a long silence is a new episode


def test_out_of_order_notifications_never_move_last_seen_back(memory: Memory) -> None:
    first = fire(memory, "a", 500)
    fire(memory, "a", 300)
    assert memory.get_incident(first.incident_id).last_seen == 500


def test_bad_input_and_unknown_ids(memory: Memory) -> None:
    with pytest.raises(InvalidInputError, match="status: must be firing or resolved"):
        memory.observe_alert("a", "A", "x", "pending", 1)
    with pytest.raises(InvalidInputError, match="fingerprint: empty"):
        memory.observe_alert("", "A", "x", "firing", 1)
    with pytest.raises(IncidentNotFoundError):
        memory.get_incident("nope")
    seen = fire(memory, "a", 1)
    with pytest.raises(CaseNotFoundError):
        memory.link_incident_case(seen.incident_id, "no-case")
    assert memory.get_incident(seen.incident_id).case_id is None


# --- episodes told apart by startsAt: a stale firing copy of a resolved episode vs a re-fire ----------------------


def test_a_firing_copy_of_a_resolved_episode_is_stale(memory: Memory) -> None:
    first = fire(memory, "a", 100, starts_at=90.0)
    memory.observe_alert("a", "Alert-a", "ranking", "resolved", 200, starts_at=90.0)
    late = fire(memory, "a", 300, starts_at=90.0)  # Alertmanager re-delivers the firing notification
    assert (late.kind, late.incident_id, late.incident_resolved, late.starts_at) == (
        AlertKind.STALE, first.incident_id, True, 90.0
    )
    assert not late.needs_investigation
    incident = memory.get_incident(first.incident_id)
    assert (incident.status, incident.alert_count, incident.last_seen) == ("resolved", 1, 200)
    assert memory.open_incidents() == []
    older = fire(memory, "a", 310, starts_at=30.0)  # a copy of an even earlier episode
    assert older.kind is AlertKind.STALE


def test_a_refire_with_a_newer_starts_at_opens_a_new_incident(memory: Memory) -> None:
    first = fire(memory, "a", 100, starts_at=90.0)
    memory.observe_alert("a", "Alert-a", "ranking", "resolved", 200, starts_at=90.0)
    again = fire(memory, "a", 300, starts_at=290.0)
    assert (again.kind, again.starts_at, again.count) == (AlertKind.NEW, 290.0, 1)
    assert again.incident_id != first.incident_id
    assert fire(memory, "a", 400, starts_at=290.0).kind is AlertKind.REPEAT  # the new episode still fires


def test_without_starts_at_a_firing_copy_after_resolution_is_new_as_before(memory: Memory) -> None:
    fire(memory, "a", 100)
    resolve(memory, "a", 200)
    assert fire(memory, "a", 300, starts_at=90.0).kind is AlertKind.NEW  # the resolved episode had no startsAt
    memory.observe_alert("a", "Alert-a", "ranking", "resolved", 400, starts_at=90.0)
    assert fire(memory, "a", 500).kind is AlertKind.NEW  # the copy has none: it cannot be told stale


def test_a_resolution_without_starts_at_keeps_the_recorded_episode(memory: Memory) -> None:
    fire(memory, "a", 100, starts_at=90.0)
    resolve(memory, "a", 200)
    assert fire(memory, "a", 300, starts_at=90.0).kind is AlertKind.STALE


def test_a_resolution_before_its_firing_copy_records_the_episode(memory: Memory) -> None:
    """Copies out of order: the resolution arrives first, then the firing copy of the same episode."""
    resolved = memory.observe_alert("a", "Alert-a", "ranking", "resolved", 200, starts_at=90.0)
    assert (resolved.kind, resolved.incident_id, resolved.count) == (AlertKind.RESOLVED, None, 0)
    late = fire(memory, "a", 210, starts_at=90.0)
    assert (late.kind, late.incident_id) == (AlertKind.STALE, None)
    assert memory.open_incidents() == []
    refire = fire(memory, "a", 300, starts_at=250.0)
    assert refire.kind is AlertKind.NEW and refire.incident_id is not None


def test_a_resolution_never_seen_firing_without_starts_at_stores_nothing(memory: Memory) -> None:
    resolve(memory, "a", 200)
    assert fire(memory, "a", 210).kind is AlertKind.NEW


def test_a_late_resolution_of_an_older_episode_leaves_the_newer_one_firing(memory: Memory) -> None:
    fire(memory, "a", 100, starts_at=90.0)
    memory.observe_alert("a", "Alert-a", "ranking", "resolved", 200, starts_at=90.0)
    newer = fire(memory, "a", 300, starts_at=290.0)
    late = memory.observe_alert("a", "Alert-a", "ranking", "resolved", 310, starts_at=90.0)  # the old one, again
    assert (late.kind, late.starts_at) == (AlertKind.STALE, 290.0)
    assert memory.get_incident(newer.incident_id).status == "open"
    assert fire(memory, "a", 320, starts_at=290.0).kind is AlertKind.REPEAT  # the newer episode still fires
    done = memory.observe_alert("a", "Alert-a", "ranking", "resolved", 400, starts_at=290.0)
    assert done.kind is AlertKind.RESOLVED and memory.get_incident(newer.incident_id).status == "resolved"


def test_a_newer_episode_while_the_recorded_one_fires_ends_it_and_opens_a_new_incident(memory: Memory) -> None:
    """No resolution came (send_resolved off, a call lost): a firing copy with a newer startsAt is a new episode."""
    first = fire(memory, "a", 100, starts_at=90.0)
    assert fire(memory, "a", 160, starts_at=90.0).kind is AlertKind.REPEAT  # the same episode re-notified
    again = fire(memory, "a", 900, starts_at=850.0)
    assert (again.kind, again.starts_at, again.count) == (AlertKind.NEW, 850.0, 1) and again.needs_investigation
    assert again.incident_id != first.incident_id
    assert memory.get_incident(first.incident_id).status == "resolved"
    assert fire(memory, "a", 960, starts_at=850.0).kind is AlertKind.REPEAT
    late = fire(memory, "a", 970, starts_at=90.0)  # a copy of the old episode while the new one fires
    assert (late.kind, late.incident_id, late.count) == (AlertKind.STALE, again.incident_id, 2)


def test_a_newer_episode_joins_an_incident_other_alerts_keep_open(memory: Memory) -> None:
    first = fire(memory, "a", 100, starts_at=90.0)
    fire(memory, "b", 110, starts_at=95.0)  # another alert of the same service: the incident stays open
    again = fire(memory, "a", 900, starts_at=850.0)
    assert (again.kind, again.incident_id) == (AlertKind.DUPLICATE, first.incident_id)


def test_alerts_begun_between_reads_each_alerts_latest_episode(memory: Memory) -> None:
    memory.observe_alert("a", "Early", "x", "firing", 100.0, starts_at=90.0)
    memory.observe_alert("b", "NoStart", "y", "firing", 150.0)  # no startsAt: it began when first notified
    memory.observe_alert("c", "AtEnd", "z", "firing", 200.0, starts_at=200.0)  # the range's end is not in it
    memory.observe_alert("d", "Refired", "w", "firing", 10.0, starts_at=10.0)
    memory.observe_alert("d", "Refired", "w", "resolved", 20.0, starts_at=10.0)
    memory.observe_alert("d", "Refired", "w", "firing", 120.0, starts_at=120.0)  # a new episode, in the range
    found = memory.alerts_begun_between(90.0, 200.0)
    assert [(a.fingerprint, a.began) for a in found] == [("a", 90.0), ("d", 120.0), ("b", 150.0)]
    assert found[0].alertname == "Early" and found[0].service == "x" and found[0].status == "firing"
    assert memory.alerts_begun_between(0.0, 50.0) == []  # d's first episode is no longer its latest
