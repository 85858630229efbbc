"""Logs and change events in a SQL store (SQLite with FTS5 by default, PostgreSQL by URL).

This is observability data, kept apart from the agent's memory database. ``ObservabilityStore``
writes (each call one transaction: all rows or none); ``SqlLogSource`` and ``SqlChangeSource``
only read, bounded in rows and in time (what the investigation's deadline leaves: :mod:`agent.sources.sqlbound`),
and turn every database failure into ``SourceResult.failed``.

Log patterns are case-insensitive substrings (a line matches when it contains any of them):
SQLite answers them from an FTS5 trigram index, PostgreSQL with ``ILIKE`` (helped by a pg_trgm
GIN index when the extension can be created).
"""

from __future__ import annotations

import fnmatch
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Integer,
    Table,
    and_,
    case,
    create_engine,
    func,
    inspect,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql import ColumnElement, Select, Subquery

from agent.config import get_settings
from agent.detectors.trace_ids import trace_id_in_text
from agent.series import LEVEL_HELP, ChangeRecord, LogRecord, level_name, line_level
from agent.sources.base import ChangeRequest, LogRequest, SourceResult
from agent.sources.ingested import IngestedBundle, content_digest, earlier_ingest, record_ingest
from agent.sources.sampling import evenly, fair_quotas, share_of, within_limit
from agent.sources.sqlbound import bounded, given_up, no_time_left
from agent.sources.sqltables import SEARCH_INDEX, changes_table, logs_table, metadata

if TYPE_CHECKING:
    from agent.bundles.errors import BundleWarning

T = TypeVar("T")

MAX_CHANGES = 1000
_BATCH = 5000

def default_store_url() -> str:
    """``BIANQUE_OBSERVABILITY_URL``, else ``sqlite:///<BIANQUE_HOME>/observability.db``."""
    return get_settings().resolved_observability_url


class _Database:
    """An engine on the store, and how to name it in messages (password hidden)."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = create_engine(url or default_store_url())
        self.where = self.engine.url.render_as_string(hide_password=True)

    @property
    def sqlite_file(self) -> Path | None:
        database = self.engine.url.database
        is_file = self.engine.dialect.name == "sqlite" and database and database != ":memory:"
        return Path(database) if is_file else None

    def error(self, exc: SQLAlchemyError) -> str:
        detail = getattr(exc, "orig", None) or exc
        first_line = (str(detail).splitlines() or [""])[0]
        return f"observability store {self.where}: {type(detail).__name__}: {first_line}"


# --- writing --------------------------------------------------------------------------------


class StoreError(RuntimeError):
    """The store could not take the rows; none of them were stored."""


@dataclass(frozen=True)
class IngestReport:
    """How many rows one ingest stored; for a bundle whose content was stored before (and no ``force``), none,
    and ``already`` says when and from where."""

    logs: int = 0
    changes: int = 0
    already: IngestedBundle | None = None


class ObservabilityStore(_Database):
    """Creates the schema and ingests logs and changes, each call in one transaction."""

    def create_schema(self) -> None:
        """Create the tables and the message search index when absent; safe to call again."""
        if self.sqlite_file:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        with self.engine.begin() as conn:
            metadata.create_all(conn)
        try:  # without FTS5 trigram / pg_trgm, patterns are still answered by (I)LIKE, only slower
            with self.engine.begin() as conn:
                for ddl in SEARCH_INDEX.get(self.engine.dialect.name, ()):
                    conn.execute(text(ddl))
        except SQLAlchemyError:
            pass

    def ingest_logs(self, records: Iterable[LogRecord]) -> int:
        """Store log lines; a bad record (named by its position and field) stores nothing."""
        return self._ingest(list(records), []).logs

    def ingest_changes(self, records: Iterable[ChangeRecord]) -> int:
        """Store change events; a change whose ``id`` is already stored is replaced."""
        return self._ingest([], list(records)).changes

    def ingest_bundle(self, path: str | Path, warnings: list[BundleWarning] | None = None,
                      force: bool = False) -> IngestReport:
        """Store a case bundle's ``logs.jsonl`` and ``changes.jsonl`` (plain or ``.gz``) together, or nothing.

        The bundle is recorded with its rows (``agent.sources.ingested``): the same content again stores nothing
        and reports the earlier ingest, unless ``force`` (its log lines are then appended again).
        Raises ``InvalidBundleError`` naming file, line and field when either file is malformed. What the
        readers of those files ignore (a change's unknown key) is added to ``warnings`` when given, even then.
        """
        from agent.bundles.data_files import read_data_file
        from agent.bundles.errors import InvalidBundleError
        from agent.bundles.jsonl_files import read_changes, read_logs

        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"not a case bundle directory: {root}")
        logs, errors = read_data_file(root, "logs.jsonl", read_logs)
        changes, more = read_data_file(root, "changes.jsonl", partial(read_changes, warnings=warnings))
        if errors or more:
            raise InvalidBundleError(str(root), [*errors, *more])
        return self._ingest(logs, changes, bundle=root, force=force)

    def _ingest(self, logs: Sequence[LogRecord], changes: Sequence[ChangeRecord], bundle: Path | None = None,
                force: bool = False) -> IngestReport:
        log_rows = [_log_row(i, r) for i, r in enumerate(logs)]
        change_rows = [_change_row(i, r) for i, r in enumerate(changes)]
        record = None  # an empty bundle is not recorded: it has nothing to store twice
        if bundle is not None and (log_rows or change_rows):
            digest = content_digest(log_rows, change_rows)
            record = IngestedBundle(digest, str(bundle.resolve()), time.time(), len(log_rows), len(change_rows))
        for attempt in (1, 2):
            try:
                return self._write_rows(log_rows, change_rows, record, force)
            except SQLAlchemyError as exc:
                raced = (self._recorded(record) if isinstance(exc, IntegrityError) and record is not None
                         and not force else None)
                if raced is not None:  # the same content was ingested by another run between our check and our write
                    return IngestReport(already=raced)
                if isinstance(exc, IntegrityError) and change_rows and attempt == 1:
                    continue  # another writer stored a change of one of these ids after our delete: replace it now
                raise StoreError(f"{self.error(exc)} (nothing was stored)") from exc
        raise AssertionError("unreachable")

    def _write_rows(self, log_rows: list[dict[str, Any]], change_rows: list[dict[str, Any]],
                    record: IngestedBundle | None, force: bool) -> IngestReport:
        """One transaction: the bundle's record (unless stored before, without ``force``), the changes of these ids
        replaced, the rows inserted."""
        self.create_schema()
        ids = [row["id"] for row in change_rows]
        with self.engine.begin() as conn:
            if record is not None:
                earlier = earlier_ingest(conn, record.digest)
                if earlier is not None and not force:
                    return IngestReport(already=earlier)
                record_ingest(conn, record)
            for start in range(0, len(ids), _BATCH):
                batch = ids[start : start + _BATCH]
                conn.execute(changes_table.delete().where(changes_table.c.id.in_(batch)))
            for table, rows in ((logs_table, log_rows), (changes_table, change_rows)):
                for start in range(0, len(rows), _BATCH):
                    conn.execute(table.insert(), rows[start : start + _BATCH])
        return IngestReport(len(log_rows), len(change_rows))

    def _recorded(self, record: IngestedBundle) -> IngestedBundle | None:
        """The stored record of ``record``'s content, if any (None when it cannot be read)."""
        try:
            with self.engine.connect() as conn:
                return earlier_ingest(conn, record.digest)
        except SQLAlchemyError:
            return None


def _bad(kind: str, index: int, field: str, problem: str) -> ValueError:
    return ValueError(f"{kind} record {index}: {field}: {problem}")


def _text(kind: str, index: int, field: str, value: object, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise _bad(kind, index, field, f"must be a non-empty string, got {value!r}")
    return value


def _timestamp(kind: str, index: int, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(kind, index, "ts", f"must be finite Unix seconds, got {value!r}")
    return float(value)


def _json(kind: str, index: int, field: str, value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise _bad(kind, index, field, f"not JSON-serializable ({exc})") from None
    return dict(value)


def _log_row(i: int, record: LogRecord) -> dict[str, Any]:
    if not isinstance(record.message, str):
        raise _bad("log", i, "message", f"must be a string, got {type(record.message).__name__}")
    level = line_level(str(record.level), record.message)  # blank: the level the text names, else INFO
    if level is None:
        raise _bad("log", i, "level", f"must be {LEVEL_HELP}, got {record.level!r}")
    return {
        "ts": _timestamp("log", i, record.ts),
        "service": _text("log", i, "service", record.service),
        "level": level,
        "message": record.message,
        "instance": _text("log", i, "instance", record.instance, required=False),
        # the id a line's text carries when it has no field, stored so that whole traces can be chosen in SQL
        "trace_id": _text("log", i, "trace_id", record.trace_id, required=False) or trace_id_in_text(record.message),
        "extra": _json("log", i, "extra", record.extra or None),
    }


def _change_row(i: int, record: ChangeRecord) -> dict[str, Any]:
    return {
        "ts": _timestamp("change", i, record.ts),
        "service": _text("change", i, "service", record.service),
        "type": _text("change", i, "type", record.type),
        "id": _text("change", i, "id", record.id),
        "description": _text("change", i, "description", record.description or "", required=False),
        "version": _text("change", i, "version", record.version, required=False),
        "author": _text("change", i, "author", record.author, required=False),
        "canary": _json("change", i, "canary", record.canary),
        "baseline": _json("change", i, "baseline", record.baseline),
        "diff": _text("change", i, "diff", record.diff, required=False),
    }


# --- reading --------------------------------------------------------------------------------


class _Reader(_Database):
    def __init__(self, url: str | None, name: str) -> None:
        super().__init__(url)
        self.name = name

    def _run(self, table: Table, asked: dict[str, object], build: Callable[[Connection], Select],
             pick: Callable[[Connection, Select], tuple[Sequence[Any], bool]]) -> SourceResult[Any]:
        """The rows ``pick`` chooses among ``build(conn)``'s (oldest first; truncated when it left some out), as
        records."""
        if self.sqlite_file and not self.sqlite_file.is_file():
            return SourceResult.failed(self.name, asked, f"observability store {self.sqlite_file} does not exist")
        if no_time_left():
            return SourceResult.failed(self.name, asked, given_up(self.where))
        bound = None
        try:
            with self.engine.connect() as conn, bounded(conn) as bound:  # ended when the investigation stops waiting
                if not inspect(conn).has_table(table.name):
                    message = f"observability store {self.where} has no {table.name} table; ingest some first"
                    return SourceResult.failed(self.name, asked, message)
                rows, truncated = pick(conn, build(conn))
        except SQLAlchemyError as exc:
            if bound is not None and bound.over():  # ended by the bound: said as a call given up on is said
                return SourceResult.failed(self.name, asked, given_up(self.where))
            return SourceResult.failed(self.name, asked, self.error(exc))
        convert = _log_record if table is logs_table else _change_record
        return SourceResult.of(self.name, asked, [convert(row) for row in rows], truncated=truncated)

    @staticmethod
    def _filter(conn: Connection, table: Table, services: Sequence[str], start: float, end: float) -> Select:
        """Rows of ``table`` in ``[start, end]`` whose service matches a name or glob (none: all)."""
        query = select(table).where(table.c.ts >= start, table.c.ts <= end)
        if services and "*" not in services:
            names = list(services)
            if any(ch in p for p in services for ch in "*?["):
                known = conn.execute(select(table.c.service).distinct()).scalars()
                names = [s for s in known if any(fnmatch.fnmatchcase(s, p) for p in services)]
            query = query.where(table.c.service.in_(names))
        return query


class SqlLogSource(_Reader):
    """A :class:`~agent.sources.base.LogSource` over the ``logs`` table."""

    def __init__(self, url: str | None = None, name: str = "logs") -> None:
        super().__init__(url, name)

    def query(self, request: LogRequest) -> SourceResult[LogRecord]:
        """The matching lines in ``[start, end]``, oldest first; beyond ``limit``, that many spread evenly over the
        window, or a share of the traces whole (by the ``trace_id`` column) when the request asks for whole
        traces: the rule of ``agent.sources.sampling``, applied in SQL."""
        asked = _asked(request, levels=list(request.levels), patterns=list(request.patterns), limit=request.limit)

        def pick(conn: Connection, query: Select) -> tuple[Sequence[Any], bool]:
            return _sampled(conn, query.subquery(), request.limit, request.whole_traces)

        return self._run(logs_table, asked, lambda conn: self._select(conn, request), pick)

    def _select(self, conn: Connection, request: LogRequest) -> Select:
        t = logs_table
        query = self._filter(conn, t, request.services, request.start, request.end)
        if request.levels:
            query = query.where(t.c.level.in_([level_name(level) for level in request.levels]))
        patterns = [p for p in request.patterns if p]
        if patterns:
            query = query.where(self._matches(conn, patterns))
        return query

    def _matches(self, conn: Connection, patterns: list[str]) -> ColumnElement[bool]:
        message = logs_table.c.message
        if self.engine.dialect.name != "sqlite":
            return or_(*(message.ilike(_like(p), escape="\\") for p in patterns))
        fts = inspect(conn).has_table("logs_fts")
        indexed = [p for p in patterns if fts and len(p) >= 3]  # trigrams need three characters
        clauses = [message.like(_like(p), escape="\\") for p in patterns if p not in indexed]
        if indexed:
            phrase = " OR ".join('"' + p.replace('"', '""') + '"' for p in indexed)
            found = text("SELECT rowid FROM logs_fts WHERE logs_fts MATCH :phrase").bindparams(phrase=phrase)
            clauses.append(logs_table.c.pk.in_(found))
        return or_(*clauses)

    def line_span(self, start: float, end: float) -> tuple[float, float] | None:
        """The times of the first and last stored lines in ``[start, end]`` (None without one, or when
        unreadable). Two scalar subqueries, each answered from the ``ts`` index: SQLite reads every line in the
        range for ``min`` and ``max`` asked together (115 ms for two million lines, 0.2 ms so)."""
        t = logs_table
        in_range = (t.c.ts >= start, t.c.ts <= end)
        bounds = select(select(func.min(t.c.ts)).where(*in_range).scalar_subquery(),
                        select(func.max(t.c.ts)).where(*in_range).scalar_subquery())
        first, last = self._read_logs(lambda conn: tuple(conn.execute(bounds).one()), (None, None))
        return None if first is None or last is None else (float(first), float(last))

    def services(self, start: float | None = None, end: float | None = None) -> list[str]:
        """Every service with logs stored (in ``[start, end]`` when given), sorted; [] when the store is empty or
        unreadable."""
        query = select(logs_table.c.service).distinct()
        if start is not None:
            query = query.where(logs_table.c.ts >= start)
        if end is not None:
            query = query.where(logs_table.c.ts <= end)
        return self._read_logs(lambda conn: sorted(conn.execute(query).scalars()), [])

    def _read_logs(self, read: Callable[[Connection], T], empty: T) -> T:
        """``read`` on a connection to the store, or ``empty`` when it has no logs table or cannot be read."""
        if (self.sqlite_file and not self.sqlite_file.is_file()) or no_time_left():
            return empty
        try:
            with self.engine.connect() as conn, bounded(conn):
                return read(conn) if inspect(conn).has_table("logs") else empty
        except SQLAlchemyError:
            return empty


class SqlChangeSource(_Reader):
    """A :class:`~agent.sources.base.ChangeSource` over the ``changes`` table."""

    def __init__(self, url: str | None = None, name: str = "changes", limit: int = MAX_CHANGES) -> None:
        super().__init__(url, name)
        self.limit = limit

    def query(self, request: ChangeRequest) -> SourceResult[ChangeRecord]:
        """Changes in ``[start, end]`` of the given services and types, oldest first."""
        asked = _asked(request, types=list(request.types))

        def build(conn: Connection) -> Select:
            t = changes_table
            query = self._filter(conn, t, request.services, request.start, request.end)
            if request.types:
                query = query.where(t.c.type.in_(list(request.types)))
            return query

        return self._run(changes_table, asked, build, lambda conn, query: _newest(conn, query, self.limit))


def _newest(conn: Connection, query: Select, limit: int) -> tuple[list[Any], bool]:
    """The newest ``limit`` rows of ``query``, oldest first, and whether more matched."""
    t = changes_table
    rows = list(reversed(conn.execute(query.order_by(t.c.ts.desc(), t.c.pk.desc()).limit(limit + 1)).mappings().all()))
    return rows[max(0, len(rows) - limit):], len(rows) > limit


def _sampled(conn: Connection, lines: Subquery, limit: int, traces: bool) -> tuple[Sequence[Any], bool]:
    """The rows of ``lines`` oldest first; beyond ``limit``, ``sampling.stratified``'s choice (by service and
    level), or with ``traces`` ``sampling.whole_traces``' (traces in the order of their first line)."""
    total = _count(conn, lines)
    in_order = (lines.c.ts, lines.c.pk)
    if total <= limit:
        return conn.execute(select(lines).order_by(*in_order)).mappings().all(), False
    if not traces:
        group = (lines.c.service, lines.c.level)
        sizes = {(service, level): int(n) for service, level, n in
                 conn.execute(select(*group, func.count()).group_by(*group)).all()}
        quota = case(*[(and_(lines.c.service == service, lines.c.level == level), keep)
                       for (service, level), keep in fair_quotas(sizes, limit).items()], else_=0)
        chosen = _evenly_numbered(select(lines.c.pk), in_order, quota, func.count().over(partition_by=group), group)
        rows = conn.execute(select(lines).where(lines.c.pk.in_(chosen)).order_by(*in_order)).mappings().all()
        return evenly(rows, limit)[0], True  # lines written between the counts and the choice: still the limit
    traced = and_(lines.c.trace_id.is_not(None), lines.c.trace_id != "")
    numbered_lines = select(lines.c.trace_id, lines.c.ts, lines.c.pk, func.row_number().over(
        partition_by=lines.c.trace_id, order_by=in_order).label("line")).where(traced).subquery()
    first_lines = select(numbered_lines).where(numbered_lines.c.line == 1).subquery()
    trace_count = _count(conn, first_lines)
    untraced = select(lines.c.pk).where(not_(traced))
    untraced_count = _count(conn, untraced.subquery())

    def pick(budget: int) -> Sequence[Any]:
        chosen_traces = _evenly_numbered(select(first_lines.c.trace_id), (first_lines.c.ts, first_lines.c.pk),
                                         share_of(trace_count, budget, total), trace_count)
        chosen_untraced = _evenly_numbered(untraced, in_order, share_of(untraced_count, budget, total), untraced_count)
        chosen = or_(lines.c.trace_id.in_(chosen_traces), lines.c.pk.in_(chosen_untraced))
        return conn.execute(select(lines).where(chosen).order_by(*in_order)).mappings().all()

    return within_limit(limit, pick), True


def _count(conn: Connection, rows: Subquery) -> int:
    return int(conn.execute(select(func.count()).select_from(rows)).scalar_one())


def _evenly_numbered(query: Select, order: Sequence[ColumnElement[Any]], keep: int | ColumnElement[Any],
                     total: int | ColumnElement[Any], partition: Sequence[ColumnElement[Any]] | None = None) -> Select:
    """The one column of ``query``, for the ``keep`` of its ``total`` rows (in ``order``; within each
    ``partition`` when given, ``keep`` and ``total`` then that group's) that ``sampling.kept`` keeps:
    ``row_number()`` in SQL, integer division as in Python."""
    numbered = query.add_columns(
        func.row_number().over(partition_by=partition, order_by=order).label("n"),
        _integer(keep).label("keep"), _integer(total).label("total"),
    ).subquery()
    index, keep_n, total_n = numbered.c.n - 1, numbered.c.keep, numbered.c.total
    return select(numbered.c[0]).where((index + 1) * keep_n // total_n > index * keep_n // total_n)


def _integer(value: int | ColumnElement[Any]) -> ColumnElement[Any]:
    return literal(value, Integer) if isinstance(value, int) else value


def _asked(request: LogRequest | ChangeRequest, **more: object) -> dict[str, object]:
    """What a request asked (its services and window, then ``more``), as a SourceResult records it."""
    return {"services": list(request.services), "start": request.start, "end": request.end, **more}


def _like(pattern: str) -> str:
    """A LIKE pattern finding ``pattern`` anywhere, its own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _log_record(row: Mapping[str, Any]) -> LogRecord:
    fields = ("ts", "service", "level", "message", "instance", "trace_id")
    return LogRecord(**{k: row[k] for k in fields}, extra=row["extra"] or {})


def _change_record(row: Mapping[str, Any]) -> ChangeRecord:
    fields = ("ts", "service", "type", "id", "description", "version", "author", "canary", "baseline", "diff")
    return ChangeRecord(**{k: row[k] for k in fields})
