"""Memory on a real PostgreSQL server (loopback, throw-away cluster from tests/e2e/conftest.py)."""

from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from agent.memory import Memory, init_db
from agent.memory.db import advisory_lock, current_revision, head_revision, make_engine
from agent.memory.models import Base
from tests.test_memory_cases import check_case_failure_stored
from tests.test_memory_db import (
    check_no_index_migration_keeps_rows,
    check_starts_at_migration_keeps_rows,
    init_concurrently,
)
from tests.test_memory_notices import (
    check_forgetting_nothing_held_writes_nothing,
    check_news_claims,
    claim_news_at_once,
)
from tests.test_memory_queue import check_failure_message_stored, check_stale_copy_and_refire, check_would_queue
from tests.test_memory_roundtrip import finished_case, rca_verdict, run_core_round_trips
from tests.test_memory_schedules import (
    check_adding_one_schedule_at_once,
    check_creating_one_new_schedule_at_once,
    check_interrupted_runs_shown_as_recorded,
    check_run_claims,
    check_run_history,
    check_run_history_is_bounded,
    check_run_history_migration_keeps_rows,
    check_run_reasons,
    check_schedule_migrations_keep_rows,
    claim_at_once,
)
from tests.test_notify_digest import (
    TICK,
    check_corrected_quiet_alerts,
    check_digest_claims,
    check_digest_periods,
    check_quiet_alerts,
    claim_digest_at_once,
    take_period_at_once,
)
from tests.test_notify_repeats import check_replicas_post_once

pytestmark = pytest.mark.e2e


def test_postgres_url_is_migrated_and_reusable(postgres_url: str) -> None:
    """The session database may already be migrated by others: init_db must just work on it."""
    for _ in range(2):
        engine = init_db(postgres_url)
        assert current_revision(engine) == head_revision()
        engine.dispose()


def test_core_round_trips(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        run_core_round_trips(memory)


def test_migrations_match_models_and_init_is_idempotent(postgres_db_url: str) -> None:
    first = init_db(postgres_db_url)
    with Memory(engine=first) as memory:
        case_id = finished_case(memory)
    second = init_db(postgres_db_url)
    assert current_revision(second) == head_revision()
    assert set(inspect(second).get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
    with second.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    with Memory(engine=second) as memory:
        assert memory.get_case(case_id).verdict == rca_verdict()


def test_the_starts_at_migration_keeps_existing_rows(postgres_db_url: str) -> None:
    check_starts_at_migration_keeps_rows(postgres_db_url)


def test_the_no_index_migration_keeps_existing_rows(postgres_db_url: str) -> None:
    check_no_index_migration_keeps_rows(postgres_db_url)


def test_the_schedule_migrations_keep_existing_rows(postgres_db_url: str) -> None:
    check_schedule_migrations_keep_rows(postgres_db_url)


def test_the_run_history_migration_keeps_existing_rows(postgres_db_url: str) -> None:
    check_run_history_migration_keeps_rows(postgres_db_url)


def test_run_history(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_run_history(memory)


def test_interrupted_runs_shown_as_recorded(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_interrupted_runs_shown_as_recorded(memory)


def test_run_history_is_bounded(postgres_db_url: str, monkeypatch) -> None:
    with Memory(postgres_db_url) as memory:
        check_run_history_is_bounded(memory, monkeypatch)


def test_run_claims(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_run_claims(memory)


def test_two_replicas_adding_one_schedule_at_once(postgres_db_url: str) -> None:
    check_adding_one_schedule_at_once(postgres_db_url)


def test_two_users_creating_one_new_schedule_at_once(postgres_db_url: str) -> None:
    check_creating_one_new_schedule_at_once(postgres_db_url)


def test_of_runs_claiming_one_schedule_at_once_one_wins(postgres_db_url: str) -> None:
    assert len(claim_at_once(postgres_db_url, 6)) == 1


def test_run_reasons_are_stored_as_one_bounded_line(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_run_reasons(memory)


def test_a_stale_firing_copy_opens_nothing_and_a_refire_does(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_stale_copy_and_refire(memory)


def test_a_failures_message_with_a_nul_is_stored(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_failure_message_stored(memory)


def test_would_queue_rehearses_and_writes_nothing(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_would_queue(memory)


def test_one_active_skill_version_is_enforced_by_the_database(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        for n in (1, 2, 3):
            memory.save_skill_version("inspect-disk", f"name: inspect-disk\nversion: {n}\n", "step")
        memory.activate_skill_version("inspect-disk", 1)
        assert [v.active for v in memory.skill_versions("inspect-disk")] == [True, False, False]


def test_concurrent_init_from_several_processes(postgres_db_url: str) -> None:
    assert init_concurrently(postgres_db_url, 3) == [head_revision()] * 3


def test_waiting_for_an_advisory_lock_does_not_block_an_index_built_concurrently(postgres_db_url: str) -> None:
    """Replicas set the checkpointer up under an advisory lock, and its setup builds indexes CONCURRENTLY,
    which waits for every statement in flight. A replica blocked inside ``pg_advisory_lock`` would be one:
    the build would wait for it while it waits for the lock the builder's replica holds, for ever."""
    engine = make_engine(postgres_db_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE lock_probe (x integer)"))
    waited = threading.Event()

    def second_replica() -> None:
        with advisory_lock(engine, 4242):
            waited.set()

    with advisory_lock(engine, 4242):
        waiter = threading.Thread(target=second_replica, daemon=True)
        waiter.start()
        time.sleep(1.0)  # let it wait for the lock
        assert not waited.is_set()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as builder:
            builder.execute(text("SET statement_timeout = '20s'"))  # a deadlock fails the test, not the suite
            builder.execute(text("CREATE INDEX CONCURRENTLY lock_probe_x ON lock_probe (x)"))
    waiter.join(timeout=20)
    assert waited.is_set()
    engine.dispose()


def test_a_case_failure_quoting_a_nul_is_stored(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_case_failure_stored(memory)


def test_news_claims(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_news_claims(memory)


def test_forgetting_nothing_held_writes_nothing(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory, Memory(postgres_db_url) as replica:
        check_forgetting_nothing_held_writes_nothing(memory, replica)


def test_the_same_news_claimed_at_once_by_several_processes_is_told_once(postgres_db_url: str) -> None:
    assert sorted(claim_news_at_once(postgres_db_url, 6)) == [False] * 5 + [True]


def test_digest_claims(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_digest_claims(memory)
        check_digest_periods(memory)
        check_quiet_alerts(memory)


def test_quiet_alerts_corrected_to_needing_attention_are_left_out(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        check_corrected_quiet_alerts(memory)


def test_one_digest_tick_claimed_at_once_is_claimed_once(postgres_db_url: str) -> None:
    assert sorted(claim_digest_at_once(postgres_db_url, 6)) == [False] * 5 + [True]


def test_one_digest_period_taken_at_once_is_taken_once(postgres_db_url: str) -> None:
    """Racing first inserts meet the primary key and are tried again: one run lists the period."""
    told = claim_digest_at_once(postgres_db_url, 6, take_period_at_once)
    assert sorted(told, key=str) == [TICK - 100.0] + [None] * 5


def test_replicas_posting_the_same_news_at_once_post_it_once(postgres_db_url: str) -> None:
    check_replicas_post_once(postgres_db_url, replicas=4)



def test_a_value_postgresql_refuses_ends_a_command_in_one_line_not_a_traceback(postgres_db_url, monkeypatch) -> None:
    """A value PostgreSQL refuses, met through SQLAlchemy (too long for its column) or by the checkpointer's own
    psycopg connections (a NUL its JSONB cannot hold; ``rca --bundle`` met it): a command ended in a traceback quoting
    the statement's parameters. The intake refuses a NUL now (event.yaml, --alert and --change files); this is the
    line for any value that still reaches the database."""
    import io
    import json

    import psycopg
    import typer
    from rich.console import Console

    from agent.cli import common
    from agent.config import get_settings
    from agent.events import Event
    from agent.memory.db import describe_database

    monkeypatch.setenv("BIANQUE_DATABASE_URL", postgres_db_url)
    get_settings.cache_clear()
    event = Event.model_validate({"pattern": "rca", "time": 1, "alert": {"labels": {"alertname": "A"},
                                                                         "annotations": {"summary": "secret\0"}}})
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=400, color_system=None))
    conninfo = postgres_db_url.replace("postgresql+psycopg://", "postgresql://")
    with Memory(postgres_db_url) as memory, psycopg.connect(conninfo) as raw:
        with memory.engine.begin() as connection:
            connection.execute(text("CREATE TABLE short (x varchar(3))"))
        def too_long() -> None:
            with memory.engine.begin() as connection:
                connection.execute(text("INSERT INTO short VALUES (:x)"), {"x": "secret"})
        for write in (too_long, lambda: raw.execute("SELECT %s::jsonb", [json.dumps(event.model_dump())])):
            with pytest.raises(typer.Exit) as exited, common.database_errors():
                write()
            assert exited.value.exit_code == 2
    refused = f"error: database {describe_database(postgres_db_url)} refused what was to be stored: "
    assert out.getvalue().strip().splitlines() == [f"{refused}value too long for type character varying(3)",
                                                   f"{refused}unsupported Unicode escape sequence"]
    get_settings.cache_clear()
