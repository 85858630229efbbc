"""Engines and schema migration: ``init_db(url)`` brings any database to the current schema.

SQLite: WAL journal, foreign keys on, a busy timeout, and SQLAlchemy (not ``sqlite3``) emits
``BEGIN`` so that DDL is transactional and write transactions can take the write lock up front
(``BEGIN IMMEDIATE``) instead of failing with "database is locked" when they upgrade a read lock.
PostgreSQL: migrations run under a transaction-level advisory lock, so several processes may call
``init_db`` at once; the losers wait, then find the schema already current.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from agent.config import DATABASE_URL_EXAMPLES, masked_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BEGIN_OPTION = "bianque_sqlite_begin"
"""Execution option naming the SQLite BEGIN flavour of a transaction: ``DEFERRED`` or ``IMMEDIATE``."""
_PG_MIGRATION_LOCK = 0x6269616E_71756500  # "bianque\0": one constant key for every process
SQLITE_BUSY_TIMEOUT_S = 30.0
LOCK_POLL_S = 0.1  # how often a process waiting for an advisory lock tries it again
CONNECT_TIMEOUT_S = 10  # a PostgreSQL server that does not answer (a dropped packet), unless the URL says
MIGRATE_COMMAND = "python -m agent.memory.migrate upgrade"
APPLIED_ATTRIBUTE = "bianque_applied"
"""Key of the Alembic config attribute listing the revisions an upgrade has applied so far (env.py appends each)."""
# SQLite's primary result codes of a database that could not be used for a while: busy, locked, an I/O error, a file
# that cannot be opened, a lock protocol error. Its other errors (SQLITE_ERROR: no such table, a bad statement; a
# read-only or corrupt file) come again on every try.
_SQLITE_DID_NOT_ANSWER = frozenset({5, 6, 10, 14, 15})
_SQLITE_SCHEMA = re.compile(r"no such (table|column)\b|table \S+ has no column named ")
_PG_SCHEMA_STATES = frozenset({"42P01", "42703"})  # undefined_table, undefined_column


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used."""


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached or opened; the message names it (never its password) and why."""


class DatabaseMigrationError(DatabaseUnavailableError):
    """A step of the schema upgrade failed (a table made by hand in its way, a file it cannot write): the database
    cannot be used by this version, and trying again meets the same failure. The message names the revision and the
    database (never its password), and what the database said."""


# What the server or the driver said, by kind (psycopg gives no SQLSTATE for a connection that failed).
_REASONS = (
    (re.compile(r"database \S+ does not exist"), "database missing"),
    (re.compile(r"password authentication failed|authentication failed|no password supplied|role \S+ does not "
                r"exist|no pg_hba\.conf entry", re.IGNORECASE), "authentication failed"),
    (re.compile(r"connection refused", re.IGNORECASE), "connection refused: nothing listens there"),
    (re.compile(r"timeout expired|timed out", re.IGNORECASE),
     "timed out: no answer (the URL's ?connect_timeout=SECONDS sets how long to wait)"),
    (re.compile(r"resolve host|could not translate host name|name or service not known", re.IGNORECASE),
     "unknown host"),
)
_CONNECTION_PREFIX = re.compile(r"^(connection failed: )?connection to server (at|on) .*? failed: ")


def describe_database(url: str | URL) -> str:
    """Which database ``url`` names, for messages, never with its password: ``'memory' on db.internal:5432
    (user bianque)`` for a server, the file for SQLite."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    if not parsed.host:
        return parsed.render_as_string(hide_password=True)
    port = parsed.port or (5432 if parsed.get_backend_name() == "postgresql" else None)
    user = f" (user {parsed.username})" if parsed.username else ""
    return f"{parsed.database or '(default)'!r} on {parsed.host}{f':{port}' if port else ''}{user}"


def unavailable_reason(exc: BaseException) -> str:
    """Why the database did not answer, on one line: ``connection refused``, ``timed out``, ``authentication
    failed``, ``database missing`` (each with what the server said when that adds to it), else the driver's
    message."""
    orig = _driver_error(exc)
    said = " ".join(str(orig).split())
    detail = _CONNECTION_PREFIX.sub("", said).replace("FATAL: ", "").strip()
    for pattern, kind in _REASONS:
        if pattern.search(detail):
            if kind in ("authentication failed", "database missing", "unknown host"):
                return f"{kind}: {detail}"
            return kind
    return detail or type(orig).__name__


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own error SQLAlchemy wraps in ``exc``, else ``exc``."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def did_not_answer(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be used for a while (unreachable, locked, its connection dropped):
    the same request may succeed later. SQLAlchemy's ``OperationalError`` also wraps SQLite's errors that come again
    on every try (no such table or column, a bad statement, a read-only file): not these. ``exc`` may be SQLAlchemy's
    error, ``DatabaseUnavailableError`` (not a ``DatabaseMigrationError``: a failed upgrade fails again), or psycopg's
    own (the checkpointer's connections raise those)."""
    if isinstance(exc, DatabaseUnavailableError):
        return not isinstance(exc, DatabaseMigrationError)
    if isinstance(exc, PoolTimeout):  # every connection busy for the pool's timeout: the same as locked
        return True
    psycopg = sys.modules.get("psycopg")  # never imported for it: a psycopg error exists only once it is
    driver_said = psycopg is not None and isinstance(exc, psycopg.OperationalError)
    if not isinstance(exc, OperationalError) and not driver_said:
        return False
    code = getattr(_driver_error(exc), "sqlite_errorcode", None)
    return code is None or code & 0xFF in _SQLITE_DID_NOT_ANSWER  # PostgreSQL's are about the connection or the server


def schema_problem(exc: BaseException) -> bool:
    """Whether ``exc`` is the database saying a table or column the code uses does not exist (SQLite's "no such
    table", PostgreSQL's undefined_table / undefined_column): its schema is not the one this version needs."""
    orig = _driver_error(exc)
    if getattr(orig, "sqlite_errorcode", None) == 1:
        return bool(_SQLITE_SCHEMA.match(str(orig)))
    return getattr(orig, "sqlstate", None) in _PG_SCHEMA_STATES


def database_wide(exc: BaseException) -> bool:
    """Whether ``exc``, met storing one row, is the database's failure rather than the row's (every other row would
    meet it too): any error of the database (SQLAlchemy's ``DBAPIError``: it did not answer, is locked, read-only or
    full, its schema is not current, the user may not write a table, the connection closed) but a value it refuses
    (``DataError``) or a constraint the row breaks (``IntegrityError``)."""
    if isinstance(exc, DataError | IntegrityError):
        return False
    return isinstance(exc, DBAPIError | PoolTimeout) or schema_problem(exc)


def first_line_said(exc: BaseException) -> str:
    """The first line of what the database said (PostgreSQL and SQLAlchemy quote the SQL after it)."""
    return (str(_driver_error(exc)).strip().splitlines() or [type(exc).__name__])[0]


def failure_reason(exc: BaseException) -> str:
    """Why a run failed, to be stored with its case: a database's error (SQLAlchemy's, sqlite3's, or psycopg's, which
    the checkpointer's connections raise) as its driver's error class and the first line it said, never the
    statement or its values (PostgreSQL quotes a refused parameter); any other error as its class and message."""
    psycopg = sys.modules.get("psycopg")
    if isinstance(exc, (DBAPIError, sqlite3.Error, *((psycopg.Error,) if psycopg is not None else ()))):
        return f"{type(_driver_error(exc)).__name__}: {first_line_said(exc)}"
    return f"{type(exc).__name__}: {exc}"


def schema_not_current(url: str | URL, exc: BaseException) -> str:
    """One line for a :func:`schema_problem`: the database (never its password), what it said, and how to migrate it."""
    said = first_line_said(exc)
    return (f"database schema is not current: {describe_database(url)}: {said}; `{MIGRATE_COMMAND}` brings it to "
            "this version's schema (it does not restore a table or column removed by hand)")


def database_problem(url: str | URL, exc: BaseException) -> str | None:
    """One line for a database error met while a command or a page runs, naming the database at ``url`` (never its
    password): it could not be opened or did not answer (and why), its schema is not current (:func:`schema_problem`),
    or another failure of the database (:func:`database_wide`: a read-only or full file, permission denied); None for
    any other error (a row the database refuses)."""
    if isinstance(exc, DatabaseUnavailableError):
        return str(exc)
    if did_not_answer(exc):
        return f"database {describe_database(url)} did not answer: {unavailable_reason(exc)}"
    if schema_problem(exc):
        return schema_not_current(url, exc)
    if isinstance(exc, OperationalError):
        return f"database {describe_database(url)} failed: {unavailable_reason(exc)}"
    if database_wide(exc):  # PostgreSQL's permission denied, a closed connection: its first line, never the SQL
        return f"database {describe_database(url)} failed: {first_line_said(exc)}"
    return None


def refused_row(url: str | URL, exc: BaseException) -> str | None:
    """One line for a value or row the database at ``url`` refused (``DataError``, ``IntegrityError``: too long for
    its column, a NUL PostgreSQL cannot store, a constraint broken), naming it and the first line it said, never the
    statement or its values; None for any other error."""
    psycopg = sys.modules.get("psycopg")  # the checkpointer's connections raise psycopg's own
    driver = (psycopg.DataError, psycopg.IntegrityError) if psycopg is not None else ()
    if isinstance(exc, (DataError, IntegrityError, sqlite3.DataError, sqlite3.IntegrityError, *driver)):
        return f"database {describe_database(url)} refused what was to be stored: {first_line_said(exc)}"
    return None


def unavailable(exc: BaseException, url: str | URL) -> DatabaseUnavailableError:
    """``exc`` (the database at ``url`` did not answer) as one line naming the database and why."""
    return DatabaseUnavailableError(f"cannot open database {describe_database(url)}: {unavailable_reason(exc)}")


def parse_url(url: str | URL) -> URL:
    """The URL parsed, or a clear error naming it (password masked): one SQLAlchemy cannot read, or whose port is
    not a number."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseURLError(
            f"not a database URL: {masked_url(str(url))!r} (expected e.g. {DATABASE_URL_EXAMPLES})"
        ) from exc
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine configured for Bian Que (SQLite pragmas and BEGIN handling); no migration."""
    parsed = parse_url(url)
    options: dict[str, Any] = {"future": True, **kwargs}
    if parsed.get_backend_name() == "sqlite":
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        if _is_memory_sqlite(parsed):
            connect_args.setdefault("check_same_thread", False)
            options.setdefault("poolclass", StaticPool)
        elif parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        options.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            options.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError as exc:
        raise DatabaseURLError(
            f"unsupported database URL scheme {parsed.drivername!r} in "
            f"{parsed.render_as_string(hide_password=True)}: use sqlite:/// or postgresql+psycopg://"
        ) from exc
    except ModuleNotFoundError as exc:
        raise DatabaseURLError(
            f"the driver for {parsed.drivername!r} is not installed ({exc.name}); "
            "for PostgreSQL install psycopg: pip install 'bianque[postgres]'"
        ) from exc
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode. SQLite answers "database is locked" at once, without its busy handler, when
    another connection holds a lock as the mode changes (two processes opening a new file at once: replicas starting
    together), so the change is tried again, ``LOCK_POLL_S`` apart, for up to ``SQLITE_BUSY_TIMEOUT_S``; a file in WAL
    mode already needs no lock for it."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(LOCK_POLL_S)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        flavour = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {'IMMEDIATE' if flavour == 'IMMEDIATE' else 'DEFERRED'}")


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take the write lock at BEGIN on SQLite."""
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` pointing at the package's migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        rendered = parse_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration revision shipped with the package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run ``alembic upgrade`` in one transaction, serialised across processes. A step that fails is a
    :class:`DatabaseMigrationError` naming its revision and the database (nothing of the upgrade is kept); a
    database that does not answer (unreachable, locked) raises the driver's error as it is."""
    config = alembic_config()
    applied: list[str] = config.attributes.setdefault(APPLIED_ATTRIBUTE, [])  # filled by env.py, step by step
    start: str | None = None
    read = False  # whether ``start`` (the revision the database was at) has been read
    try:
        with writer(engine).connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            start, read = MigrationContext.configure(connection).get_current_revision(), True
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except Exception as exc:
        if did_not_answer(exc):
            raise
        step = _failed_step(config, start, revision, len(applied)) if read else "the schema upgrade"
        said = first_line_said(exc) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {first_line_said(exc)}"
        raise DatabaseMigrationError(
            f"{step} of database {describe_database(engine.url)} failed: {said}; the database stays at "
            f"{f'revision {start}' if start else 'no revision'}, nothing of the upgrade kept (`{MIGRATE_COMMAND}` "
            "tries again once what the error names is fixed)"
        ) from exc


def _failed_step(config: Config, start: str | None, target: str, done: int) -> str:
    """``migration 0002_investigation_queue``: the step an upgrade from ``start`` to ``target`` was at after ``done``
    steps applied (its revision file's name)."""
    pending = list(reversed(list(ScriptDirectory.from_config(config).iterate_revisions(target, start))))
    return f"migration {Path(pending[done].path).stem}" if done < len(pending) else "the schema upgrade"


@contextmanager
def advisory_lock(engine: Engine, key: int) -> Iterator[None]:
    """Hold a PostgreSQL session advisory lock on ``key`` for the block (other databases: nothing).

    For work several processes may start at once and only one should do at a time. A process that finds
    the lock taken polls for it (``pg_try_advisory_lock``, ``LOCK_POLL_S`` apart) instead of waiting
    inside ``pg_advisory_lock``: a statement in flight holds a snapshot, and work done under the lock
    that builds an index ``CONCURRENTLY`` (the checkpointer's setup) waits for every snapshot to go —
    while the holder waits for that work, the waiter for the holder, for ever.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
            connection.commit()
            time.sleep(LOCK_POLL_S)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


def init_db(url: str | URL) -> Engine:
    """An engine for ``url`` with the schema migrated to head; cheap when already current."""
    engine = make_engine(url)
    try:
        if current_revision(engine) != head_revision():
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        raise unavailable(exc, engine.url) from exc
    except Exception:
        engine.dispose()
        raise
    return engine
