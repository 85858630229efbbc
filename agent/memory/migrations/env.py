"""Alembic environment: migrations target the memory models' metadata.

Run from code by ``agent.memory.db.upgrade`` (which hands over an open connection inside a
transaction, via ``config.attributes["connection"]``), or by a developer with
``python -m agent.memory.migrate`` (see docs/memory.md), which gives ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

from alembic import context
from alembic.runtime.migration import MigrationInfo

from agent.memory.db import APPLIED_ATTRIBUTE, make_engine, writer
from agent.memory.models import Base

config = context.config
target_metadata = Base.metadata


def _applied(*, step: MigrationInfo, **_: object) -> None:
    """Note each revision applied, so that ``agent.memory.db.upgrade`` can name the step that failed."""
    config.attributes.setdefault(APPLIED_ATTRIBUTE, []).append(step.up_revision_id)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        on_version_apply=_applied,
        **kwargs,
    )


def run_offline() -> None:
    """Emit SQL to stdout instead of running it (``--sql``)."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations against a database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: give a URL (python -m agent.memory.migrate --url ...)")
    engine = make_engine(url)
    try:
        with writer(engine).connect() as own, own.begin():
            _configure(connection=own)
            context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
