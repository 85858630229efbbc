"""Schedules: create, read, update, delete, run bookkeeping."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session, sessionmaker

from agent.memory import InvalidInputError, Memory, ScheduleBusyError, ScheduleNotFoundError
from agent.memory.db import alembic_config, current_revision, head_revision, make_engine, upgrade, writer
from agent.memory.models import ScheduleRow
from agent.memory.schedules import MAX_REASON_CHARS


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
        (("j", "s", "0 0 2 * * *"), "cron"),  # six fields (seconds first): no job would run it
        (("j", "s", "* * * * *", "ranking"), "services"),
        (("j" * 201, "s", "* * * * *"), "job_id"),  # wider than the column: PostgreSQL would refuse it
        (("j", "s" * 65, "* * * * *"), "skill"),
    ],
)
def test_bad_schedules_are_rejected(memory: Memory, args: tuple, field: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{field}:"):
        memory.save_schedule(*args)
    assert memory.list_schedules() == []


def test_find_schedule_is_get_schedule_or_none(memory: Memory) -> None:
    assert memory.find_schedule("nightly") is None
    stored = memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    assert memory.find_schedule("nightly") == stored == memory.get_schedule("nightly")


def test_run_bookkeeping_needs_an_existing_schedule(memory: Memory) -> None:
    with pytest.raises(ScheduleNotFoundError):
        memory.record_schedule_run("ghost", "done")
    with pytest.raises(ScheduleNotFoundError):
        memory.set_schedule_enabled("ghost", True)


def check_run_reasons(memory: Memory) -> None:
    """A failed run keeps why, as one bounded line of text any database stores (a NUL, a lone surrogate and a
    newline in an exception's message included); a run without a reason clears it. Also run on PostgreSQL."""
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    message = "RuntimeError: query failed\x00 at line 3:\n  [red]rm -rf /[/red]\t\ud800 " + "x" * 1000
    failed = memory.record_schedule_run("nightly", "failed", ts=1000.0, reason=message)
    assert failed.last_reason == memory.get_schedule("nightly").last_reason
    assert failed.last_reason.startswith("RuntimeError: query failed at line 3: [red]rm -rf /[/red] ? xxx")
    assert len(failed.last_reason) == MAX_REASON_CHARS and failed.last_reason.endswith("x…")
    done = memory.record_schedule_run("nightly", "done", ts=2000.0, case_id="c1")
    assert (done.last_status, done.last_reason) == ("done", None)


def test_run_reasons(memory: Memory) -> None:
    check_run_reasons(memory)


@pytest.mark.parametrize("message", ["RuntimeError: query failed\x00 at line 3:\n  [red]x[/red]\t\ud800 " + "x" * 1000,
                                     "a\x1c\x00b \x7f\x85 c", " \x00\n\t ", "ok", "y" * 499 + "\x00z"])
def test_a_run_reason_is_cleaned_once_and_stored_as_before(monkeypatch, message: str) -> None:
    """``run_reason`` cleans the text once (``storable_text``), then cuts the one line it makes: as cleaning it
    again after joining its words did, that pass changing nothing."""
    from agent.memory import schedules
    from agent.memory.errors import storable_text

    before = storable_text(" ".join(storable_text(message).split()), MAX_REASON_CHARS) or None
    calls: list[str] = []

    def counted(text: str, limit: int | None = None) -> str:
        calls.append(text)
        return storable_text(text, limit)

    monkeypatch.setattr(schedules, "storable_text", counted)
    assert schedules.run_reason(message) == before
    assert calls == [message]


def check_schedule_migrations_keep_rows(url: str) -> None:
    """A schedule stored at revision 0003 survives 0004 (schedules.last_reason) and 0005 (the run claim: running_by,
    running_since, running_until), NULL for it, and their downgrades. Also run on PostgreSQL."""
    engine = make_engine(url)
    upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO schedules (job_id, skill, cron, services, enabled, last_run, last_status, "
                                "last_case_id, created_at, updated_at) VALUES ('nightly', 'inspect-ranking', "
                                "'0 2 * * *', '[\"ranking\"]', true, 1000, 'failed', NULL, 10, 20)"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with Memory(engine=engine) as memory:
        kept = memory.get_schedule("nightly")
        assert (kept.services, kept.last_status, kept.last_reason, kept.updated_at) == (["ranking"], "failed", None,
                                                                                        20.0)
        assert (kept.running_by, kept.running_since, kept.running_until) == (None, None, None)
        memory.claim_schedule_run("nightly", "a-run", lease_s=300.0, now=1500.0)
        memory.record_schedule_run("nightly", "failed", ts=2000.0, reason="ValueError: bad")
    command.downgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    with engine.connect() as connection:
        assert "last_reason" not in {c["name"] for c in inspect(engine).get_columns("schedules")}
        assert connection.execute(text("SELECT last_status, last_run FROM schedules")).all() == [("failed", 2000.0)]
    engine.dispose()


def test_the_schedule_migrations_keep_existing_rows(tmp_path) -> None:
    check_schedule_migrations_keep_rows(f"sqlite:///{tmp_path / 'm.db'}")


def check_adding_one_schedule_at_once(url: str) -> None:
    """Two processes (two Memory objects, each with its own engine) add one new schedule at once, as two replicas
    mirroring a new Skill's schedule at the same re-sync: the first looks for the row and finds none, the other
    adds it, then the first inserts. The first must take the row as there (updating it, no IntegrityError), and
    one row is left. On PostgreSQL the other commits between the first's look-up and its insert; SQLite lets no
    writer commit inside another's transaction (BEGIN IMMEDIATE), so there the other commits just before and the
    first's look-up misses it, as a look-up made a moment earlier would. Also run on PostgreSQL."""
    with Memory(url) as first, Memory(url) as other:
        serialised = first.engine.dialect.name == "sqlite"
        raced: list[str] = []

        def add_by_other() -> None:
            other.save_schedule("skill:disk-check", "disk-check", "0 2 * * *", ["cache"])

        class LateLookup(Session):
            def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
                found = super().get(entity, ident, **kwargs)
                if entity is not ScheduleRow or raced:
                    return found
                raced.append(ident)
                if not serialised:
                    assert found is None
                    add_by_other()
                return None

        if serialised:
            add_by_other()
        first._write_sessions = sessionmaker(writer(first.engine), class_=LateLookup, expire_on_commit=False)
        saved = first.save_schedule("skill:disk-check", "disk-check", "0 2 * * *", ["cache"])
        assert raced == ["skill:disk-check"]
        assert (saved.skill, saved.cron, saved.services, saved.enabled) == ("disk-check", "0 2 * * *", ["cache"], True)
        assert [s.job_id for s in other.list_schedules()] == ["skill:disk-check"]


def test_adding_one_schedule_at_once(tmp_path) -> None:
    check_adding_one_schedule_at_once(f"sqlite:///{tmp_path / 'race.db'}")


def check_run_claims(memory: Memory) -> None:
    """One run holds a schedule at a time: a live claim refuses another, naming it; a claim whose lease ran out (its
    process died) is taken over; only the holder renews or releases it. Also run on PostgreSQL."""
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    held = memory.claim_schedule_run("nightly", "host-a:1:r1", lease_s=300.0, now=1000.0)
    assert (held.running_by, held.running_since, held.running_until) == ("host-a:1:r1", 1000.0, 1300.0)
    with pytest.raises(ScheduleBusyError, match=r"^schedule 'nightly' is already running \(started "
                       r"1970-01-01T00:16:40Z by host-a:1:r1\); two runs of one schedule never overlap"):
        memory.claim_schedule_run("nightly", "host-b:2:r2", lease_s=300.0, now=1299.0)
    assert memory.get_schedule("nightly").running_by == "host-a:1:r1"
    assert memory.renew_schedule_run("nightly", "host-a:1:r1", 300.0, now=1250.0) is True
    assert memory.renew_schedule_run("nightly", "host-b:2:r2", 300.0, now=1250.0) is False
    with pytest.raises(ScheduleBusyError):  # renewed: still live past its first lease
        memory.claim_schedule_run("nightly", "host-b:2:r2", lease_s=300.0, now=1400.0)
    taken = memory.claim_schedule_run("nightly", "host-b:2:r2", lease_s=300.0, now=1551.0)  # lease ran out
    assert (taken.running_by, taken.running_since, taken.running_until) == ("host-b:2:r2", 1551.0, 1851.0)
    assert memory.release_schedule_run("nightly", "host-a:1:r1") is False  # the stale holder releases nothing
    assert memory.get_schedule("nightly").running_by == "host-b:2:r2"
    assert memory.release_schedule_run("nightly", "host-b:2:r2") is True
    free = memory.get_schedule("nightly")
    assert (free.running_by, free.running_since, free.running_until) == (None, None, None)
    assert memory.claim_schedule_run("nightly", "host-c:3:r3", lease_s=300.0, now=1600.0).running_by == "host-c:3:r3"
    with pytest.raises(ScheduleNotFoundError):
        memory.claim_schedule_run("ghost", "host-c:3:r4", lease_s=300.0)


def test_run_claims(memory: Memory) -> None:
    check_run_claims(memory)


def claim_at_once(url: str, claimants: int) -> list[str]:
    """``claimants`` runs, each with its own engine (own connections, as separate processes have), claim one
    schedule at the same moment; the ones that got it (every other one must be told it is busy: any other error, a
    lock timeout say, fails here rather than pass as a lost race)."""
    with Memory(url) as memory:
        memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    stores = [Memory(url) for _ in range(claimants)]
    start = threading.Barrier(claimants)
    won: list[str] = []
    busy: list[str] = []
    failed: list[BaseException] = []

    def claim(store: Memory, name: str) -> None:
        start.wait()
        try:
            store.claim_schedule_run("nightly", name, lease_s=300.0)
            won.append(name)
        except ScheduleBusyError:
            busy.append(name)
        except Exception as exc:  # noqa: BLE001 - said below, with the others
            failed.append(exc)

    threads = [threading.Thread(target=claim, args=(store, f"run-{i}")) for i, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert failed == [] and len(won) + len(busy) == claimants
    return won


def test_of_runs_claiming_one_schedule_at_once_one_wins(tmp_path) -> None:
    won = claim_at_once(f"sqlite:///{tmp_path / 'shared.db'}", 6)
    assert len(won) == 1
