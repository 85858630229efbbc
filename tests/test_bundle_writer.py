"""The bundle writer: file layout, formats and atomic replacement."""

from __future__ import annotations

import csv
import json
import re

import pytest
from ruamel.yaml import YAML

from agent.bundles.writer import NotABundleError, format_number, rfc3339, write_bundle
from agent.series import ChangeRecord, LogRecord, make_series

EVENT = {"pattern": "rca", "time": 1_700_000_000, "service": "ranking",
         "alert": {"labels": {"alertname": "P99High", "service": "ranking"}, "startsAt": 1_699_999_940}}


def _yaml(path):
    return YAML(typ="safe", pure=True).load(path.read_text())


def test_writes_every_file_in_contract_format(tmp_path):
    series = [
        make_series("latency", {"service": "ranking", "instance": "r-1"}, [(60, 0.2), (0, 0.1)]),
        make_series("rps", {"service": "gateway", "version": "v2"}, [(0, 5.0)]),
    ]
    logs = [LogRecord(30.5, "ranking", "ERROR", "timeout", trace_id="t1", extra={"pod": "p"})]
    changes = [ChangeRecord(10, "ranking", "canary", "d-1", version="v2", canary={"version": "v2"})]
    out = write_bundle(tmp_path / "case", EVENT, series, logs, changes,
                       topology={"gateway": ["ranking"], "ranking": []}, label={"noise": False})

    event = _yaml(out / "event.yaml")
    assert event["time"] == "2023-11-14T22:13:20Z"
    assert event["alert"]["startsAt"] == "2023-11-14T22:12:20Z"
    with (out / "metrics.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp", "metric", "service", "value", "instance", "version"]
    assert rows[1:] == [["0", "latency", "ranking", "0.1", "r-1", ""],
                        ["60", "latency", "ranking", "0.2", "r-1", ""],
                        ["0", "rps", "gateway", "5", "", "v2"]]
    log = json.loads((out / "logs.jsonl").read_text())
    assert log == {"pod": "p", "ts": 30.5, "service": "ranking", "level": "ERROR",
                   "message": "timeout", "trace_id": "t1"}
    change = json.loads((out / "changes.jsonl").read_text())
    assert change["canary"] == {"version": "v2"} and "author" not in change
    assert _yaml(out / "topology.yaml") == {"services": {"gateway": {"depends_on": ["ranking"]},
                                                          "ranking": {"depends_on": []}}}
    assert _yaml(out / "label.yaml") == {"noise": False}


def test_optional_files_absent_when_not_given(tmp_path):
    out = write_bundle(tmp_path / "case", EVENT, [])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["changes.jsonl", "event.yaml", "logs.jsonl", "metrics.csv"]
    assert (out / "metrics.csv").read_text() == "timestamp,metric,service,value\n"


def test_replaces_existing_bundle_and_leaves_no_temp_dirs(tmp_path):
    write_bundle(tmp_path / "case", EVENT, [], topology={"a": []}, label={"noise": True})
    write_bundle(tmp_path / "case", EVENT, [])
    assert [p.name for p in tmp_path.iterdir()] == ["case"]
    assert not (tmp_path / "case" / "label.yaml").exists()


def test_a_directory_that_is_no_bundle_is_never_replaced(tmp_path):
    """``bianque sim --out ~/work`` had removed the whole directory, whatever it held: only an empty directory or a
    bundle (its event.yaml) is replaced; a file or a symbolic link in its place is left alone too."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("keep")
    (tmp_path / "file").write_text("keep")
    (tmp_path / "link").symlink_to(work, target_is_directory=True)
    for target, said in ((work, "is no case bundle (no event.yaml)"), (tmp_path / "file", "is a file"),
                         (tmp_path / "link", "is a symbolic link")):
        with pytest.raises(NotABundleError, match=re.escape(said)) as raised:
            write_bundle(target, EVENT, [])
        assert str(target) in str(raised.value)
    assert (work / "notes.txt").read_text() == "keep" and (work / "sub").is_dir()
    assert (tmp_path / "file").read_text() == "keep" and (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link", "work"]  # no temporary directory left
    (tmp_path / "empty").mkdir()
    assert (write_bundle(tmp_path / "empty", EVENT, []) / "event.yaml").is_file()


def test_invalid_event_leaves_nothing_behind(tmp_path):
    with pytest.raises(ValueError):
        write_bundle(tmp_path / "case", {"pattern": "nope", "time": 0}, [])
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_keeps_old_bundle_and_removes_temp(tmp_path):
    write_bundle(tmp_path / "case", EVENT, [], label={"noise": True})

    def broken():
        yield LogRecord(0, "a", "INFO", "ok")
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError):
        write_bundle(tmp_path / "case", EVENT, [], logs=broken())
    assert [p.name for p in tmp_path.iterdir()] == ["case"]
    assert (tmp_path / "case" / "label.yaml").exists()


def test_number_and_time_formatting():
    assert format_number(3.0) == "3"
    assert format_number(0.1) == "0.1"
    assert format_number(float("nan")) == "nan"
    assert rfc3339(0.5) == "1970-01-01T00:00:00.500000Z"
