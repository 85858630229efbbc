"""The SQL observability store on a real PostgreSQL: the SQLite behaviours again, plus its own."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from agent.sources.base import LogRequest, answer_by
from agent.sources.sqlstore import ObservabilityStore, SqlLogSource, StoreError
from tests.test_sqlstore import (  # noqa: F401 (collected here again, with store_url on PostgreSQL)
    loaded,
    test_a_failed_ingest_records_no_bundle,
    test_a_store_made_before_bundles_were_recorded_gains_the_record,
    test_an_ingest_racing_another_of_the_same_content_reports_it_as_already_ingested,
    test_bad_record_stores_nothing,
    test_changes_by_service_type_and_window,
    test_changes_replace_by_id_and_are_bounded,
    test_database_failure_midway_rolls_back_everything,
    test_filters_by_service_window_and_level,
    test_ingest_bundle_all_or_nothing,
    test_ingesting_the_same_bundle_again_stores_nothing_until_forced,
    test_limit_keeps_lines_spread_evenly_as_the_bundle_source_does,
    test_pattern_wildcards_are_literal,
    test_patterns_are_case_insensitive_substrings_any_of,
    test_real_incident_bundle,
    test_records_round_trip,
    test_service_globs_and_all_services,
    test_whole_traces_from_the_store_keep_every_line_of_the_traces_chosen,
)
from tests.test_sqlstore_deadline import (  # noqa: F401 (collected here again, with store_url on PostgreSQL)
    LATE,
    test_a_query_asked_when_no_time_is_left_is_not_run_and_says_why,
    test_a_query_with_time_left_answers_as_before,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def store_url(postgres_db_url) -> str:
    return postgres_db_url


def test_postgres_gets_a_trigram_index_on_messages(store_url):
    loaded(store_url)
    engine = create_engine(store_url)
    with engine.connect() as conn:
        indexes = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'logs'")).scalars().all()
    engine.dispose()
    assert any("gin_trgm_ops" in index for index in indexes), indexes


def test_unreachable_postgres_is_a_failed_result_and_a_store_error(postgres_server):
    url = postgres_server.url("no_such_database")
    result = SqlLogSource(url).query(LogRequest(("a",), 0.0, 1.0))
    assert result.status == "error"
    assert "no_such_database" in result.error and "OperationalError" in result.error
    with pytest.raises(StoreError, match="nothing was stored"):
        ObservabilityStore(url).ingest_logs([])


def test_cli_ingest_and_live_toolkit_use_the_configured_store(store_url, monkeypatch):
    from typer.testing import CliRunner

    from agent.cli.app import app
    from agent.config import get_settings
    from agent.runtime import live_toolkit
    from tests.test_bundle_cli import FIXTURE

    monkeypatch.setenv("BIANQUE_OBSERVABILITY_URL", store_url)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["bundle", "ingest", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "postgresql" in result.stderr and "small-rca: 4 log line(s), 2 change(s)" in result.stdout
    logs = live_toolkit().logs.query(LogRequest(("ranking", "feature-store"), 0, 4e9))
    assert logs.status == "ok" and logs.data


def test_a_query_a_lock_holds_past_what_was_left_ends_then_saying_so(store_url):
    """Its statement is given what is left as its statement_timeout (SET LOCAL): it had waited for the lock, then run
    to its end in a thread the investigation no longer watched. The lock is let go after 20 s either way."""
    logs, _changes = loaded(store_url)
    engine = create_engine(store_url)
    holder = engine.raw_connection()
    let_go = threading.Timer(20.0, holder.rollback)
    try:
        holder.cursor().execute("LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")  # in a transaction until let go
        let_go.start()
        with answer_by(time.monotonic() + 0.5, LATE):
            held = logs.query(LogRequest(("ranking",), 0.0, 1000.0))
        assert let_go.is_alive()  # ended by its own timeout, not by the lock let go
        assert (held.status, held.error) == ("error", f"observability store {logs.where}: {LATE}")
    finally:
        let_go.cancel()
        holder.rollback()
        holder.close()
        engine.dispose()
    assert logs.query(LogRequest(("ranking",), 0.0, 1000.0)).status == "ok"  # its connection unbounded again
