"""``bianque bundle validate|show|ingest`` and ``bianque catalog``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_metrics_csv
from agent.cli.app import app
from agent.series import Series

FIXTURE = Path(__file__).parent / "fixtures" / "bundles" / "small-rca"
runner = CliRunner()


def test_validate_walks_directories_and_passes(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "set" / "a")
    shutil.copytree(FIXTURE, tmp_path / "set" / "nested" / "b")
    result = runner.invoke(app, ["bundle", "validate", str(tmp_path / "set")])
    assert result.exit_code == 0, result.output
    assert "2 of 2 bundle(s) valid" in result.stdout


def test_validate_and_ingest_stop_past_max_bundles_unless_asked(tmp_path, bianque_home):
    for name in ("a", "b"):
        shutil.copytree(FIXTURE, tmp_path / "set" / name)
    for command in ("validate", "ingest"):
        result = runner.invoke(app, ["bundle", command, str(tmp_path / "set"), "--max-bundles", "1"])
        assert result.exit_code == 1 and result.stdout == ""
        message = " ".join(result.stderr.split())
        assert f"more than 1 case bundles under {tmp_path / 'set'}" in message and "--max-bundles 0" in message
    assert not (bianque_home / "observability.db").exists()  # nothing ingested
    result = runner.invoke(app, ["bundle", "validate", str(tmp_path / "set"), "--max-bundles", "0"])
    assert result.exit_code == 0 and "2 of 2 bundle(s) valid" in result.stdout


def test_validate_prints_errors_and_exits_1(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "good")
    bad = tmp_path / "bad"
    shutil.copytree(FIXTURE, bad)
    (bad / "metrics.csv").write_text("timestamp,metric,service,value\n1,m,a,abc\n")
    result = runner.invoke(app, ["bundle", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}/metrics.csv:2: value: not a number ('abc')" in result.stderr
    assert "1 of 2 bundle(s) valid" in result.stderr


def test_messages_name_a_file_by_the_bundles_path_as_given(tmp_path, monkeypatch):
    """`cd /tmp; bianque bundle validate review-walk/bad/badnum` named `badnum/metrics.csv:2`, no file to open from
    there: the path is named as given, relative or absolute, by validate, investigate --bundle and eval alike."""
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)  # eval's: not the point
    bad = tmp_path / "review-walk" / "bad" / "badnum"
    shutil.copytree(FIXTURE, bad)
    (bad / "metrics.csv").write_text("timestamp,metric,service,value\n1,m,a,abc\n")
    monkeypatch.chdir(tmp_path)
    for given in ("review-walk/bad/badnum", str(bad)):
        for command in (["bundle", "validate"], ["rca", "--bundle"], ["eval", "--jobs", "1", "--cases"]):
            result = runner.invoke(app, [*command, given])
            assert result.exit_code != 0
            assert f"{given}/metrics.csv:2: value: not a number ('abc')" in result.stdout + result.stderr, command


def test_validate_and_show_print_warnings_and_pass(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(FIXTURE, case)
    (case / "topology.yaml").write_text("services:\n  gateway: {calls: [ranking]}\n")
    warning = (f"{case}/topology.yaml:2: services.gateway.calls: unknown key ignored; only depends_on gives edges, "
               "so gateway has no dependencies")
    result = runner.invoke(app, ["bundle", "validate", str(case)])
    assert result.exit_code == 0, result.output
    assert f"warning: {warning}" in " ".join(result.stderr.split())
    assert "1 of 1 bundle(s) valid, 1 with warnings" in result.stdout
    shown = runner.invoke(app, ["bundle", "show", str(case), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["warnings"] == [warning]
    assert f"warning: {warning}" in " ".join(shown.stderr.split())


def test_validate_json_gives_each_bundles_errors_and_warnings_with_file_line_and_field(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "good")
    (tmp_path / "good" / "topology.yaml").write_text("services:\n  gateway: {calls: [ranking]}\n")
    shutil.copytree(FIXTURE, tmp_path / "bad")
    (tmp_path / "bad" / "metrics.csv").write_text("timestamp,metric,service,value\n1,m,a,abc\n")
    result = runner.invoke(app, ["bundle", "validate", str(tmp_path), "--json"])
    assert result.exit_code == 1
    bad, good = json.loads(result.stdout)
    assert bad["path"].endswith("bad") and not bad["valid"] and bad["warnings"] == []
    assert bad["errors"] == [{"file": f"{tmp_path}/bad/metrics.csv", "line": 2, "field": "value",
                              "message": "not a number ('abc')"}]
    assert good["valid"] and good["errors"] == []
    [warning] = good["warnings"]
    assert (warning["file"], warning["line"], warning["field"]) == (f"{tmp_path}/good/topology.yaml", 2,
                                                                    "services.gateway.calls")


def test_validate_nothing_found(tmp_path):
    result = runner.invoke(app, ["bundle", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "no case bundles" in result.stderr


def test_show_summary():
    result = runner.invoke(app, ["bundle", "show", str(FIXTURE), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["series"] == 4 and summary["metrics"] == 2 and summary["samples"] == 80
    assert summary["services"] == ["cache", "feature-store", "gateway", "ranking"]
    assert summary["log_lines"] == 4 and summary["log_levels"] == ["ERROR=2", "INFO=1", "WARN=1"]
    assert summary["changes"][0].startswith("cfg-77 (config feature-store")
    assert summary["metric_window"] == "2026-03-02T10:00:00Z .. 2026-03-02T10:19:00Z"
    assert summary["sampling"] == "every 60s"
    table = runner.invoke(app, ["bundle", "show", str(FIXTURE)])
    assert table.exit_code == 0 and "RankingP99LatencyHigh" in table.stdout


def test_show_written_to_a_pipe_keeps_each_field_on_one_line():
    """Out of a terminal the table was folded to 80 columns, the event and the changes broken across lines."""
    result = runner.invoke(app, ["bundle", "show", str(FIXTURE)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    [changes] = [line for line in result.stdout.splitlines() if "cfg-77" in line]
    assert "cfg-77 (config feature-store at 2026-03-02T10:05:00Z), deploy-8812 (deploy ranking at" in changes


def test_show_says_when_samples_are_read_as_step_means(tmp_path):
    fine = tmp_path / "fine"
    shutil.copytree(FIXTURE, fine)
    series = [Series(s.metric, s.labels, np.repeat(s.timestamps, 4) + np.tile([-45.0, -30.0, -15.0, 0.0], len(s)),
                     np.repeat(s.values, 4)) for s in load_bundle(FIXTURE).series]
    write_metrics_csv(fine / "metrics.csv", series)
    summary = json.loads(runner.invoke(app, ["bundle", "show", str(fine), "--json"]).stdout)
    assert summary["sampling"] == "every 15s (read as means over each Skill's step, 60s by default)"


def test_show_invalid_bundle_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "case").mkdir()
    result = runner.invoke(app, ["bundle", "show", str(tmp_path / "case")])
    assert result.exit_code == 1
    assert f"{tmp_path}/case/event.yaml: missing" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _live_logs_and_changes():
    from agent.sources.base import ChangeRequest, LogRequest
    from agent.sources.sqlstore import SqlChangeSource, SqlLogSource

    services = ("cache", "feature-store", "gateway", "ranking")
    logs = SqlLogSource().query(LogRequest(services, 0, 4e9, levels=("INFO", "WARN", "ERROR")))
    changes = SqlChangeSource().query(ChangeRequest(services, 0, 4e9))
    return logs, changes


def test_ingest_fills_the_live_store_the_live_sources_read(bianque_home):
    result = runner.invoke(app, ["bundle", "ingest", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "small-rca: 4 log line(s), 2 change(s)" in result.stdout
    assert (bianque_home / "observability.db").is_file()
    again = runner.invoke(app, ["bundle", "ingest", str(FIXTURE)])
    assert again.exit_code == 0, again.output
    assert "small-rca: already ingested on " in again.stdout and "; --force to append again" in again.stdout
    logs, changes = _live_logs_and_changes()
    assert sorted(c.id for c in changes.data) == ["cfg-77", "deploy-8812"]
    assert len(logs.data) == 4 and {r.level for r in logs.data} == {"INFO", "WARN", "ERROR"}  # not appended twice


def test_ingest_json_says_per_bundle_what_was_stored_or_skipped_and_why(tmp_path, bianque_home):
    first = runner.invoke(app, ["bundle", "ingest", str(FIXTURE), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == [{"path": str(FIXTURE), "logs": 4, "changes": 2, "skipped": None,
                                         "error": None, "warnings": []}]
    line = '{"ts": 1772445960, "service": "ranking", "type": "deploy", "id": "d-9", "commit": "abc123"}'
    changed = _with_change_line(tmp_path, "changed", line)
    bad = _with_change_line(tmp_path, "bad", '{"id": "x", "ts": "not a time"}')
    result = runner.invoke(app, ["bundle", "ingest", str(FIXTURE), str(changed), str(bad), "--json"])
    assert result.exit_code == 1
    by_name = {Path(b["path"]).name: b for b in json.loads(result.stdout)}
    repeat, stored, failed = by_name["small-rca"], by_name["changed"], by_name["bad"]
    assert (repeat["logs"], repeat["changes"], repeat["error"]) == (0, 0, None)
    assert repeat["skipped"].startswith("already ingested on ") and str(FIXTURE.resolve()) in repeat["skipped"]
    assert (stored["logs"], stored["changes"], stored["skipped"]) == (4, 3, None)
    [warning] = stored["warnings"]
    assert warning.startswith(f"{changed}/changes.jsonl:3: commit: unknown key ignored")
    assert f"warning: {warning}" in result.stderr.splitlines()
    assert f"{bad}/changes.jsonl:3: ts" in failed["error"] and failed["skipped"] is None
    forced = runner.invoke(app, ["bundle", "ingest", str(FIXTURE), "--force", "--json"])
    assert [(b["logs"], b["skipped"]) for b in json.loads(forced.stdout)] == [(4, None)]
    assert len(_live_logs_and_changes()[0].data) == 12


def _with_change_line(tmp_path, name: str, line: str):
    """A copy of the fixture bundle, called ``name``, with one more line in its changes.jsonl."""
    case = tmp_path / name
    shutil.copytree(FIXTURE, case)
    with (case / "changes.jsonl").open("a") as f:
        f.write(line + "\n")
    return case


def test_ingest_of_a_bad_bundle_names_the_line_and_stores_nothing(tmp_path):
    bad = _with_change_line(tmp_path, "bad", '{"id": "x", "ts": "not a time"}')
    result = runner.invoke(app, ["bundle", "ingest", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}/changes.jsonl:3: ts" in result.stderr and "1 of 1 bundle(s) not ingested" in result.stderr
    logs, changes = _live_logs_and_changes()
    assert logs.data == [] and changes.data == []


def test_ingest_warns_of_the_change_keys_it_ignores_as_validate_does(tmp_path, bianque_home):
    line = '{"ts": 1772445960, "service": "ranking", "type": "deploy", "id": "d-9", "commit": "abc123"}'
    case = _with_change_line(tmp_path, "case", line)
    result = runner.invoke(app, ["bundle", "ingest", str(case)])
    assert result.exit_code == 0, result.output
    assert "case: 4 log line(s), 3 change(s)" in result.stdout
    validated = runner.invoke(app, ["bundle", "validate", str(case)])
    warning = next(line for line in validated.stderr.splitlines() if line.startswith("warning:"))
    assert warning.startswith(f"warning: {case}/changes.jsonl:3: commit: unknown key ignored")
    assert warning in result.stderr.splitlines()


def test_ingest_of_a_bad_bundle_still_prints_its_warnings(tmp_path):
    bad = _with_change_line(tmp_path, "bad", '{"id": "x", "ts": "not a time", "sha": "abc"}')
    result = runner.invoke(app, ["bundle", "ingest", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}/changes.jsonl:3: ts" in result.stderr
    assert f"warning: {bad}/changes.jsonl:3: sha: unknown key ignored" in result.stderr


def test_catalog_of_bundle_as_json():
    result = runner.invoke(app, ["catalog", "--bundle", str(FIXTURE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["name"] for m in data["metrics"]] == ["request_latency_p99_seconds", "requests_per_second"]
    assert data["change_services"] == ["feature-store", "ranking"]


def test_catalog_table():
    result = runner.invoke(app, ["catalog", "--bundle", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "requests_per_second" in result.stdout and "log services: feature-store" in result.stdout


def test_catalog_table_written_to_a_file_keeps_one_line_per_metric_and_no_empty_column(tmp_path):
    """Out of a terminal the table was folded to 80 columns ("unkno / wn", "cart / serv / ice"), its empty "help"
    column kept."""
    result = runner.invoke(app, ["catalog", "--bundle", str(FIXTURE)])
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 2 and "p99 request latency in seconds" in rows[0]
    import numpy as np

    from agent.bundles.writer import write_bundle
    from agent.events import Event, Pattern
    from agent.series import Series

    times = np.arange(1772445600.0 - 600, 1772445600.0, 60.0)
    bare = write_bundle(tmp_path / "bare", Event(pattern=Pattern.RCA, time=1772445600.0, service="cart"),
                        [Series("cpu_usage_millicores", {"service": name}, times, np.ones(times.size))
                         for name in ("cartservice", "checkoutservice", "currencyservice", "emailservice")])
    out = runner.invoke(app, ["catalog", "--bundle", str(bare)]).stdout
    header = next(line for line in out.splitlines() if line.startswith("┃"))
    assert "bad when" in header and "help" not in header  # no metric has help text
    [row] = [line for line in out.splitlines() if line.startswith("│")]
    assert "cartservice, checkoutservice, currencyservice, +1" in row


def test_catalog_says_a_utilisation_or_a_queue_is_bad_when_it_rises(tmp_path):
    """Utilisation, saturation and queue lengths had been judged 'moves either way' by the generic Skills'
    catch-all: a pool going idle was as bad as one running full."""
    from agent.bundles.writer import write_bundle
    from agent.events import Event, Pattern

    times = np.arange(1772445600.0 - 600, 1772445600.0, 60.0)
    names = ("worker_pool_utilization", "jobs_backlog", "tasks_pending", "queue_messages_published_total")
    path = write_bundle(tmp_path / "use", Event(pattern=Pattern.RCA, time=1772445600.0, service="cart"),
                        [Series(name, {"service": "cart"}, times, np.ones(times.size)) for name in names])
    out = runner.invoke(app, ["catalog", "--bundle", str(path)], terminal_width=200).stdout
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert all("rises" in rows[name] for name in names[:3]), out
    assert "moves either way" in rows["queue_messages_published_total"], out


def test_catalog_prints_service_names_of_the_data_as_written(tmp_path):
    """A bundle's service names are data: ``gw[/]x`` ended the table with a MarkupError, ``[link=…]`` hid a link."""
    from agent.bundles.writer import write_bundle
    from agent.events import Event, Pattern

    times = np.arange(1772445600.0 - 600, 1772445600.0, 60.0)
    names = ("gw[/]x", "[link=http://evil.example]pay[/link]")
    odd = write_bundle(tmp_path / "odd", Event(pattern=Pattern.RCA, time=1772445600.0, service="cart"),
                       [Series("cpu_usage_millicores", {"service": n}, times, np.ones(times.size)) for n in names])
    result = runner.invoke(app, ["catalog", "--bundle", str(odd)])
    assert result.exit_code == 0, result.output
    assert all(name in result.stdout for name in names)


def test_catalog_needs_a_source():
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 2
    assert "give --bundle DIR or --prometheus URL" in result.stderr
    both = runner.invoke(app, ["catalog", "--bundle", str(FIXTURE), "--prometheus", "http://127.0.0.1:1"])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_catalog_unreachable_prometheus_is_a_clear_error(caplog):
    with caplog.at_level("WARNING"):  # a warning logged would be printed too (Python's last-resort handler)
        result = runner.invoke(app, ["catalog", "--prometheus", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "error: prometheus: cannot list metrics:" in result.stderr
    assert "127.0.0.1:1" in result.stderr
    assert caplog.records == []  # said once, not the source's own line first


@pytest.mark.parametrize("command", [["bundle", "validate"], ["bundle", "show"]])
def test_a_bundle_path_that_does_not_exist_is_a_usage_error(tmp_path, command):
    """Exit 2 (bad input), as `skills validate` and every --bundle say it, not 1 (a bundle failed its check)."""
    result = runner.invoke(app, [*command, str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.stderr.replace("│", " ").split())
