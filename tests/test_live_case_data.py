"""A live investigation keeps what it read as its case's bundle, so that a correction of it can be replayed."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from types import SimpleNamespace

from sqlalchemy import event

from agent.bundles.captured import prune_case_data
from agent.bundles.reader import load_bundle
from agent.config import CaseData, get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.replay import unreplayable
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from tests.fixtures.graph.world import alert_event, graph_library
from tests.test_live_call_graph import live


def test_a_live_case_keeps_its_data_as_a_bundle_that_answers_as_the_live_run_did(memory):
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path == str(get_settings().home / "case-data" / case.id)
    assert sorted(os.listdir(case.bundle_path)) == ["changes.jsonl", "event.yaml", "logs.jsonl.gz", "metrics.csv.gz"]
    assert unreplayable(case) is None
    bundle = load_bundle(case.bundle_path)
    assert {s.metric for s in bundle.series} and bundle.logs
    replayed = investigate(case.event, bundle_toolkit(bundle, get_settings(), library=graph_library()),
                           source="replay")
    assert [c.service for c in replayed.verdict.root_causes] == [c.service for c in result.verdict.root_causes]
    assert replayed.verdict.needs_attention == result.verdict.needs_attention


def test_case_data_days_0_keeps_none(memory, monkeypatch):
    monkeypatch.setenv("BIANQUE_CASE_DATA_DAYS", "0")
    get_settings.cache_clear()
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path is None and unreplayable(case) == "no bundle to replay from"
    assert not (get_settings().home / "case-data").exists()


def test_data_past_its_days_goes_unless_its_case_was_corrected(memory):
    toolkit = replace(live(), memory=memory)
    first, second = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, first, correct=False, service="db", fault="slow_dependency")
    kept = get_settings().case_data
    assert kept is not None and kept.keep_s == 7 * 86400
    old = kept.root.stat().st_mtime - 8 * 86400
    for case_id in (first, second):
        os.utime(kept.root / case_id, (old, old))
    third = investigate(alert_event(), toolkit, source="api").case_id  # its memory step prunes
    assert sorted(os.listdir(kept.root)) == sorted([first, third])
    assert unreplayable(memory.get_case(second)) == "its bundle is gone"
    assert sorted(prune_case_data(CaseData(kept.root, 0.0), lambda _cases: (), now=old + 99 * 86400)) == sorted(
        [first, third])  # nothing corrected: all of it


def test_a_run_asks_the_memory_about_its_old_corrected_cases_once_however_many_there_are(memory):
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    statements: list[str] = []
    listen = partial(event.listen, memory.engine, "before_cursor_execute")
    listen(lambda _conn, _cursor, sql, *_args: statements.append(sql))

    def statements_of_a_run_after(corrected: int) -> int:
        for _ in range(corrected):
            case_id = investigate(alert_event(), toolkit, source="api").case_id
            correct_case(memory, case_id, correct=False, service="db", fault="slow_dependency")
        old = time.time() - 8 * 86400
        for entry in kept.root.iterdir():
            os.utime(entry, (old, old))
        statements.clear()
        investigate(alert_event(), toolkit, source="api")
        return len(statements)

    assert statements_of_a_run_after(1) == statements_of_a_run_after(3)  # not two more reads per corrected case
    assert len(os.listdir(kept.root)) == 4 + 1  # the corrected ones and the last run's


def test_corrected_among_names_the_corrected_ones_of_more_ids_than_one_query_binds(memory):
    toolkit = replace(live(), memory=memory)
    corrected, other = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, corrected, correct=False, service="db", fault="slow_dependency")
    unknown = [f"{i:012x}" for i in range(1200)]
    assert memory.corrected_among([*unknown, other, corrected, corrected]) == {corrected}
    assert memory.corrected_among([]) == set()


def test_a_case_folder_another_replica_pruned_since_it_was_listed_is_passed_over(tmp_path, monkeypatch):
    from agent.bundles import captured

    for name in ("gone", "stays"):
        (tmp_path / name).mkdir()
    old = time.time() - 8 * 86400
    os.utime(tmp_path / "stays", (old, old))

    @contextmanager
    def listed_then_pruned(root):
        with os.scandir(root) as entries:
            listed = list(entries)
        shutil.rmtree(tmp_path / "gone")  # the other replica's prune, between the listing and the look at its age
        yield iter(listed)

    monkeypatch.setattr(captured, "os", SimpleNamespace(scandir=listed_then_pruned))
    assert prune_case_data(CaseData(tmp_path, 86400.0), lambda _cases: ()) == ["stays"]


def test_a_prune_that_fails_costs_the_run_none_of_its_data(memory, monkeypatch):
    from agent.bundles import captured

    def denied(*_args):
        raise PermissionError("case-data: permission denied")

    monkeypatch.setattr(captured, "prune_case_data", denied)
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    assert unreplayable(memory.get_case(result.case_id)) is None


def test_the_kept_log_lines_are_the_lines_each_query_read_each_as_often():
    from agent.bundles.captured import captured_logs

    line = {"ts": 100.0, "service": "db", "level": "ERROR", "message": "connection refused", "instance": "db-1"}
    other_trace = {**line, "trace_id": "t2"}
    read = [{**line, "query": "errors"}, {**line, "query": "errors"}, {**other_trace, "query": "errors"},
            {**line, "query": "all"}, {**line, "ts": 99.0, "query": "all"}]
    kept = captured_logs(read)
    assert [(r.ts, r.trace_id) for r in kept] == [(99.0, None), (100.0, None), (100.0, None), (100.0, "t2")]


def test_a_series_label_named_as_a_metrics_column_is_kept_under_another_name_and_the_bundle_reads(tmp_path):
    from agent.bundles.captured import capture_bundle
    from agent.bundles.reader import read_bundle

    read = {"series": [{"metric": "probe_success", "labels": {"service": "api", "metric": "dns", "value": "a"},
                        "t": [940.0, 1000.0], "v": [1.0, 0.0]}]}
    capture_bundle(tmp_path / "case", {"pattern": "rca", "time": 1000.0, "service": "api"}, read)
    bundle, errors = read_bundle(tmp_path / "case")
    assert errors == [] and bundle is not None
    assert [s.labels for s in bundle.series] == [{"service": "api", "exported_metric": "dns", "exported_value": "a"}]


def test_a_case_id_that_is_no_plain_folder_name_keeps_no_data_and_reaches_no_other_folder(memory, monkeypatch):
    home = get_settings().home
    (home / "escaped").mkdir(parents=True)
    (home / "escaped" / "precious.txt").write_text("not case data")
    start_case = memory.start_case
    monkeypatch.setattr(memory, "start_case", partial(start_case, case_id="../escaped"))  # the Python API's own id
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    assert result.case_id == "../escaped" and memory.get_case(result.case_id).bundle_path is None
    assert os.listdir(home / "escaped") == ["precious.txt"]
