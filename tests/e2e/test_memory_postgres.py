"""Memory on a real PostgreSQL server (loopback, throw-away cluster from tests/e2e/conftest.py)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from agent.memory import Memory, init_db
from agent.memory.db import current_revision, head_revision
from agent.memory.models import Base
from tests.test_memory_db import init_concurrently
from tests.test_memory_roundtrip import finished_case, rca_verdict, run_core_round_trips

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


def test_one_active_skill_version_is_enforced_by_the_database(postgres_db_url: str) -> None:
    with Memory(postgres_db_url) as memory:
        for n in (1, 2, 3):
            memory.save_skill_version("inspect-disk", f"name: inspect-disk\nversion: {n}\n", "step")
        memory.activate_skill_version("inspect-disk", 1)
        assert [v.active for v in memory.skill_versions("inspect-disk")] == [True, False, False]


def test_concurrent_init_from_several_processes(postgres_db_url: str) -> None:
    assert init_concurrently(postgres_db_url, 3) == [head_revision()] * 3
