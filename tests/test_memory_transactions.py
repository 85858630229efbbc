"""Every memory write is one transaction: a failure part-way leaves nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agent.memory import Memory
from agent.memory import alerts as alerts_module
from agent.memory import cases as cases_module
from agent.memory import skill_versions as skill_versions_module
from agent.memory.models import AlertRow, EventRow, IncidentRow
from tests.test_memory_roundtrip import finding, rca_event, rca_verdict


class Boom(RuntimeError):
    pass


def _fail_after(original):
    """Run the real step (its writes reach the database), then fail."""

    def wrapper(*args, **kwargs):
        original(*args, **kwargs)
        raise Boom("injected failure")

    return wrapper


def _count(memory: Memory, model) -> int:
    with memory._read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_failed_activation_keeps_the_previous_active_version(memory: Memory, monkeypatch) -> None:
    memory.save_skill_version("rca-latency", "v: 1\n", "initial")
    memory.save_skill_version("rca-latency", "v: 2\n", "refined")
    monkeypatch.setattr(skill_versions_module, "_activate", _fail_after(skill_versions_module._activate))
    with pytest.raises(Boom):
        memory.activate_skill_version("rca-latency", 1)
    assert [v.active for v in memory.skill_versions("rca-latency")] == [False, True]


def test_failed_save_stores_no_version(memory: Memory, monkeypatch) -> None:
    memory.save_skill_version("rca-latency", "v: 1\n", "initial")
    monkeypatch.setattr(skill_versions_module, "_activate", _fail_after(skill_versions_module._activate))
    with pytest.raises(Boom):
        memory.save_skill_version("rca-latency", "v: 2\n", "refined")
    assert [(v.version, v.active) for v in memory.skill_versions("rca-latency")] == [(1, True)]


def test_failed_alert_observation_leaves_no_incident(memory: Memory, monkeypatch) -> None:
    monkeypatch.setattr(alerts_module, "_observation", _fail_after(alerts_module._observation))
    with pytest.raises(Boom):
        memory.observe_alert("fp", "A", "ranking", "firing", 100)
    assert (_count(memory, AlertRow), _count(memory, IncidentRow)) == (0, 0)


def test_failed_finish_leaves_the_case_running_without_answer(memory: Memory, monkeypatch) -> None:
    case = memory.start_case(memory.record_event(rca_event()).id, "rca-latency")
    monkeypatch.setattr(cases_module, "case_record", _fail_after(cases_module.case_record))
    with pytest.raises(Boom):
        memory.finish_case(case.id, [finding()], rca_verdict(), "report", "offline")
    monkeypatch.undo()
    stored = memory.get_case(case.id)
    assert (stored.status, stored.verdict, stored.findings, stored.report) == ("running", None, [], None)


def test_failed_event_record_stores_nothing(memory: Memory, monkeypatch) -> None:
    monkeypatch.setattr(cases_module, "event_record", _fail_after(cases_module.event_record))
    with pytest.raises(Boom):
        memory.record_event(rca_event())
    assert _count(memory, EventRow) == 0
