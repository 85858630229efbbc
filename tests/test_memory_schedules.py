"""Schedules: create, read, update, delete, run bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session, sessionmaker

from agent.memory import InvalidInputError, Memory, ScheduleBusyError, ScheduleExistsError, ScheduleNotFoundError
from agent.memory import schedules as schedule_store
from agent.memory.db import alembic_config, current_revision, head_revision, make_engine, upgrade, writer
from agent.memory.models import ScheduleRow
from agent.memory.schedules import MAX_REASON_CHARS
from tests.at_once import each_at_once
from tests.test_memory_db import upgrade_keeping_rows


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
        (("nl\nid", "s", "* * * * *"), "job_id"),  # listed as a phantom second row
        (("ctl\x1bid", "s", "* * * * *"), "job_id"),  # an ESC written to terminals
        (("j", "s", "* * * * *", [""]), r"services\[0\]"),  # inspected nothing
        (("j", "s", "* * * * *", ["ranking", "a\tb"]), r"services\[1\]"),
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


def run_rows(memory: Memory) -> list[tuple]:
    """Every row of ``schedule_runs`` (job id, status), whatever its schedule: what the history tables hold."""
    with memory.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT job_id, status FROM schedule_runs ORDER BY id"))]


def check_run_history(memory: Memory) -> None:
    """Each recorded run is a row of its schedule's history, newest first by start, with its trigger, times, case and
    reason (cleaned as last_reason is); replacing a schedule keeps it, removing it removes it. Also run on
    PostgreSQL."""
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    memory.save_schedule("hourly", "inspect-disk", "0 * * * *")
    assert memory.schedule_runs("nightly") == []
    memory.record_schedule_run("nightly", "done", ts=160.0, case_id="c1", started=100.0, trigger="scheduled")
    memory.record_schedule_run("nightly", "skipped", ts=130.0, reason="schedule 'nightly' is already running",
                               trigger="scheduled")
    last = memory.record_schedule_run("nightly", "failed", ts=230.0, reason="RuntimeError: down\n  at x\x00",
                                      started=200.0)
    memory.record_schedule_run("hourly", "done", ts=300.0, case_id="c2", started=290.0)
    runs = memory.schedule_runs("nightly")
    assert [(r.status, r.trigger, r.started_at, r.finished_at, r.took, r.case_id) for r in runs] == [
        ("failed", "manual", 200.0, 230.0, 30.0, None),
        ("skipped", "scheduled", 130.0, 130.0, 0.0, None),
        ("done", "scheduled", 100.0, 160.0, 60.0, "c1")]
    assert runs[0].reason == last.last_reason == "RuntimeError: down at x"
    assert (runs[1].reason, runs[2].reason) == ("schedule 'nightly' is already running", None)
    assert [r.status for r in memory.schedule_runs("nightly", limit=2)] == ["failed", "skipped"]
    assert [r.case_id for r in memory.schedule_runs("hourly")] == ["c2"]
    for bad, field in ((lambda: memory.record_schedule_run("nightly", "done", trigger="cron"), "trigger"),
                       (lambda: memory.record_schedule_run("nightly", "d" * 33), "status"),
                       (lambda: memory.schedule_runs("nightly", limit=0), "limit")):
        with pytest.raises(InvalidInputError, match=f"^{field}:"):
            bad()
    assert len(memory.schedule_runs("nightly")) == 3 and memory.get_schedule("nightly").last_status == "failed"
    with pytest.raises(ScheduleNotFoundError, match="'ghost'"):
        memory.schedule_runs("ghost")
    memory.save_schedule("nightly", "inspect-ranking", "30 3 * * *")  # replaced: its history stays
    assert len(memory.schedule_runs("nightly")) == 3
    assert memory.delete_schedule("nightly") is True
    assert run_rows(memory) == [("hourly", "done")]
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")  # the same id again starts with no history
    assert memory.schedule_runs("nightly") == []


def test_run_history(memory: Memory) -> None:
    check_run_history(memory)


def check_interrupted_runs_shown_as_recorded(memory: Memory) -> None:
    """Runs a gone process left ``running`` are read without a write (``left_running``, newest first); ``settled``
    shows each schedule as ``end_interrupted_runs`` then records it: the newest such run its last run when none came
    after it, a gone holder's claim released, a live holder's run and claim untouched. Also run on PostgreSQL."""
    dead = lambda holder: holder.startswith("gone:")  # noqa: E731
    for job_id in ("nightly", "hourly", "weekly"):
        memory.save_schedule(job_id, "inspect-ranking", "0 2 * * *")
    memory.start_schedule_run("nightly", "gone:1:a", started=100.0)
    memory.start_schedule_run("nightly", "gone:1:b", started=200.0)
    memory.claim_schedule_run("nightly", "gone:1:b", 300.0)
    memory.start_schedule_run("hourly", "alive:2:c", started=150.0)
    memory.claim_schedule_run("hourly", "alive:2:c", 300.0)
    memory.record_schedule_run("weekly", "done", ts=500.0, started=400.0)
    memory.start_schedule_run("weekly", "gone:1:d", started=300.0)  # a run recorded since: stays the last run
    lost = memory.left_running(dead)
    assert [(r.job_id, r.holder) for r in lost] == [("weekly", "gone:1:d"), ("nightly", "gone:1:b"),
                                                   ("nightly", "gone:1:a")]
    shown = [schedule_store.interrupted(run, 900.0) for run in lost]
    expected = {s.job_id: schedule_store.settled(s, shown, dead) for s in memory.list_schedules()}
    assert [r.status for r in memory.schedule_runs("nightly")] == ["running", "running"]  # read: nothing written
    ended = memory.end_interrupted_runs(dead, ts=900.0)
    assert [(r.id, r.status, r.reason) for r in ended] == [(r.id, r.status, r.reason) for r in shown]
    assert {s.job_id: s.model_dump(exclude={"updated_at"}) for s in memory.list_schedules()} == {
        job_id: s.model_dump(exclude={"updated_at"}) for job_id, s in expected.items()}
    nightly, hourly, weekly = (expected[j] for j in ("nightly", "hourly", "weekly"))
    assert (nightly.last_status, nightly.last_run, nightly.running_by) == ("failed", 900.0, None)
    assert nightly.last_reason.startswith("interrupted: the process that ran it (gone:1:b) is no longer running")
    assert (hourly.last_status, hourly.running_by) == (None, "alive:2:c")
    assert (weekly.last_status, weekly.last_run) == ("done", 500.0)
    assert memory.left_running(dead) == []


def test_interrupted_runs_shown_as_recorded(memory: Memory) -> None:
    check_interrupted_runs_shown_as_recorded(memory)


def check_run_history_is_bounded(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording a run beyond ``MAX_RUNS_KEPT`` removes that schedule's oldest (by start), not another schedule's;
    a recording that fails part-way writes nothing, its run nor the removal. Also run on PostgreSQL."""
    monkeypatch.setattr(schedule_store, "MAX_RUNS_KEPT", 3)
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    memory.save_schedule("hourly", "inspect-disk", "0 * * * *")
    memory.record_schedule_run("hourly", "done", ts=5.0)
    for start in (10.0, 40.0, 20.0, 30.0):  # recorded out of order: the one started first goes
        memory.record_schedule_run("nightly", "done", ts=start + 1, started=start, case_id=f"c{start:g}")
    assert [r.started_at for r in memory.schedule_runs("nightly")] == [40.0, 30.0, 20.0]
    memory.record_schedule_run("nightly", "failed", ts=51.0, started=50.0)
    assert [r.started_at for r in memory.schedule_runs("nightly")] == [50.0, 40.0, 30.0]
    assert [r.started_at for r in memory.schedule_runs("hourly")] == [5.0]

    def broken(session: Session, job_id: str) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Memory, "_prune_runs", staticmethod(broken))
    with pytest.raises(RuntimeError, match="went away"):
        memory.record_schedule_run("nightly", "done", ts=61.0, started=60.0)
    assert [r.started_at for r in memory.schedule_runs("nightly")] == [50.0, 40.0, 30.0]
    assert memory.get_schedule("nightly").last_status == "failed"


def test_run_history_is_bounded(memory: Memory, monkeypatch) -> None:
    check_run_history_is_bounded(memory, monkeypatch)


def check_run_history_migration_keeps_rows(url: str) -> None:
    """Schedules stored at revision 0006 survive 0007 (schedule_runs) unchanged: one that has run gets its last run
    as the first run of its history (its start and trigger unknown), one that never ran none; and 0007's downgrade
    drops the history only. Also run on PostgreSQL."""
    engine = make_engine(url)
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO schedules (job_id, skill, cron, services, enabled, last_run, last_status, "
                                "last_case_id, last_reason, created_at, updated_at) VALUES "
                                "('nightly', 'inspect-ranking', '0 2 * * *', '[\"ranking\"]', false, 1000, 'failed', "
                                "NULL, 'RuntimeError: down', 10, 20), "
                                "('hourly', 'inspect-disk', '0 * * * *', '[]', true, 900, 'done', 'c1', NULL, 11, 21), "
                                "('fresh', 'inspect-disk', '0 4 * * *', '[]', true, NULL, NULL, NULL, NULL, 12, 22)"))
    upgrade_keeping_rows(engine, text("SELECT * FROM schedules ORDER BY job_id"))
    with Memory(engine=engine) as memory:
        (failed,) = memory.schedule_runs("nightly")
        assert (failed.status, failed.reason, failed.finished_at, failed.started_at, failed.took, failed.trigger) == (
            "failed", "RuntimeError: down", 1000.0, None, None, None)
        assert [(r.status, r.case_id) for r in memory.schedule_runs("hourly")] == [("done", "c1")]
        assert memory.schedule_runs("fresh") == []
        memory.record_schedule_run("nightly", "done", ts=2010.0, started=2000.0, case_id="c2", trigger="scheduled")
        assert [r.status for r in memory.schedule_runs("nightly")] == ["done", "failed"]
    command.downgrade(alembic_config(url), "0006")
    engine = make_engine(url)
    with engine.connect() as connection:
        assert "schedule_runs" not in inspect(engine).get_table_names()
        rows = connection.execute(text("SELECT job_id, last_run, last_status, last_case_id FROM schedules "
                                       "ORDER BY job_id")).all()
        assert [tuple(row) for row in rows] == [("fresh", None, None, None), ("hourly", 900.0, "done", "c1"),
                                                ("nightly", 2010.0, "done", "c2")]
    engine.dispose()


def test_the_run_history_migration_keeps_existing_rows(tmp_path) -> None:
    check_run_history_migration_keeps_rows(f"sqlite:///{tmp_path / 'm.db'}")


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


def race_lookup(first: Memory, add_by_other: Callable[[], object]) -> list[str]:
    """Make ``first``'s next schedule write race ``add_by_other`` (another process adding that schedule): its look-up
    finds no row, and the other adds it before its insert. On PostgreSQL the other commits between the look-up and the
    insert; SQLite lets no writer commit inside another's transaction (BEGIN IMMEDIATE), so there the other commits just
    before and the look-up misses it, as a look-up made a moment earlier would. The job ids raced are added to the list
    returned (once the look-up happened)."""
    serialised = first.engine.dialect.name == "sqlite"
    raced: list[str] = []

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
    return raced


def check_adding_one_schedule_at_once(url: str) -> None:
    """Two processes (two Memory objects, each with its own engine) add one new schedule at once, as two replicas
    mirroring a new Skill's schedule at the same re-sync (:func:`race_lookup`). The first must take the row as there
    (updating it, no IntegrityError), and one row is left. Also run on PostgreSQL."""
    with Memory(url) as first, Memory(url) as other:
        raced = race_lookup(first, lambda: other.save_schedule("skill:disk-check", "disk-check", "0 2 * * *",
                                                               ["cache"]))
        saved = first.save_schedule("skill:disk-check", "disk-check", "0 2 * * *", ["cache"])
        assert raced == ["skill:disk-check"]
        assert (saved.skill, saved.cron, saved.services, saved.enabled) == ("disk-check", "0 2 * * *", ["cache"], True)
        assert [s.job_id for s in other.list_schedules()] == ["skill:disk-check"]


def check_creating_one_new_schedule_at_once(url: str) -> None:
    """Two users add one new job id at once (``create_only``, as `schedule add` without --replace does; two Memory
    objects, each with its own engine, racing as :func:`race_lookup` says): the one whose look-up found no row is
    refused, naming the other's schedule, which stays as that user saved it instead of being silently replaced. Also
    run on PostgreSQL."""
    with Memory(url) as first, Memory(url) as other:
        raced = race_lookup(first, lambda: other.save_schedule("nightly", "disk-check", "0 2 * * *", ["cache"],
                                                               create_only=True))
        with pytest.raises(ScheduleExistsError, match=r"^schedule 'nightly' already exists \(Skill disk-check, "
                           r"cron '0 2 \* \* \*'\); not saved$") as refused:
            first.save_schedule("nightly", "saturation-check", "0 3 * * *", ["ranking"], create_only=True)
        assert raced == ["nightly"]
        assert refused.value.existing == other.get_schedule("nightly")
        kept = other.get_schedule("nightly")
        assert (kept.skill, kept.cron, kept.services) == ("disk-check", "0 2 * * *", ["cache"])
        assert first.save_schedule("hourly", "disk-check", "0 * * * *", create_only=True).job_id == "hourly"


def test_adding_one_schedule_at_once(tmp_path) -> None:
    check_adding_one_schedule_at_once(f"sqlite:///{tmp_path / 'race.db'}")


def check_run_claims(memory: Memory) -> None:
    """One run holds a schedule at a time: a live claim refuses another, naming it; a claim whose lease ran out (its
    process died) is taken over; only the holder renews or releases it. Also run on PostgreSQL."""
    memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")
    held = memory.claim_schedule_run("nightly", "host-a:1:r1", lease_s=300.0, now=1000.0)
    assert (held.running_by, held.running_since, held.running_until) == ("host-a:1:r1", 1000.0, 1300.0)
    with pytest.raises(ScheduleBusyError, match=r"^schedule 'nightly' is already running \(started "
                       r"1970-01-01T00:16:40Z by host-a:1:r1\); its lease runs out at "
                       r"1970-01-01T00:21:40Z unless renewed; two runs of one schedule never overlap"):
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


def test_creating_one_new_schedule_at_once(tmp_path) -> None:
    check_creating_one_new_schedule_at_once(f"sqlite:///{tmp_path / 'race.db'}")


def test_saving_with_enabled_none_keeps_the_stored_flag(memory: Memory) -> None:
    assert memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *", enabled=None).enabled is True
    memory.set_schedule_enabled("nightly", False)
    replaced = memory.save_schedule("nightly", "inspect-disk", "0 3 * * *", enabled=None)
    assert (replaced.skill, replaced.enabled) == ("inspect-disk", False)
    assert memory.save_schedule("nightly", "inspect-disk", "0 3 * * *").enabled is True


def test_run_claims(memory: Memory) -> None:
    check_run_claims(memory)


def claim_at_once(url: str, claimants: int) -> list[str]:
    """``claimants`` runs, each with its own engine (own connections, as separate processes have), claim one
    schedule at the same moment; the ones that got it (every other one must be told it is busy: any other error, a
    lock timeout say, fails here rather than pass as a lost race)."""
    with Memory(url) as memory:
        memory.save_schedule("nightly", "inspect-ranking", "0 2 * * *")

    def claim(store: Memory, index: int) -> str | None:
        try:
            store.claim_schedule_run("nightly", f"run-{index}", lease_s=300.0)
        except ScheduleBusyError:
            return None  # every other one must be told it is busy
        return f"run-{index}"

    return [name for name in each_at_once(url, claimants, claim) if name is not None]


def test_of_runs_claiming_one_schedule_at_once_one_wins(tmp_path) -> None:
    won = claim_at_once(f"sqlite:///{tmp_path / 'shared.db'}", 6)
    assert len(won) == 1
