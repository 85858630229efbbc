"""Which bundles' content an observability store holds, so that ingesting a bundle again does not append its
log lines twice.

A bundle is known by a digest of the rows it stores (its log lines and changes, as stored): the same content
under another path or compression is the same bundle; a changed file is a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from agent.sources.sqltables import ingested_bundles_table as table


@dataclass(frozen=True)
class IngestedBundle:
    """One ingest of a bundle's content: its digest, where it was read from, when, and what it stored."""

    digest: str
    path: str
    ingested_at: float
    logs: int
    changes: int


def content_digest(log_rows: Sequence[Mapping[str, Any]], change_rows: Sequence[Mapping[str, Any]]) -> str:
    """sha256 of the rows in their order (keys sorted), logs then changes."""
    digest = hashlib.sha256()
    for kind, rows in (("logs", log_rows), ("changes", change_rows)):
        digest.update(kind.encode())
        for row in rows:
            digest.update(json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def earlier_ingest(conn: Connection, digest: str) -> IngestedBundle | None:
    """The recorded ingest of this content, if any."""
    row = conn.execute(select(table).where(table.c.digest == digest)).mappings().first()
    return IngestedBundle(**row) if row is not None else None


def record_ingest(conn: Connection, ingest: IngestedBundle) -> None:
    """Record ``ingest`` in the caller's transaction, replacing an earlier record of the same content."""
    conn.execute(table.delete().where(table.c.digest == ingest.digest))
    conn.execute(table.insert().values(**vars(ingest)))
