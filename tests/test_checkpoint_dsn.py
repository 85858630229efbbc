"""The PostgreSQL checkpointer connects with memory's connect timeout unless the URL sets its own."""

from __future__ import annotations

import pytest

from agent.graph.checkpoint import postgres_dsn
from agent.memory.db import CONNECT_TIMEOUT_S


@pytest.mark.parametrize(("url", "dsn"), [
    ("postgresql+psycopg://u:p@db:5432/bianque", f"postgresql://u:p@db:5432/bianque?connect_timeout={CONNECT_TIMEOUT_S}"),
    ("postgresql+psycopg://u@db/bianque?sslmode=require",
     f"postgresql://u@db/bianque?sslmode=require&connect_timeout={CONNECT_TIMEOUT_S}"),
    ("postgresql://u@db/bianque?connect_timeout=3", "postgresql://u@db/bianque?connect_timeout=3"),
])
def test_a_checkpointer_dsn_carries_a_connect_timeout(url, dsn):
    assert postgres_dsn(url) == dsn
