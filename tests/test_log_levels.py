"""Log levels under the names other loggers give them are read as the five levels the detectors weigh."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.bundles.jsonl_files import read_logs
from agent.detectors.log_templates import normal_level
from agent.series import LOG_LEVELS, canonical_level
from agent.skills.schema import LogQuery


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
