"""Schema migrations and engine setup."""

from __future__ import annotations

import multiprocessing
import socket
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, TextClause, inspect, text

from agent.memory import DatabaseUnavailableError, DatabaseURLError, Memory, init_db
from agent.memory.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from agent.memory.models import Base


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def upgrade_keeping_rows(engine: Engine, query: TextClause) -> list[tuple]:
    """Upgrade ``engine`` to the head revision, checking that ``query`` reads the same rows after as before; those
    rows. Also used on PostgreSQL."""
    with engine.connect() as connection:
        before = [tuple(row) for row in connection.execute(query)]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(query)] == before
    return before


def test_init_db_migrates_to_head_and_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'memory.db'}"
    first = init_db(url)
    assert current_revision(first) == head_revision() is not None
    with Memory(engine=first) as memory:
        case_id = memory.start_case(memory.record_event({"pattern": "inspection", "time": 0}).id, "s").id
    second = init_db(url)
    upgrade(second)  # running the upgrade itself again is a no-op too
    assert current_revision(second) == head_revision()
    with Memory(engine=second) as memory:
        assert memory.get_case(case_id).status == "running"


def test_migrations_create_exactly_the_models_tables(tmp_path) -> None:
    engine = init_db(f"sqlite:///{tmp_path / 'm.db'}")
    assert _tables(engine) == set(Base.metadata.tables)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_autogenerate_diff_notices_a_model_change(tmp_path) -> None:
    """The comparison above can fail: a table missing from the database shows up as a diff."""
    engine = init_db(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE schedules"))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d[0] for d in diff if d[0] == "add_table"] == ["add_table"]
    engine.dispose()


def test_downgrade_to_base_removes_every_table(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    init_db(url).dispose()
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert _tables(engine) == set()
    assert current_revision(engine) is None
    engine.dispose()


ALERT_COLUMNS = "id, fingerprint, alertname, service, status, first_seen, last_seen, count, incident_id"


def check_starts_at_migration_keeps_rows(url: str) -> None:
    """Rows stored at revision 0002 survive 0003 (alerts.starts_at, NULL for them) and its downgrade, and an
    episode stored before it is handled as before: a firing copy after its resolution is new. Also run on PostgreSQL."""
    engine = make_engine(url)
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO incidents (id, service, status, first_seen, last_seen, alert_count, "
                                "resolved_at) VALUES ('inc-1', 'ranking', 'resolved', 100, 200, 2, 200)"))
        connection.execute(text(f"INSERT INTO alerts ({ALERT_COLUMNS}) VALUES "
                                "(1, 'fp-1', 'HighLatency', 'ranking', 'resolved', 100, 200, 2, 'inc-1'), "
                                "(2, 'fp-2', 'ErrorRate', NULL, 'firing', 150, 150, 1, NULL)"))
    upgrade_keeping_rows(engine, text(f"SELECT {ALERT_COLUMNS} FROM alerts ORDER BY id"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT starts_at FROM alerts")).scalars().all() == [None, None]
    with Memory(engine=engine) as memory:
        assert memory.get_incident("inc-1").alert_count == 2
        again = memory.observe_alert("fp-1", "HighLatency", "ranking", "firing", 300, starts_at=90.0)
        assert again.kind.value == "new" and again.incident_id != "inc-1"
    command.downgrade(alembic_config(url), "0002")
    engine = make_engine(url)
    with engine.connect() as connection:
        assert "starts_at" not in {c["name"] for c in inspect(engine).get_columns("alerts")}
        assert connection.execute(text("SELECT count(*) FROM alerts")).scalar() == 2
    engine.dispose()


def test_the_starts_at_migration_keeps_existing_rows(tmp_path) -> None:
    check_starts_at_migration_keeps_rows(f"sqlite:///{tmp_path / 'm.db'}")


# no id: PostgreSQL's sequence hands out the ids
CORRECTION_COLUMNS = ("case_id, correct, root_cause_service, root_cause_fault, decision, needs_attention, note, "
                      "author, created_at")


def check_no_index_migration_keeps_rows(url: str) -> None:
    """Corrections stored at revision 0005 survive 0006 (corrections.no_index, false for them: their cases stay
    experience) and its downgrade. Also run on PostgreSQL."""
    engine = make_engine(url)
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO events (id, pattern, time, service, payload, source, received_at) VALUES "
                                "('ev-1', 'rca', 100, 'ranking', '{\"pattern\": \"rca\", \"time\": 100}', 'cli', 100)"))
        connection.execute(text("INSERT INTO cases (id, event_id, skill, selection_reason, status, findings, "
                                "prompt_tokens, created_at) VALUES ('case-1', 'ev-1', 'generic-rca', '', 'done', '[]', "
                                "0, 110)"))
        connection.execute(text(f"INSERT INTO corrections ({CORRECTION_COLUMNS}) VALUES "
                                "('case-1', false, 'cache', 'memory_leak', NULL, true, 'heap grew', 'alice', 120), "
                                "('case-1', true, NULL, NULL, NULL, NULL, '', NULL, 130)"))
    query = text(f"SELECT {CORRECTION_COLUMNS} FROM corrections ORDER BY created_at")
    before = upgrade_keeping_rows(engine, query)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT no_index FROM corrections ORDER BY created_at")).scalars().all() == [
            False, False]
    with Memory(engine=engine) as memory:
        assert [c.id for c in memory.experience_cases()] == ["case-1"]
        kept_out = memory.add_correction("case-1", False, root_cause_service="cache", no_index=True)
        assert kept_out.no_index and memory.experience_cases() == []
    command.downgrade(alembic_config(url), "0005")
    engine = make_engine(url)
    with engine.connect() as connection:
        assert "no_index" not in {c["name"] for c in inspect(engine).get_columns("corrections")}
        assert [tuple(row) for row in connection.execute(query)][:2] == before
        assert connection.execute(text("SELECT count(*) FROM corrections")).scalar() == 3
    engine.dispose()


def test_the_no_index_migration_keeps_existing_rows(tmp_path) -> None:
    check_no_index_migration_keeps_rows(f"sqlite:///{tmp_path / 'm.db'}")


def test_the_case_of_a_checkpoint_thread_is_found_by_an_index_not_a_scan(tmp_path) -> None:
    """A reloaded UI page looks its question's case up by thread (``case_of_thread``); that read the whole table."""
    with Memory(f"sqlite:///{tmp_path / 'm.db'}") as memory, memory.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT id FROM cases WHERE thread_id = ?", ("t",)).fetchall()
    assert any("ix_cases_thread_id" in str(step) for step in plan), plan


def test_a_new_sqlite_file_another_connection_holds_as_it_turns_to_wal_is_waited_for(tmp_path, monkeypatch) -> None:
    """Turning a new file to WAL while another connection holds a lock (replicas opening one new file at once) is
    answered "database is locked" at once, without SQLite's busy wait: it is tried again until the lock goes."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the other connection ends its transaction while this one waits
        if not waits:
            holder.execute("COMMIT")
        waits.append(seconds)

    monkeypatch.setattr("agent.memory.db.time.sleep", wait)
    engine = init_db(f"sqlite:///{path}")
    monkeypatch.undo()
    holder.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    assert len(waits) == 1


def test_sqlite_uses_wal_and_enforces_foreign_keys(tmp_path) -> None:
    engine = init_db(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(Exception, match="FOREIGN KEY"), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (id, event_id, selection_reason, status, findings, prompt_tokens, "
                "created_at) VALUES ('c1', 'no-such-event', '', 'running', '[]', 0, 0)"
            )
        )
    engine.dispose()


def test_in_memory_sqlite_works(tmp_path) -> None:
    with Memory("sqlite://") as memory:
        event = memory.record_event({"pattern": "inspection", "time": 5})
        assert memory.get_event(event.id).event.time == 5


def _init_in_child(url: str, queue) -> None:
    try:
        engine = init_db(url)
        queue.put(current_revision(engine))
        engine.dispose()
    except Exception as exc:  # reported to the parent, which asserts on it
        queue.put(f"error: {exc}")


def init_concurrently(url: str, processes: int) -> list[str]:
    """Run ``init_db(url)`` in ``processes`` forked processes at once; the revision (or error) each saw."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_init_in_child, args=(url, queue)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
    return results


def test_concurrent_init_from_several_processes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert init_concurrently(url, 4) == [head_revision()] * 4
    engine = make_engine(url)
    assert _tables(engine) == set(Base.metadata.tables)
    engine.dispose()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y"])
def test_bad_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(DatabaseURLError, match="sqlite:///|postgresql"):
        init_db(url)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://bianque:s3cret@db:notaport/memory", "postgresql+psycopg://bianque:***@db:notaport/memory"),
    ("bianque:s3cret@db/memory", "bianque:***@db/memory"),  # no scheme: SQLAlchemy cannot read it
])
def test_a_url_that_cannot_be_read_is_named_without_its_password(url: str, shown: str) -> None:
    """A port that is not a number was a bare ValueError (a traceback); a URL without a scheme was named with its
    password."""
    with pytest.raises(DatabaseURLError) as refused:
        init_db(url)
    assert str(refused.value).startswith(f"not a database URL: {shown!r}")
    assert "s3cret" not in str(refused.value)


def test_unreachable_postgres_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatabaseUnavailableError, match=rf"cannot open database .*127\.0\.0\.1:{port}"):
        init_db(f"postgresql+psycopg://bianque:secret@127.0.0.1:{port}/memory?connect_timeout=2")


def test_unreachable_postgres_names_the_database_and_why_on_one_line() -> None:
    port = _unused_port()
    with pytest.raises(DatabaseUnavailableError) as info:
        init_db(f"postgresql+psycopg://bianque:s3cr3tpw@127.0.0.1:{port}/memory?connect_timeout=2")
    assert str(info.value) == (f"cannot open database 'memory' on 127.0.0.1:{port} (user bianque): connection "
                               "refused: nothing listens there")


@pytest.mark.parametrize(("said", "reason"), [
    ('connection failed: connection to server at "10.0.0.9", port 5432 failed: timeout expired',
     "timed out: no answer (the URL's ?connect_timeout=SECONDS sets how long to wait)"),
    ('connection failed: connection to server at "db", port 5432 failed: FATAL:  password authentication failed '
     'for user "bianque"', 'authentication failed: password authentication failed for user "bianque"'),
    ('connection failed: connection to server at "db", port 5432 failed: FATAL:  database "memory" does not exist',
     'database missing: database "memory" does not exist'),
    ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known",
     "unknown host: failed to resolve host 'db.invalid': [Errno -2] Name or service not known"),
    ("server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
     "server closed the connection unexpectedly This probably means the server terminated abnormally"),
])
def test_why_a_database_did_not_answer_is_one_line_of_its_kind(said: str, reason: str) -> None:
    from agent.memory.db import unavailable_reason

    assert unavailable_reason(RuntimeError(said)) == reason


def test_a_postgres_url_without_a_port_or_host_is_described_without_its_password() -> None:
    from agent.memory.db import describe_database

    assert describe_database("postgresql+psycopg://bianque:pw@db.internal/memory") == \
        "'memory' on db.internal:5432 (user bianque)"
    assert describe_database("postgresql+psycopg://bianque:pw@/memory") == "postgresql+psycopg://bianque:***@/memory"
    assert describe_database("sqlite:////var/lib/bianque.db") == "/var/lib/bianque.db"


@pytest.mark.parametrize(("query", "waits"), [("", 10), ("?connect_timeout=3", "3")])
def test_a_postgres_server_that_never_answers_is_waited_for_a_bounded_time(query: str, waits) -> None:
    """A host that drops packets would hold a command for the system's TCP timeout (minutes) without one."""
    from sqlalchemy import event

    engine = make_engine(f"postgresql+psycopg://bianque@127.0.0.1:{_unused_port()}/memory{query}")
    asked: dict = {}

    def record(_dialect, _record, _cargs, cparams) -> None:
        asked.update(cparams)
        raise ConnectionAbortedError("recorded; not connecting")

    event.listen(engine, "do_connect", record)
    with pytest.raises(ConnectionAbortedError):
        engine.connect()
    engine.dispose()
    assert asked["connect_timeout"] == waits


def _unused_port() -> int:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_error_hides_the_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatabaseUnavailableError) as info:
        init_db(f"postgresql+psycopg://bianque:s3cr3tpw@127.0.0.1:{port}/memory?connect_timeout=2")
    assert "s3cr3tpw" not in str(info.value)


def _in_the_way_of_0007(path: Path) -> str:
    """The URL of a SQLite database at revision 0001 with a table made by hand where migration 0007 creates one."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE schedule_runs (note TEXT)"))
    engine.dispose()
    return url


def test_a_migration_that_fails_names_its_revision_and_the_database_and_keeps_nothing(tmp_path) -> None:
    """A table made by hand where a later migration creates one: the upgrade fails, and says so (which migration, which
    database), not that the database could not be opened; what it did before the failing step is rolled back."""
    from agent.api.errors import database_failure
    from agent.memory import DatabaseMigrationError
    from agent.memory.db import database_problem, did_not_answer

    url = _in_the_way_of_0007(tmp_path / "m.db")
    with pytest.raises(DatabaseMigrationError) as info:
        init_db(url)
    message = str(info.value)
    assert message.startswith(f"migration 0007_schedule_runs of database {tmp_path / 'm.db'} failed: table "
                              "schedule_runs already exists; the database stays at revision 0001")
    assert "cannot open" not in message and "\n" not in message
    assert not did_not_answer(info.value)  # no retry later: it fails the same way every time
    assert database_problem(url, info.value) == database_failure(url, info.value) == message
    engine = make_engine(url)
    assert current_revision(engine) == "0001"
    assert "investigation_queue" not in _tables(engine)  # 0002's table, created before 0007 failed, rolled back
    engine.dispose()


def test_migrate_command_ends_a_failed_upgrade_or_an_unreachable_database_with_one_line(tmp_path, capsys) -> None:
    """``python -m agent.memory.migrate``: a failed upgrade step and a database that cannot be reached each end with
    one line on stderr naming the database (never its password), exit 2; both were tracebacks."""
    from agent.memory import migrate

    url = _in_the_way_of_0007(tmp_path / "m.db")
    assert migrate.main(["--url", url, "upgrade"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: migration 0007_schedule_runs of database {tmp_path / 'm.db'} "
                                        "failed: table schedule_runs already exists; the database stays at revision")
    assert err.count("\n") == 1
    port = _unused_port()
    url = f"postgresql+psycopg://bianque:s3cr3tpw@127.0.0.1:{port}/memory?connect_timeout=2"
    for name in ("upgrade", "current", "check"):
        assert migrate.main(["--url", url, name]) == 2
        assert capsys.readouterr() == ("", f"error: database 'memory' on 127.0.0.1:{port} (user bianque) did not "
                                           "answer: connection refused: nothing listens there\n")


def test_migrate_check_reports_missing_migrations(tmp_path, capsys) -> None:
    from agent.memory import migrate

    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert migrate.main(["--url", url, "upgrade"]) == 0
    assert migrate.main(["--url", url, "check"]) == 0
    assert migrate.next_revision_id() == f"{int(head_revision()) + 1:04d}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_cases_skill"))
    engine.dispose()
    assert migrate.main(["--url", url, "check"]) == 1
    assert "ix_cases_skill" in capsys.readouterr().out


def test_migrate_takes_the_url_after_the_command_too(tmp_path, capsys) -> None:
    """``migrate check --url URL``, as docs/memory.md writes it, reads that database, not the configured one."""
    from agent.memory import migrate

    url = f"sqlite:///{tmp_path / 'after.db'}"
    assert migrate.main(["upgrade", "--url", url]) == 0
    assert (tmp_path / "after.db").exists()
    assert migrate.main(["check", "--url", url]) == 0
    assert migrate.main(["current", "--url", url]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"database {head_revision()}, head {head_revision()}"
    other = f"sqlite:///{tmp_path / 'before.db'}"
    assert migrate.main(["--url", other, "upgrade"]) == 0  # before the command, as it was
    assert (tmp_path / "before.db").exists()
