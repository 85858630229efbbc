"""Log levels under the names other loggers give them are read as the five levels the detectors weigh."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.bundles.jsonl_files import read_logs
from agent.detectors.log_templates import normal_level
from agent.series import LOG_LEVELS, LogRecord, canonical_level, http_status_in_text, level_in_text, line_level
from agent.skills.schema import LogQuery
from agent.sources.base import LogRequest
from agent.sources.sqlstore import ObservabilityStore, SqlLogSource


@pytest.mark.parametrize(
    ("given", "level"),
    [
        ("WARN", "WARN"), ("warning", "WARN"), (" Warning ", "WARN"), ("trace", "DEBUG"), ("FINE", "DEBUG"),
        ("notice", "INFO"), ("Information", "INFO"), ("err", "ERROR"), ("SEVERE", "ERROR"),
        ("critical", "FATAL"), ("emerg", "FATAL"), ("panic", "FATAL"), ("fatal", "FATAL"),
        ("I", "INFO"), ("w", "WARN"), ("E", "ERROR"), ("F", "FATAL"), ("V", "DEBUG"), ("D", "DEBUG"),
        ("dpanic", "ERROR"),
    ],
)
def test_synonyms_name_the_level(given, level):
    assert canonical_level(given) == level


@pytest.mark.parametrize("given", ["LOUD", "8", "45", "70", "-1", "3.5", "warnings", "X", "II"])
def test_unknown_names_and_numbers_name_no_level(given):
    assert canonical_level(given) is None


@pytest.mark.parametrize(
    ("given", "level"),
    [  # bunyan/pino tens, then syslog severities 0 (emerg) to 7 (debug)
        ("10", "DEBUG"), ("20", "DEBUG"), ("30", "INFO"), ("40", "WARN"), ("50", "ERROR"), ("60", "FATAL"),
        ("50.0", "ERROR"), ("0", "FATAL"), ("1", "FATAL"), ("2", "FATAL"), ("3", "ERROR"), (" 4 ", "WARN"),
        ("5", "INFO"), ("6", "INFO"), ("7", "DEBUG"),
    ],
)
def test_syslog_and_pino_numbers_name_the_level(given, level):
    assert canonical_level(given) == level


@pytest.mark.parametrize(
    ("levels", "read_as"),
    [
        ((50, "30", 4), ["ERROR", "INFO", "WARN"]),  # pino's numbers, as numbers or as text; syslog's 4
        (("warning", "CRITICAL", "trace"), ["WARN", "FATAL", "DEBUG"]),  # other loggers' names
    ],
)
def test_bundle_logs_read_other_loggers_levels(tmp_path, levels, read_as):
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps({"ts": ts, "service": "a", "level": level, "message": "line"}) + "\n"
                            for ts, level in enumerate(levels, start=1)), encoding="utf-8")
    records, errors = read_logs(path, "case/logs.jsonl")
    assert errors == []
    assert [r.level for r in records] == read_as


def test_every_level_is_its_own_name():
    assert [canonical_level(level.lower()) for level in LOG_LEVELS] == list(LOG_LEVELS)


def test_template_miner_upper_cases_an_unknown_level():
    assert normal_level("warning") == "WARN"
    assert normal_level("audit") == "AUDIT"
    assert normal_level("") == "INFO"


def test_skill_log_query_reads_level_synonyms():
    assert LogQuery(id="errors", levels=["warning", "Error", "critical"]).levels == ["WARN", "ERROR", "FATAL"]
    with pytest.raises(ValidationError, match="levels.0"):
        LogQuery(id="errors", levels=["loud"])


def test_a_line_with_no_level_is_read_as_info_and_its_text_still_counts(tmp_path):
    """Plain stdout lines, or a shipper that left the level out: the line is kept (INFO), not the bundle refused;
    an unknown level name is still refused with its line and field."""
    path = tmp_path / "logs.jsonl"
    path.write_text(
        '{"ts": 1, "service": "a", "level": "", "message": "started"}\n'
        '{"ts": 2, "service": "a", "level": null, "message": "java.lang.IllegalStateException: boom"}\n'
        '{"ts": 3, "service": "a", "message": "no level at all"}\n',
        encoding="utf-8",
    )
    records, errors = read_logs(path, "case/logs.jsonl")
    assert errors == [] and [r.level for r in records] == ["INFO"] * 3
    path.write_text('{"ts": 1, "service": "a", "level": "LOUD", "message": "m"}\n', encoding="utf-8")
    _, errors = read_logs(path, "case/logs.jsonl")
    assert [(e.line, e.field) for e in errors] == [(1, "level")]


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ("2023-01-29 10:00:00.123 ERROR 1 --- [main] c.e.Foo : boom", "ERROR"),  # Spring Boot
        ("16:48:42.414 WARN  r.c.RouteController#47 slow", "WARN"),  # logback pattern
        ('{"level":"error","msg":"payment declined"}', "ERROR"),  # a JSON logger's line kept as text
        ("ts=2023-01-29T10:00:00Z level=warning msg=retry", "WARN"),  # logfmt
        ('"severity": "CRITICAL", "message": "disk full"', "FATAL"),
        ("E1205 10:00:00.123456   12 server.go:88] handler failed", "ERROR"),  # glog/klog
        ("2023/01/29 10:00:00 [error] 12#0: *1 upstream timed out", "ERROR"),  # nginx
        ("[Debug] cache warm", "DEBUG"),
        ('{"level":50,"msg":"payment declined"}', "ERROR"),  # pino's number
    ],
)
def test_a_lines_text_names_its_level(message, level):
    assert level_in_text(message) == level


@pytest.mark.parametrize(
    "message",
    [
        "no level here, just an error word in lower case",
        "GET /ERROR_PAGE 200",  # part of a longer token
        "x" * 120 + " ERROR far from the start",  # beyond a header's reach
        "level=loud something",  # a key naming no level
        "tank level: 3 of 5",  # a number after a key in prose: no syslog severity
        '{"tank level": 3}',  # a key that only ends in "level"
        "retry level=3 reached",  # a number in logfmt: pino and syslog numbers come as JSON
    ],
)
def test_text_naming_no_level_gives_none(message):
    assert level_in_text(message) is None


def test_a_given_level_wins_over_the_text_and_a_blank_one_reads_the_text():
    assert line_level("INFO", "2023-01-29 10:00:00 ERROR boom") == "INFO"
    assert line_level("", "2023-01-29 10:00:00 ERROR boom") == "ERROR"
    assert line_level("  ", "started") == "INFO"
    assert line_level("LOUD", "ERROR boom") is None


def test_bundle_and_store_lines_without_a_level_take_the_one_their_text_names(tmp_path):
    """A shipper that left the level field out (plain container stdout): the line's own header still says ERROR,
    read the same by the bundle reader and the observability store."""
    path = tmp_path / "logs.jsonl"
    path.write_text(
        '{"ts": 1, "service": "a", "message": "2023-01-29 10:00:00.123 ERROR 1 --- [main] boom"}\n'
        '{"ts": 2, "service": "a", "level": null, "message": "level=warn msg=retry"}\n'
        '{"ts": 3, "service": "a", "level": "DEBUG", "message": "ERROR counter reset"}\n',
        encoding="utf-8",
    )
    records, errors = read_logs(path, "case/logs.jsonl")
    assert errors == [] and [r.level for r in records] == ["ERROR", "WARN", "DEBUG"]
    url = f"sqlite:///{tmp_path / 'obs.db'}"
    ObservabilityStore(url).ingest_logs([LogRecord(1.0, "a", "", "E1205 10:00:00.1 1 x.go:1] failed")])
    stored = SqlLogSource(url).query(LogRequest(("a",), 0.0, 10.0, levels=("ERROR",)))
    assert [r.level for r in stored.data] == ["ERROR"]


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ('10.0.0.1 - - [29/Jan/2023:10:00:00 +0000] "GET /cart HTTP/1.1" 503 12 "-" "curl/8"', 503),  # combined
        ('[2023-01-29T10:00:00.000Z] "POST /pay HTTP/2" 500 UF 0 91 3 - "-" "grpc-go"', 500),  # envoy / istio
        ("GET /v1/suggest status=200 latency_ms=36", 200),
        ('{"http.resp.status":502,"message":"request complete"}', 502),  # Online Boutique's frontend
        ('{"response_code": 504, "path": "/cart"}', 504),  # envoy's JSON access log
        ("statusCode=500 path=/orders", 500),
        ("HTTP status: 404 for /favicon.ico", 404),
    ],
)
def test_a_lines_http_status_is_read_from_an_access_log_or_a_status_key(message, status):
    assert http_status_in_text(message) == status


@pytest.mark.parametrize(
    "message",
    [
        "Response(status=1, msg=Success, data=null)",  # an application's own status, not HTTP's
        "code=503 from upstream",  # a bare code: as often gRPC's or the application's
        "error_code=500",
        "took 500 ms",
        "status=500.5",
        "exit status 503x",
    ],
)
def test_numbers_that_are_no_http_status_are_not_read_as_one(message):
    assert http_status_in_text(message) is None


def test_the_store_keeps_a_failed_access_line_as_an_error_line(tmp_path):
    """What an ERROR query of the observability store finds: the 503 access line shipped at INFO, not the 200."""
    url = f"sqlite:///{tmp_path / 'obs.db'}"
    ObservabilityStore(url).ingest_logs([LogRecord(1.0, "a", "INFO", '"GET /cart HTTP/1.1" 200 512'),
                                         LogRecord(2.0, "a", "INFO", '"GET /cart HTTP/1.1" 503 0')])
    stored = SqlLogSource(url).query(LogRequest(("a",), 0.0, 10.0, levels=("ERROR",)))
    assert [r.message for r in stored.data] == ['"GET /cart HTTP/1.1" 503 0']


def test_a_routine_line_reporting_a_server_error_is_an_error_line():
    """Access logs are shipped at INFO (or with no level) whatever became of the request: a 5xx says it failed."""
    failed = '10.0.0.1 - - "GET /cart HTTP/1.1" 503 0'
    assert line_level("INFO", failed) == "ERROR"
    assert line_level("", failed) == "ERROR"
    assert line_level("DEBUG", "status=500 path=/x") == "ERROR"
    assert line_level("WARN", failed) == "WARN"  # a level the logger chose above routine is kept
    assert line_level("INFO", '"GET /cart HTTP/1.1" 404 0') == "INFO"  # a client's error is the client's
    assert line_level("INFO", '"GET /cart HTTP/1.1" 200 512') == "INFO"
