"""Checkpointers: SQLite in BIANQUE_HOME by default, PostgreSQL when the database is PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent.config import Settings
from agent.memory.db import CONNECT_TIMEOUT_S


def postgres_dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (drops the ``+driver`` part), with memory's connect timeout unless the URL
    sets one (a server that does not answer would otherwise hold the checkpointer for as long as TCP waits)."""
    scheme, rest = url.split("://", 1)
    if not scheme.startswith("postgresql"):
        return url
    query = urlsplit(url).query
    if "connect_timeout" not in parse_qs(query):
        rest += f"{'&' if query else '?'}connect_timeout={CONNECT_TIMEOUT_S}"
    return f"postgresql://{rest}"


def latest_checkpoint(saver: Any, thread_id: str) -> Any | None:
    """The thread's latest checkpoint (a ``CheckpointTuple``: state, metadata), or None when it has none."""
    return saver.get_tuple({"configurable": {"thread_id": thread_id}})


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[Any]:
    """A ready checkpointer for the configured database; closed on exit."""
    url = settings.resolved_database_url
    if url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(postgres_dsn(url)) as saver:
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    settings.ensure_home()
    conn = sqlite3.connect(settings.home / "checkpoints.db", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()
