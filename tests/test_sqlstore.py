"""The SQL observability store on SQLite (FTS5).

The tests taking ``store_url`` run again on a real PostgreSQL in ``tests/e2e/test_postgres_store.py``.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event

from agent.bundles.errors import InvalidBundleError
from agent.bundles.reader import CaseBundle
from agent.events import Event, Pattern
from agent.series import ChangeRecord, LogRecord
from agent.sources.base import ChangeRequest, LogRequest
from agent.sources.bundle import BundleLogSource
from agent.sources.sqlstore import IngestReport, ObservabilityStore, SqlChangeSource, SqlLogSource, StoreError
from agent.sources.sqltables import changes_table, logs_table, metadata
from tests.shared_data import SHARED_DATA, needs

NEZHA_BUNDLE = SHARED_DATA / "nezha-ob" / "ob-2022-08-23-132751"
ALL_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'obs.db'}"


def sample_logs() -> list[LogRecord]:
    return [
        LogRecord(100.0, "ranking", "INFO", "request served in 12ms"),
        LogRecord(110.0, "ranking", "ERROR", "Upstream TIMEOUT calling feature-store", "ranking-0", "t1"),
        LogRecord(120.0, "ranking", "WARN", "slow call: 100% of budget used (p_99)", extra={"budget_ms": 250}),
        LogRecord(130.0, "ranking-canary", "ERROR", 'config key "max_conns" rejected'),
        LogRecord(140.0, "retrieval", "ERROR", "upstream timeout calling cache"),
        LogRecord(150.0, "cache", "FATAL", "OOM killed"),
        LogRecord(500.0, "ranking", "ERROR", "late timeout"),
    ]


def sample_changes() -> list[ChangeRecord]:
    return [
        ChangeRecord(100.0, "ranking", "canary", "c1", "canary v2", "v2", "ana", {"version": "v2"}, {"version": "v1"}),
        ChangeRecord(200.0, "ranking", "config", "c2", "raise max_conns", diff="-max_conns: 10\n+max_conns: 50"),
        ChangeRecord(300.0, "cache", "deploy", "c3", "cache v9", "v9"),
    ]


def loaded(url: str) -> tuple[SqlLogSource, SqlChangeSource]:
    store = ObservabilityStore(url)
    assert store.ingest_logs(sample_logs()) == 7
    assert store.ingest_changes(sample_changes()) == 3
    return SqlLogSource(url), SqlChangeSource(url)


def logs(source: SqlLogSource, services=("ranking",), start=0.0, end=1000.0, **kwargs) -> list[str]:
    result = source.query(LogRequest(tuple(services), start, end, **kwargs))
    assert result.status != "error", result.error
    return [r.message for r in result.data]


def test_filters_by_service_window_and_level(store_url):
    source, _ = loaded(store_url)
    assert logs(source) == [
        "Upstream TIMEOUT calling feature-store",
        "slow call: 100% of budget used (p_99)",
        "late timeout",
    ]
    assert logs(source, end=200.0, levels=("error",)) == ["Upstream TIMEOUT calling feature-store"]
    assert logs(source, start=105.0, end=120.0, levels=ALL_LEVELS) == [
        "Upstream TIMEOUT calling feature-store",
        "slow call: 100% of budget used (p_99)",
    ]
    assert logs(source, services=("nobody",)) == []


def test_records_round_trip(store_url):
    source, _ = loaded(store_url)
    result = source.query(LogRequest(("ranking",), 100.0, 120.0))
    assert result.data[0] == LogRecord(
        110.0, "ranking", "ERROR", "Upstream TIMEOUT calling feature-store", "ranking-0", "t1"
    )
    assert result.data[1].extra == {"budget_ms": 250}
    assert result.data[0].extra == {}
    assert result.request["services"] == ["ranking"]


def test_service_globs_and_all_services(store_url):
    source, _ = loaded(store_url)
    assert len(logs(source, services=("rank*",), end=200.0)) == 3
    assert len(logs(source, services=("r*", "cache"), end=200.0)) == 5
    assert len(logs(source, services=(), end=200.0)) == 5
    assert len(logs(source, services=("*",), end=200.0)) == 5
    assert sorted(source.services()) == ["cache", "ranking", "ranking-canary", "retrieval"]


def test_patterns_are_case_insensitive_substrings_any_of(store_url):
    source, _ = loaded(store_url)
    everywhere = {"services": (), "levels": ALL_LEVELS}
    assert logs(source, patterns=("timeout",), **everywhere) == [
        "Upstream TIMEOUT calling feature-store",
        "upstream timeout calling cache",
        "late timeout",
    ]
    assert logs(source, patterns=("OOM", '"max_conns"'), **everywhere) == [
        'config key "max_conns" rejected',
        "OOM killed",
    ]
    assert logs(source, patterns=("ms", "oo"), **everywhere) == ["request served in 12ms", "OOM killed"]


def test_pattern_wildcards_are_literal(store_url):
    source, _ = loaded(store_url)
    everywhere = {"services": (), "levels": ALL_LEVELS}
    assert logs(source, patterns=("100%",), **everywhere) == ["slow call: 100% of budget used (p_99)"]
    assert logs(source, patterns=("p_9",), **everywhere) == ["slow call: 100% of budget used (p_99)"]
    assert logs(source, patterns=("%",), **everywhere) == ["slow call: 100% of budget used (p_99)"]
    assert logs(source, patterns=("t_m",), **everywhere) == []
    assert logs(source, patterns=("' OR 1=1 --",), **everywhere) == []


def test_limit_keeps_lines_spread_evenly_as_the_bundle_source_does(store_url):
    source, _ = loaded(store_url)  # lines at 100, 110, ..., 150 and 500
    result = source.query(LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS, limit=2))
    assert [r.ts for r in result.data] == [140.0, 500.0]  # one line each of the two largest groups (service, level)
    assert result.truncated
    assert not source.query(LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS, limit=7)).truncated
    bundle = BundleLogSource(CaseBundle(path=None, event=Event(pattern=Pattern.RCA, time=600.0),
                                        series=[], logs=sample_logs(), changes=[]))
    for limit in range(1, 8):
        for whole in (False, True):
            request = LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS, limit=limit, whole_traces=whole)
            assert source.query(request).data == bundle.query(request).data, (limit, whole)


def test_the_store_and_a_bundle_thin_a_busy_window_alike(store_url):
    """Many traces and untraced lines, timestamps shared within a second, ids in a field or only in the text:
    a store holding a bundle's lines answers the lines the bundle does, by service and level and by trace."""
    rng = random.Random(7)
    lines = []
    for i in range(300):
        trace, when = f"{rng.getrandbits(64):016x}", 100.0 + i // 4
        for hop in ("gateway", "orders", "payment")[: rng.randint(1, 3)]:
            text = f"{hop} handled" + (f" TraceID: {trace}" if i % 3 == 0 else "")
            lines.append(LogRecord(when, hop, rng.choice(ALL_LEVELS), text, trace_id=None if i % 3 == 0 else trace))
        if i % 2:
            lines.append(LogRecord(when, "scheduler", "INFO", "heartbeat"))
    store = ObservabilityStore(store_url)
    assert store.ingest_logs(lines) == len(lines)
    source = SqlLogSource(store_url)
    bundle = BundleLogSource(CaseBundle(path=None, event=Event(pattern=Pattern.RCA, time=600.0), series=[],
                                        logs=lines, changes=[]))
    for limit in (40, 150, 400):
        for whole in (False, True):
            request = LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS, limit=limit, whole_traces=whole)
            from_store, from_bundle = source.query(request).data, bundle.query(request).data
            assert len(from_store) <= limit and [(r.ts, r.service, r.level, r.message) for r in from_store] == [
                (r.ts, r.service, r.level, r.message) for r in from_bundle], (limit, whole)


def test_whole_traces_from_the_store_keep_every_line_of_the_traces_chosen(store_url):
    store = ObservabilityStore(store_url)
    lines = [LogRecord(100.0 + i, svc, "INFO", f"{svc} handled", trace_id=f"trace-{i:03d}")
             for i in range(60) for svc in ("gateway", "orders", "payment")]
    lines += [LogRecord(100.5 + i, "scheduler", "INFO", "heartbeat") for i in range(60)]
    assert store.ingest_logs(lines) == 240
    result = SqlLogSource(store_url).query(LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS, limit=40,
                                                      whole_traces=True))
    assert result.truncated and len(result.data) <= 40
    per_trace: dict[str, int] = {}
    for line in result.data:
        if line.trace_id:
            per_trace[line.trace_id] = per_trace.get(line.trace_id, 0) + 1
    assert len(per_trace) == 10 and set(per_trace.values()) == {3}
    assert sum(1 for line in result.data if line.service == "scheduler") == 10


def test_changes_by_service_type_and_window(store_url):
    _, changes = loaded(store_url)
    result = changes.query(ChangeRequest(("ranking",), 0.0, 1000.0))
    assert [c.id for c in result.data] == ["c1", "c2"]
    assert result.data[0].canary == {"version": "v2"} and result.data[0].baseline == {"version": "v1"}
    assert result.data[1].diff == "-max_conns: 10\n+max_conns: 50"
    assert [c.id for c in changes.query(ChangeRequest(("*",), 150.0, 1000.0, types=("deploy",))).data] == ["c3"]
    assert changes.query(ChangeRequest(("ranking",), 301.0, 1000.0)).status == "no_data"


def test_changes_replace_by_id_and_are_bounded(store_url):
    loaded(store_url)
    store = ObservabilityStore(store_url)
    store.ingest_changes([ChangeRecord(250.0, "ranking", "rollback", "c2", "rolled back")])
    result = SqlChangeSource(store_url, limit=2).query(ChangeRequest((), 0.0, 1000.0))
    assert [(c.id, c.type) for c in result.data] == [("c2", "rollback"), ("c3", "deploy")]
    assert result.truncated


def test_bad_record_stores_nothing(store_url):
    source, _ = loaded(store_url)
    store = ObservabilityStore(store_url)
    bad = [LogRecord(600.0, "ranking", "ERROR", "fine"), LogRecord(610.0, "ranking", "LOUD", "bad level")]
    with pytest.raises(ValueError, match=r"log record 1: level: must be one of"):
        store.ingest_logs(bad)
    with pytest.raises(ValueError, match=r"log record 0: ts: must be finite"):
        store.ingest_logs([LogRecord(float("nan"), "ranking", "ERROR", "x")])
    with pytest.raises(ValueError, match=r"change record 1: id: must be a non-empty string"):
        store.ingest_changes([ChangeRecord(1.0, "a", "deploy", "ok"), ChangeRecord(2.0, "a", "deploy", "")])
    assert logs(source, start=0.0, end=10_000.0, services=(), levels=ALL_LEVELS)[-1] == "late timeout"
    assert source.query(LogRequest((), 590.0, 700.0, levels=ALL_LEVELS)).status == "no_data"


def test_levels_under_other_names_are_stored_as_the_level(store_url):
    source, _ = loaded(store_url)
    ObservabilityStore(store_url).ingest_logs([LogRecord(650.0, "ranking", "warning", "pool nearly empty")])
    assert logs(source, start=640.0, end=660.0, services=(), levels=("WARN",)) == ["pool nearly empty"]


def test_database_failure_midway_rolls_back_everything(store_url):
    store = ObservabilityStore(store_url)
    store.create_schema()

    def fail_on_changes(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO changes"):
            raise store.engine.dialect.dbapi.OperationalError("disk on fire")

    event.listen(store.engine, "before_cursor_execute", fail_on_changes)
    with pytest.raises(StoreError, match="nothing was stored"):
        store._ingest(sample_logs(), sample_changes())
    source = SqlLogSource(store_url)
    assert source.query(LogRequest((), 0.0, 1000.0, levels=ALL_LEVELS)).status == "no_data"


def write_bundle(root: Path, logs_lines: list[object], change_lines: list[object]) -> Path:
    root.mkdir()
    (root / "event.yaml").write_text("pattern: inspection\ntime: 100\n")
    (root / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in logs_lines))
    (root / "changes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in change_lines))
    return root


def test_ingest_bundle_all_or_nothing(store_url, tmp_path):
    store = ObservabilityStore(store_url)
    line = {"ts": "1970-01-01T00:01:40Z", "service": "ranking", "level": "warn", "message": "hi", "pod": "p1"}
    change = {"ts": 100, "service": "ranking", "type": "deploy", "id": "d1", "description": "v2"}
    broken = write_bundle(tmp_path / "broken", [line], [change, {"ts": 5, "service": "x", "type": "deploy"}])
    with pytest.raises(InvalidBundleError, match=re.escape(f"{broken}/changes.jsonl:2: id: required")):
        store.ingest_bundle(broken)
    assert SqlLogSource(store_url).query(LogRequest((), 0.0, 1000.0)).status == "error"  # nothing, not even a table

    good = write_bundle(tmp_path / "good", [line], [change])
    report = store.ingest_bundle(good)
    assert (report.logs, report.changes) == (1, 1)
    [record] = SqlLogSource(store_url).query(LogRequest(("ranking",), 0.0, 1000.0)).data
    assert (record.ts, record.level, record.extra) == (100.0, "WARN", {"pod": "p1"})
    with pytest.raises(FileNotFoundError):
        store.ingest_bundle(tmp_path / "absent")


def test_ingesting_the_same_bundle_again_stores_nothing_until_forced(store_url, tmp_path):
    store = ObservabilityStore(store_url)
    line = {"ts": 100, "service": "ranking", "level": "error", "message": "timeout"}
    change = {"ts": 100, "service": "ranking", "type": "deploy", "id": "d1", "description": "v2"}
    first = write_bundle(tmp_path / "first", [line, {**line, "ts": 101}], [change])
    assert store.ingest_bundle(first) == IngestReport(2, 1)
    again = store.ingest_bundle(first)
    assert (again.logs, again.changes) == (0, 0)
    assert again.already is not None and again.already.path == str(first.resolve())
    assert (again.already.logs, again.already.changes) == (2, 1)
    copy = shutil.copytree(first, tmp_path / "copy")  # the same content elsewhere is the same bundle
    assert store.ingest_bundle(copy).already is not None
    source = SqlLogSource(store_url)
    assert len(source.query(LogRequest((), 0.0, 1000.0)).data) == 2

    changed = write_bundle(tmp_path / "changed", [line, {**line, "ts": 102}], [change])
    assert store.ingest_bundle(changed) == IngestReport(2, 1)
    forced = store.ingest_bundle(first, force=True)
    assert (forced.logs, forced.changes, forced.already) == (2, 1, None)
    assert [r.ts for r in source.query(LogRequest((), 0.0, 1000.0)).data] == [100, 100, 100, 101, 101, 102]
    assert [c.id for c in SqlChangeSource(store_url).query(ChangeRequest((), 0.0, 1000.0)).data] == ["d1"]


def test_an_ingest_racing_another_of_the_same_content_reports_it_as_already_ingested(store_url, tmp_path,
                                                                                   monkeypatch):
    """Two runs ingesting one bundle at once: the second finds no record when it checks, and the first's record in
    the way when it writes; it reports the bundle as already ingested (nothing stored twice), not a failure."""
    import agent.sources.ingested as ingested
    import agent.sources.sqlstore as sqlstore

    store = ObservabilityStore(store_url)
    bundle = write_bundle(tmp_path / "b", [{"ts": 100, "service": "a", "level": "error", "message": "x"}], [])
    assert store.ingest_bundle(bundle) == IngestReport(1, 0)
    checks = []
    monkeypatch.setattr(sqlstore, "earlier_ingest",  # the check ran before the other run's write: it saw nothing
                        lambda conn, digest: None if not checks.append(digest) and len(checks) == 1
                        else ingested.earlier_ingest(conn, digest))
    monkeypatch.setattr(sqlstore, "record_ingest",  # nor did it see a record to replace
                        lambda conn, ingest: conn.execute(ingested.table.insert().values(**vars(ingest))))
    raced = store.ingest_bundle(bundle)
    assert raced.already is not None and (raced.logs, raced.changes) == (0, 0)
    assert len(SqlLogSource(store_url).query(LogRequest((), 0.0, 1000.0)).data) == 1


def test_a_store_made_before_bundles_were_recorded_gains_the_record(store_url, tmp_path):
    engine = create_engine(store_url)
    metadata.create_all(engine, tables=[logs_table, changes_table])  # the schema as it was
    engine.dispose()
    store = ObservabilityStore(store_url)
    bundle = write_bundle(tmp_path / "b", [{"ts": 100, "service": "a", "level": "error", "message": "x"}], [])
    assert store.ingest_bundle(bundle) == IngestReport(1, 0)
    assert store.ingest_bundle(bundle).already is not None


def test_a_failed_ingest_records_no_bundle(store_url, tmp_path):
    store = ObservabilityStore(store_url)
    store.create_schema()
    bundle = write_bundle(tmp_path / "b", [{"ts": 100, "service": "a", "level": "error", "message": "x"}], [])

    def fail_on_logs(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO logs"):
            raise store.engine.dialect.dbapi.OperationalError("disk on fire")

    event.listen(store.engine, "before_cursor_execute", fail_on_logs)
    with pytest.raises(StoreError, match="nothing was stored"):
        store.ingest_bundle(bundle)
    event.remove(store.engine, "before_cursor_execute", fail_on_logs)
    assert store.ingest_bundle(bundle) == IngestReport(1, 0)  # the retry stores it: the record went with the rows


def test_unreadable_store_is_a_failed_result(tmp_path):
    missing = SqlLogSource(f"sqlite:///{tmp_path / 'none.db'}")
    result = missing.query(LogRequest(("a",), 0.0, 1.0))
    assert result.status == "error" and "does not exist" in result.error
    assert not (tmp_path / "none.db").exists()
    assert missing.services() == []
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    result = SqlChangeSource(f"sqlite:///{garbage}").query(ChangeRequest(("a",), 0.0, 1.0))
    assert result.status == "error" and "garbage.db" in result.error and "DatabaseError" in result.error


def test_sqlite_uses_the_fts5_trigram_index(store_url):
    loaded(store_url)
    path = store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        hits = conn.execute("SELECT rowid FROM logs_fts WHERE logs_fts MATCH '\"timeout\"'").fetchall()
    assert len(hits) == 3


def test_default_url_lives_in_bianque_home(bianque_home):
    store = ObservabilityStore()
    assert store.ingest_logs([LogRecord(1.0, "a", "ERROR", "x")]) == 1
    assert (bianque_home / "observability.db").is_file()
    assert SqlLogSource().services() == ["a"]


@needs(NEZHA_BUNDLE)
def test_real_incident_bundle(store_url):
    store = ObservabilityStore(store_url)
    report = store.ingest_bundle(NEZHA_BUNDLE)
    lines = [json.loads(text) for text in (NEZHA_BUNDLE / "logs.jsonl").read_text().splitlines() if text.strip()]
    assert report.logs == len(lines)
    service = lines[0]["service"]
    want = [x for x in lines if x["service"] == service and "list products" in x["message"].lower()]
    result = SqlLogSource(store_url).query(
        LogRequest((service,), 0.0, 2e9, levels=ALL_LEVELS, patterns=("List products",), limit=100_000)
    )
    assert len(result.data) == len(want) > 0
    assert all(r.trace_id for r in result.data)


def test_line_span_is_the_stores_first_and_last_lines_of_any_service_and_level(store_url, tmp_path):
    source, _ = loaded(store_url)
    assert source.line_span(0.0, 1000.0) == (100.0, 500.0)  # an INFO line first: the store reaches back there
    assert source.line_span(121.0, 400.0) == (130.0, 150.0)
    assert source.line_span(600.0, 900.0) is None
    assert SqlLogSource(f"sqlite:///{tmp_path / 'absent.db'}").line_span(0.0, 1000.0) is None


def test_a_change_whose_id_another_writer_stored_after_the_delete_replaces_it_on_a_second_try(store_url):
    """Two posts of one change id at once (a CD step retried while the first was still writing): on PostgreSQL the
    later insert meets the row the other committed after its delete, a unique-key error, and is tried again."""
    store = ObservabilityStore(store_url)
    store.create_schema()
    raced = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def other_writer_first(conn, _cursor, statement, *_args):
        if statement.startswith("INSERT INTO changes") and not raced:
            raced.append(statement)  # the row the other writer put in between this writer's delete and insert
            conn.exec_driver_sql("INSERT INTO changes (ts, service, type, id, description) "
                                 "VALUES (1.0, 'ranking', 'deploy', 'd1', 'the other post')")

    assert store.ingest_changes([ChangeRecord(2.0, "ranking", "deploy", "d1", "this post")]) == 1
    found = SqlChangeSource(store_url).query(ChangeRequest(services=("ranking",), start=0.0, end=10.0)).data
    assert raced and [(c.id, c.description) for c in found] == [("d1", "this post")]
