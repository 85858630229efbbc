"""The observability store's schema: log lines, change events and the bundles they came from.

Created with ``metadata.create_all`` on first write (no migrations: a table added here is created in an
existing store the next time anything is ingested; readers never need the new ones).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

logs_table = Table(
    "logs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("service", Text, nullable=False),
    Column("level", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("instance", Text),
    Column("trace_id", Text),
    Column("extra", JSON),
    Index("ix_logs_service_ts", "service", "ts"),
    Index("ix_logs_ts", "ts"),
)

changes_table = Table(
    "changes",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("service", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("id", Text, nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("version", Text),
    Column("author", Text),
    Column("canary", JSON),
    Column("baseline", JSON),
    Column("diff", Text),
    Index("ix_changes_service_ts", "service", "ts"),
)

ingested_bundles_table = Table(
    "ingested_bundles",
    metadata,
    Column("digest", String(64), primary_key=True),  # sha256 of the rows a bundle stored (logs and changes)
    Column("path", Text, nullable=False),
    Column("ingested_at", Float, nullable=False),
    Column("logs", Integer, nullable=False),
    Column("changes", Integer, nullable=False),
)

SEARCH_INDEX = {
    "sqlite": (
        "CREATE VIRTUAL TABLE IF NOT EXISTS logs_fts USING fts5("
        "message, content='logs', content_rowid='pk', tokenize='trigram')",
        "CREATE TRIGGER IF NOT EXISTS logs_fts_insert AFTER INSERT ON logs BEGIN "
        "INSERT INTO logs_fts(rowid, message) VALUES (new.pk, new.message); END",
        "CREATE TRIGGER IF NOT EXISTS logs_fts_delete AFTER DELETE ON logs BEGIN "
        "INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.pk, old.message); END",
        "CREATE TRIGGER IF NOT EXISTS logs_fts_update AFTER UPDATE ON logs BEGIN "
        "INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.pk, old.message); "
        "INSERT INTO logs_fts(rowid, message) VALUES (new.pk, new.message); END",
    ),
    "postgresql": (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE INDEX IF NOT EXISTS ix_logs_message_trgm ON logs USING gin (message gin_trgm_ops)",
    ),
}
"""DDL of the message search index per dialect (FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL)."""
