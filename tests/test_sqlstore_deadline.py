"""The SQL observability store's queries end when the investigation stops waiting for them (``answer_by``).

``test_a_query_asked_when_no_time_is_left_is_not_run_and_says_why`` runs again on a real PostgreSQL in
``tests/e2e/test_postgres_store.py``, beside a query that a lock holds there past what was left.
"""

from __future__ import annotations

import time
import types

import pytest
from sqlalchemy import event

from agent.series import LogRecord
from agent.sources import sqlbound
from agent.sources.base import ChangeRequest, LogRequest, answer_by
from agent.sources.sqlstore import ObservabilityStore, SqlLogSource
from tests.test_sqlstore import loaded

LATE = "not answered within the investigation's 5 s for gathering (BIANQUE_GATHER_DEADLINE_S)"


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'obs.db'}"


def test_a_query_asked_when_no_time_is_left_is_not_run_and_says_why(store_url):
    """A query of the store had run to its end in a thread no one watched, the investigation long gone."""
    logs, changes = loaded(store_url)
    statements: list[str] = []
    for source in (logs, changes):
        event.listen(source.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with answer_by(time.monotonic() - 1.0, LATE):
        asked = logs.query(LogRequest(("ranking",), 0.0, 1000.0)), changes.query(ChangeRequest(("ranking",), 0, 1000))
        assert logs.services() == [] and logs.line_span(0.0, 1000.0) is None
    for result in asked:
        assert (result.status, result.data) == ("error", [])
        assert result.error == f"observability store {logs.where}: {LATE}"
    assert statements == []
    assert logs.query(LogRequest(("ranking",), 0.0, 1000.0)).status == "ok"  # unbounded again: as before


def test_a_sqlite_query_running_when_no_time_is_left_is_interrupted_then(store_url, monkeypatch):
    """The progress handler looks at the clock as the statement runs: a clock that passes the bound midway (each
    look half a second on) ends the statement there, and the connection, back in the pool, is unbounded again."""
    lines = [LogRecord(float(i), "ranking", "ERROR", f"line {i}") for i in range(2000)]
    assert ObservabilityStore(store_url).ingest_logs(lines) == 2000
    logs = SqlLogSource(store_url)
    looks = iter(range(1_000_000))
    start = time.monotonic()
    monkeypatch.setattr(sqlbound, "time", types.SimpleNamespace(monotonic=lambda: start + 0.5 * next(looks)))
    monkeypatch.setattr(sqlbound, "SQLITE_CHECK_EVERY", 100)
    with answer_by(start + 30.0, LATE):
        cut = logs.query(LogRequest(("ranking",), 0.0, 5000.0, limit=500))
    assert (cut.status, cut.error) == ("error", f"observability store {logs.where}: {LATE}")
    assert 1 < next(looks) < 200  # ended midway, after a few looks, not before it began nor at its end
    whole = logs.query(LogRequest(("ranking",), 0.0, 5000.0, limit=500))
    assert (whole.status, len(whole.data)) == ("ok", 500)


def test_a_query_with_time_left_answers_as_before(store_url):
    logs, _changes = loaded(store_url)
    with answer_by(time.monotonic() + 60.0, LATE):
        bounded = logs.query(LogRequest(("ranking",), 0.0, 1000.0))
    assert bounded.status == "ok" and bounded.data == logs.query(LogRequest(("ranking",), 0.0, 1000.0)).data
