"""A memory database on a real PostgreSQL server that cannot be used: one line naming it and why, exit 2 from every
command (tests/test_cli_errors.py holds the refused port), 503 from the API when it goes away mid-run, 500 naming a
schema that is not current."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from fastapi.testclient import TestClient

from agent.api.app import create_app
from agent.config import PROJECT_ROOT, get_settings
from agent.memory import Memory
from tests.e2e.servers import PostgresServer
from tests.test_api_support import CountingInvestigator

pytestmark = pytest.mark.e2e


def _bianque(url: str, home, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BIANQUE_HOME": str(home), "BIANQUE_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "agent.cli", *command], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=300)


@pytest.mark.parametrize("command", [["cases", "list"], ["rca", "--bundle", "examples/scenarios/rca-cache-failure"]])
def test_a_wrong_password_and_a_missing_database_are_named_with_the_reason(postgres_server, tmp_path, command):
    role = f"r_{uuid.uuid4().hex[:8]}"
    postgres_server.password_role(role, "right-pw")
    where = f"127.0.0.1:{postgres_server.port}"
    wrong = _bianque(f"postgresql+psycopg://{role}:wr0ng-pw@{where}/postgres", tmp_path, *command)
    missing = _bianque(postgres_server.url("no_such_db"), tmp_path, *command)
    assert (wrong.returncode, missing.returncode) == (2, 2), wrong.stderr[-2000:] + missing.stderr[-2000:]
    assert wrong.stderr.splitlines()[-1] == (f"error: cannot open database 'postgres' on {where} (user {role}): "
                                             f'authentication failed: password authentication failed for user "{role}"')
    assert missing.stderr.splitlines()[-1] == (f"error: cannot open database 'no_such_db' on {where} (user postgres): "
                                               'database missing: database "no_such_db" does not exist')
    assert "wr0ng-pw" not in wrong.stdout + wrong.stderr and "Traceback" not in wrong.stderr + missing.stderr


def test_the_api_answers_503_with_the_reason_when_the_database_goes_away_mid_run() -> None:
    server = PostgresServer()  # its own: stopped in the middle of the test
    try:
        server.start()
        url = server.create_database("memory")
        with Memory(url) as memory:
            client = TestClient(create_app(get_settings(), CountingInvestigator(memory), memory=memory),
                                raise_server_exceptions=False)
            assert client.get("/cases").status_code == 200
            server.stop()
            gone = client.get("/cases")
            assert gone.status_code == 503 and gone.headers["retry-after"] == "30", gone.text
            assert gone.json()["detail"] == (f"database unavailable: 'memory' on 127.0.0.1:{server.port} (user "
                                             "postgres): connection refused: nothing listens there; retry later")
    finally:
        server.stop()


def _alter_by_hand(memory: Memory, statement: str) -> None:
    from sqlalchemy import text

    with memory.engine.begin() as connection:
        connection.execute(text(statement))


def test_the_api_names_a_schema_that_is_not_current_with_a_500(postgres_db_url: str) -> None:
    """PostgreSQL's undefined_column is a ProgrammingError quoting the statement: named as SQLite's is, on one
    line."""
    with Memory(postgres_db_url) as memory:
        _alter_by_hand(memory, "ALTER TABLE cases DROP COLUMN thread_id")
        client = TestClient(create_app(get_settings(), CountingInvestigator(memory), memory=memory),
                            raise_server_exceptions=False)
        answer = client.get("/cases")
        where = memory.engine.url
    assert answer.status_code == 500 and "retry-after" not in answer.headers, answer.text
    assert answer.json()["detail"] == (
        f"database schema is not current: '{where.database}' on {where.host}:{where.port} (user {where.username}): "
        "column cases.thread_id does not exist; `python -m agent.memory.migrate upgrade` brings it to this version's "
        "schema (it does not restore a table or column removed by hand)")


def test_the_webhook_does_not_take_alerts_it_cannot_store_for_a_missing_table(postgres_db_url: str) -> None:
    """A missing table is PostgreSQL's ProgrammingError: each alert was rejected on its own and the call answered
    200, so Alertmanager never sent the alerts again."""
    from sqlalchemy.exc import ProgrammingError

    from tests.test_api_support import alert, webhook
    from tests.test_memory_queue import notice

    with Memory(postgres_db_url) as memory:
        _alter_by_hand(memory, "DROP TABLE alerts CASCADE")
        with pytest.raises(ProgrammingError, match='relation "alerts" does not exist'):
            memory.would_queue([notice("fp-1", "ranking")])  # the bound's rehearsal: not "would queue nothing"
        client = TestClient(create_app(get_settings(), CountingInvestigator(memory), memory=memory),
                            raise_server_exceptions=False)
        answer = client.post("/webhook/alertmanager", json=webhook(alert(), alert(name="DiskFull")))
    assert answer.status_code == 500, answer.text
    assert answer.json()["detail"].startswith("database schema is not current: ") and (
        'relation "alerts" does not exist' in answer.json()["detail"])


def test_the_webhook_does_not_take_alerts_its_user_may_not_store(postgres_db_url: str) -> None:
    """Permission denied (PostgreSQL's insufficient_privilege: a ProgrammingError, and no schema problem) meets every
    alert alike: each was rejected on its own and the call answered 200, so Alertmanager never sent them again. Now
    a 500 naming the database and what it said, not the statement."""
    from tests.test_api_support import alert, webhook

    role = f"r_{uuid.uuid4().hex[:8]}"
    with Memory(postgres_db_url) as owner:  # migrated by its owner; the service connects as a role that may not insert
        for statement in (f'CREATE ROLE "{role}" LOGIN', f'GRANT USAGE ON SCHEMA public TO "{role}"',
                          f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
                          f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
                          f'REVOKE INSERT ON alerts FROM "{role}"'):
            _alter_by_hand(owner, statement)
    with Memory(postgres_db_url.replace("//postgres@", f"//{role}@", 1)) as memory:
        client = TestClient(create_app(get_settings(), CountingInvestigator(memory), memory=memory),
                            raise_server_exceptions=False)
        answer = client.post("/webhook/alertmanager", json=webhook(alert(), alert(name="DiskFull")))
        where = memory.engine.url
    assert answer.status_code == 500, answer.text
    assert answer.json()["detail"] == (f"database '{where.database}' on {where.host}:{where.port} (user {role}) "
                                       "failed: permission denied for table alerts")

