"""CLI error messages are plain text: brackets in them are printed, not read as rich markup."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys

import pytest
import typer
from rich.console import Console

from agent.cli import common
from agent.config import PROJECT_ROOT


def test_fail_prints_brackets_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=200, color_system=None))
    message = "install llama-cpp-python[server]; alerts[3].labels: [bold]not markup[/bold]"
    with pytest.raises(typer.Exit) as exited:
        common.fail(message, code=3)
    assert exited.value.exit_code == 3
    assert out.getvalue().strip() == f"error: {message}"


def test_sigusr1_prints_every_threads_stack_and_the_process_goes_on() -> None:
    code = (
        "import os, signal, threading, time\n"
        "from agent.cli.app import dump_stacks_on_sigusr1\n"
        "dump_stacks_on_sigusr1()\n"
        "def parked_worker():\n"
        "    time.sleep(30)\n"
        "threading.Thread(target=parked_worker, daemon=True).start()\n"
        "time.sleep(0.2)\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "print('still running')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"
    assert "parked_worker" in done.stderr and "Current thread" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BIANQUE_API_TOKEN", " ", "BIANQUE_API_TOKEN: set but empty: unset it (no token) or give a real token"),
        ("BIANQUE_API_WORKERS", "two", "BIANQUE_API_WORKERS: Input should be a valid integer, unable to parse string "
                                       "as an integer (got 'two')"),
        ("BIANQUE_LLM_TIMEOUT_S", "1m", "BIANQUE_LLM_TIMEOUT_S: Input should be a valid number, unable to parse "
                                        "string as a number (got '1m')"),
    ],
)
def test_serve_refuses_a_bad_setting_naming_its_variable_without_a_traceback(monkeypatch, variable, value, message):
    from typer.testing import CliRunner

    from agent.cli.app import app
    from agent.config import get_settings

    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: pytest.fail("served despite a bad setting"))
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["serve", "--dry-run"])
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == f"error: invalid setting: {message}"


def test_serve_refuses_a_port_it_cannot_listen_on_before_anything_starts(monkeypatch):
    """uvicorn found the port taken only after the workers (and the scheduler) had started, and exited 3: this CLI's
    "could not judge"."""
    from typer.testing import CliRunner

    from agent.cli.app import app

    monkeypatch.setattr("agent.api.app.create_app", lambda *a, **k: pytest.fail("started despite a taken port"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--dry-run", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    level = CliRunner().invoke(app, ["serve", "--log-level", "loud"])  # was a KeyError traceback
    assert level.exit_code == 2 and "'loud' is not one of" in level.output and "Traceback" not in level.output


def test_serve_gives_in_flight_requests_the_stop_grace(monkeypatch):
    """SIGTERM waited for the slowest request however long it took (``BIANQUE_API_STOP_GRACE_S`` bounded only the
    investigation workers)."""
    from typer.testing import CliRunner

    from agent.cli.app import app
    from agent.llm.local import free_port

    ran: dict = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: ran.update(kwargs))
    monkeypatch.setenv("BIANQUE_API_STOP_GRACE_S", "7")
    result = CliRunner().invoke(app, ["serve", "--dry-run", "--port", str(free_port()), "--log-level", "DEBUG"])
    assert result.exit_code == 0, result.output
    assert ran["timeout_graceful_shutdown"] == 7.0 and ran["log_level"] == "debug"


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.2", False), ("::1", False), ("localhost", False),
                                              ("0.0.0.0", True)])
def test_serve_without_a_token_warns_when_it_listens_beyond_loopback(monkeypatch, host, warned):
    """Any address of 127.0.0.0/8 is loopback: 127.0.0.2 (or 127.0.1.1, a hostname's address on Debian) had been warned
    of as exposed; the warning says what an exposed service without a token lets anyone do."""
    from typer.testing import CliRunner

    from agent.cli.app import app
    from agent.llm.local import free_port

    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    monkeypatch.delenv("BIANQUE_API_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--dry-run", "--host", host, "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert ("set BIANQUE_API_TOKEN" in said) is warned, said
    if warned:
        assert f"listening on {host} without BIANQUE_API_TOKEN: anyone reaching it can" in said


@pytest.mark.parametrize("command", [["skills", "list"], ["cases", "list"], ["knowledge", "kinds"]])
def test_every_command_refuses_a_bad_setting_naming_its_variable_without_a_traceback(tmp_path, command):
    env = {**os.environ, "BIANQUE_HOME": str(tmp_path), "BIANQUE_LLM_TIMEOUT_S": "1m"}
    done = subprocess.run([sys.executable, "-m", "agent.cli", *command], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert " ".join(done.stderr.split()) == ("error: invalid setting: BIANQUE_LLM_TIMEOUT_S: Input should be a valid "
                                             "number, unable to parse string as a number (got '1m')")
    help_only = subprocess.run([sys.executable, "-m", "agent.cli", *command, "--help"], capture_output=True,
                               text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    assert help_only.returncode == 0 and "Usage" in help_only.stdout  # help reads no settings


def test_a_list_setting_that_is_not_json_is_named_without_a_traceback(monkeypatch):
    """pydantic-settings reads a list from one variable as JSON; a path alone raised its own error, a traceback."""
    from agent.config import SettingsError, get_settings

    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", "skills")
    get_settings.cache_clear()
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value) == ("invalid setting: BIANQUE_SKILLS_DIRS: not JSON (Expecting value: line 1 column 1 "
                                 "(char 0)); a list is written as JSON, e.g. [\"a\", \"b\"] (got 'skills')")
    get_settings.cache_clear()


@pytest.mark.parametrize(("variable", "value", "why"), [
    ("BIANQUE_LLM_BASE_URL", "localhost:8080/v1",
     "not an http(s) URL: give the scheme and host, e.g. http://localhost:8080/v1"),
    ("BIANQUE_LLM_BASE_URL", "http://localhost:80a/v1", "not a URL: Port could not be cast to integer value as '80a'"),
    ("BIANQUE_PROMETHEUS_URL", "prometheus:9090",
     "not an http(s) URL: give the scheme and host, e.g. http://localhost:9090"),
    ("BIANQUE_CHROMA_URL", "chroma.internal:8000",
     "not an http(s) URL: give the scheme and host, e.g. http://localhost:8000"),
])
def test_an_endpoint_url_without_a_scheme_is_a_bad_setting_not_a_connection_error(tmp_path, variable, value, why):
    """``localhost:8080/v1`` was taken for a URL of scheme ``localhost``: every LLM call failed as a connection
    error, retried, and the investigation fell back to the offline reasoner; a PromQL or Chroma server's URL
    without its scheme failed each query alike."""
    env = {**os.environ, "BIANQUE_HOME": str(tmp_path), variable: value}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "skills", "list"], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert " ".join(done.stderr.split()) == f"error: invalid setting: {variable}: {why} (got {value!r})"


@pytest.mark.parametrize(("variable", "value", "why"), [
    ("BIANQUE_HOME", "{file}", "{file} is not a directory"),  # a FileExistsError traceback from the first store
    ("BIANQUE_KNOWLEDGE_DIR", "{missing}", "{missing} is not a directory"),  # investigations had no handbook, silently
    ("BIANQUE_SKILLS_DIRS", '["{missing}"]', "{missing} is not a directory"),  # had left "no Skill fits" alone
    ("BIANQUE_LLM_MAX_RETRIES", "-5", "Input should be greater than or equal to 0"),
    ("BIANQUE_LLM_TIMEOUT_S", "0", "Input should be greater than 0"),
    # a run's reasoner ("fail-safe over llm:<model>") is kept in 200 characters: PostgreSQL refused the row
    ("BIANQUE_LLM_MODEL", "m" * 181, "String should have at most 180 characters"),
])
def test_a_path_or_limit_setting_that_cannot_work_is_named_at_start(tmp_path, variable, value, why):
    (tmp_path / "a-file").write_text("not a directory")
    paths = {"file": str(tmp_path / "a-file"), "missing": str(tmp_path / "no-such-dir")}
    value, why = value.format(**paths), why.format(**paths)
    env = {**os.environ, "BIANQUE_HOME": str(tmp_path / "home"), variable: value}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "skills", "list"], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    got = repr(json.loads(value)) if value.startswith("[") else repr(value)
    assert " ".join(done.stderr.split()) == f"error: invalid setting: {variable}: {why} (got {got})"


def test_a_blank_llm_url_leaves_the_llm_off(monkeypatch):
    from agent.config import get_settings

    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", " ")
    get_settings.cache_clear()
    assert get_settings().llm_base_url is None and not get_settings().llm_enabled
    get_settings.cache_clear()


def unreachable_postgres_url(password: str = "s3cr3tpw") -> tuple[str, int]:
    """A PostgreSQL URL on a loopback port nobody listens on, and the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://bianque:{password}@127.0.0.1:{port}/memory", port


@pytest.mark.parametrize("command", [
    ["rca", "--bundle", "examples/scenarios/rca-cache-failure"], ["cases", "list"], ["correct", "c1", "--right"],
    ["knowledge", "distill"], ["schedule", "sync"], ["skills", "history", "generic-rca"], ["serve", "--dry-run"],
    ["eval", "--cases", "examples/scenarios", "--memory", "--jobs", "1"],
])
def test_every_command_names_a_database_it_cannot_reach_on_one_line(tmp_path, command):
    """A memory database that refuses: one line naming it and why, never its password, exit 2 (rca and eval
    --memory ended with a DatabaseUnavailableError traceback, exit 1)."""
    url, port = unreachable_postgres_url()
    env = {**os.environ, "BIANQUE_HOME": str(tmp_path), "BIANQUE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "agent.cli", *command], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1:] == [
        f"error: cannot open database 'memory' on 127.0.0.1:{port} (user bianque): connection refused: nothing "
        "listens there"], done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "s3cr3tpw" not in done.stdout + done.stderr


def test_a_database_gone_mid_run_is_named_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that stops answering once a command has opened it said only 'the database did not answer'."""
    from sqlalchemy.exc import OperationalError

    from agent.config import get_settings

    url, port = unreachable_postgres_url()
    monkeypatch.setenv("BIANQUE_DATABASE_URL", url)
    get_settings.cache_clear()
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=300, color_system=None))
    refused = RuntimeError(f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
                           "Connection refused")
    with pytest.raises(typer.Exit) as exited, common.database_errors():
        raise OperationalError("SELECT 1", {}, refused)
    assert exited.value.exit_code == 2
    assert out.getvalue().strip() == (f"error: database 'memory' on 127.0.0.1:{port} (user bianque) did not answer: "
                                      "connection refused: nothing listens there")


def test_a_schema_that_is_not_current_is_named_not_a_database_that_did_not_answer(tmp_path) -> None:
    """SQLite reports a missing table as an OperationalError: it was 'did not answer: no such table: cases'."""
    import sqlite3

    from agent.memory import Memory

    path = tmp_path / "bianque.db"
    Memory(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE corrections")
        raw.execute("DROP TABLE cases")
    env = {**os.environ, "BIANQUE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "cases", "list"], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    assert " ".join(done.stderr.split()) == (
        f"error: database schema is not current: {path}: no such table: cases; `python -m agent.memory.migrate "
        "upgrade` brings it to this version's schema (it does not restore a table or column removed by hand)")


def test_a_read_only_database_file_is_named_as_failing_not_as_not_answering(monkeypatch, tmp_path) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from agent.config import get_settings

    path = tmp_path / "bianque.db"
    monkeypatch.setenv("BIANQUE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    with create_engine(f"sqlite:///{path}").begin() as connection:
        connection.execute(text("CREATE TABLE t (x)"))
    read_only = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=300, color_system=None))
    with pytest.raises(typer.Exit) as exited, common.database_errors(), read_only.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert exited.value.exit_code == 2 and isinstance(exited.value.__context__, OperationalError)
    assert out.getvalue().strip() == f"error: database {path} failed: attempt to write a readonly database"


def test_a_row_the_database_refuses_is_one_line_without_the_statement_or_its_values(monkeypatch, tmp_path) -> None:
    """An IntegrityError or DataError (a value the database cannot take) ended the command in a traceback quoting
    the INSERT and its values."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    from agent.config import get_settings

    path = tmp_path / "bianque.db"
    monkeypatch.setenv("BIANQUE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO t VALUES ('secret-value')"))
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=300, color_system=None))
    with pytest.raises(typer.Exit) as exited, common.database_errors(), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES ('secret-value')"))
    assert exited.value.exit_code == 2 and isinstance(exited.value.__context__, IntegrityError)
    assert out.getvalue().strip() == f"error: database {path} refused what was to be stored: UNIQUE constraint " \
                                     "failed: t.x"


@pytest.mark.parametrize(("variable", "value", "shown"), [
    ("BIANQUE_PROMETHEUS_URL", "admin:s3cret@prom:9090", "not an http(s) URL: give the scheme and host, e.g. "
     "http://localhost:9090 (got 'admin:***@prom:9090')"),
    ("BIANQUE_CHROMA_URL", "http://admin:s3cret@chroma:notaport", "not a URL: Port could not be cast to integer "
     "value as 'notaport' (got 'http://admin:***@chroma:notaport')"),
])
def test_a_bad_endpoint_url_is_named_without_its_password(monkeypatch, variable, value, shown):
    """Basic-auth credentials in an endpoint URL were shown whole when the URL did not validate."""
    from agent.config import SettingsError, get_settings

    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value) == f"invalid setting: {variable}: {shown}"


@pytest.mark.parametrize(("text", "shown"), [
    ("http://admin:s3cret@prom:9090/api?q=a@b", "http://admin:***@prom:9090/api?q=a@b"),
    ("http://prom:9090/x@y", "http://prom:9090/x@y"),  # an @ in the path is no password: the host stays shown
    ("sqlite:////tmp/a@b/x.db", "sqlite:////tmp/a@b/x.db"),
    ("bianque:s3cret@db/memory", "bianque:***@db/memory"),
    ("http://user@h/x", "http://user@h/x"),
])
def test_masked_url_masks_a_password_in_the_authority_only(text, shown):
    from agent.config import masked_url

    assert masked_url(text) == shown


@pytest.mark.parametrize("variable", ["BIANQUE_DATABASE_URL", "BIANQUE_OBSERVABILITY_URL"])
def test_a_database_url_that_cannot_be_read_is_a_bad_setting_named_without_its_password(monkeypatch, variable):
    """A port that is not a number ended `bianque inspect` in a ValueError traceback (the observability store)."""
    from agent.config import SettingsError, get_settings

    monkeypatch.setenv(variable, "postgresql+psycopg://bianque:s3cret@db:notaport/memory")
    get_settings.cache_clear()
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value) == (f"invalid setting: {variable}: not a database URL: expected e.g. "
                                 "sqlite:///path/to/bianque.db or postgresql+psycopg://user:pw@host/db (got "
                                 "'postgresql+psycopg://bianque:***@db:notaport/memory')")



def test_a_sqlite_url_in_a_directory_that_does_not_exist_is_refused_not_made_empty(tmp_path):
    """An operator's mistyped path had given a new, empty database ("no schedules"), its directory made."""
    def run(url: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "BIANQUE_HOME": str(tmp_path / "home"), "BIANQUE_DATABASE_URL": url}
        return subprocess.run([sys.executable, "-m", "agent.cli", "schedule", "list"], capture_output=True, text=True,
                              env=env, cwd=PROJECT_ROOT, timeout=120)

    missing = tmp_path / "no" / "such"
    done = run(f"sqlite:///{missing}/x.db")
    assert done.returncode == 2 and not (tmp_path / "no").exists()
    assert (f"error: invalid setting: BIANQUE_DATABASE_URL: the SQLite file's directory {missing} does not exist"
            in " ".join(done.stderr.split()))
    done = run(f"sqlite:///{tmp_path}/x.db")  # an existing directory: its database is made
    assert done.returncode == 0 and (tmp_path / "x.db").exists(), done.stderr
