"""Schedules: create, read, update, delete, run bookkeeping."""

from __future__ import annotations

import pytest

from agent.memory import InvalidInputError, Memory, ScheduleNotFoundError


def test_schedule_crud(memory: Memory) -> None:
    created = memory.save_schedule("nightly-ranking", "inspect-ranking", "0 2 * * *", ["ranking", "cache"])
    assert (created.enabled, created.services, created.last_run) == (True, ["ranking", "cache"], None)
    memory.record_schedule_run("nightly-ranking", "done", ts=1000.0, case_id="c1")
    updated = memory.save_schedule("nightly-ranking", "inspect-ranking", "30 3 * * *", ["ranking"])
    assert (updated.cron, updated.services, updated.last_status, updated.last_run) == (
        "30 3 * * *",
        ["ranking"],
        "done",
        1000.0,
    )
    assert updated.created_at == created.created_at and updated.updated_at >= created.updated_at
    memory.save_schedule("hourly-disk", "inspect-disk", "0 * * * *")
    assert [s.job_id for s in memory.list_schedules()] == ["hourly-disk", "nightly-ranking"]
    memory.set_schedule_enabled("hourly-disk", False)
    assert [s.job_id for s in memory.list_schedules(enabled_only=True)] == ["nightly-ranking"]
    assert [s.job_id for s in memory.list_schedules(skill="inspect-disk")] == ["hourly-disk"]
    assert memory.delete_schedule("hourly-disk") is True
    assert memory.delete_schedule("hourly-disk") is False
    with pytest.raises(ScheduleNotFoundError, match="'hourly-disk'"):
        memory.get_schedule("hourly-disk")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "s", "* * * * *"), "job_id"),
        (("j", "", "* * * * *"), "skill"),
        (("j", "s", "every day"), "cron"),
        (("j", "s", "* * * * *", "ranking"), "services"),
        (("j" * 201, "s", "* * * * *"), "job_id"),  # wider than the column: PostgreSQL would refuse it
        (("j", "s" * 65, "* * * * *"), "skill"),
    ],
)
def test_bad_schedules_are_rejected(memory: Memory, args: tuple, field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{field}:"):
        memory.save_schedule(*args)
    assert memory.list_schedules() == []


def test_run_bookkeeping_needs_an_existing_schedule(memory: Memory) -> None:
    with pytest.raises(ScheduleNotFoundError):
        memory.record_schedule_run("ghost", "done")
    with pytest.raises(ScheduleNotFoundError):
        memory.set_schedule_enabled("ghost", True)
