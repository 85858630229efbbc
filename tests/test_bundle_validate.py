"""Validation: every problem of a bad bundle, with exact file, line and field."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agent.bundles.errors import InvalidBundleError
from agent.bundles.label import GroundTruth, load_label
from agent.bundles.reader import load_bundle
from agent.bundles.validate import TooManyBundlesError, bundles_under, find_bundles, validate_bundle

pytestmark = pytest.mark.usefixtures("in_tmp_path")

FIXTURE = Path(__file__).parent / "fixtures" / "bundles" / "small-rca"
GOOD_EVENT = "pattern: rca\ntime: 2026-03-02T10:15:00Z\n"


def make_case(root: Path, files: dict[str, str], name: str = "my-case") -> Path:
    """A bundle ``name`` in ``root`` holding ``files``, by its path relative to the working directory (the test's
    tmp_path): what its messages name."""
    case = root / name
    case.mkdir()
    files = {"event.yaml": GOOD_EVENT, **files}
    for file, text in files.items():
        if text is not None:
            (case / file).write_text(text)
    return Path(os.path.relpath(case))


def errors_of(case: Path) -> list[str]:
    return [str(e) for e in validate_bundle(case)]


def test_valid_fixture_has_no_errors():
    assert validate_bundle(FIXTURE) == []


def test_event_errors(tmp_path):
    event = "time: 2026-03-02T10:15:00Z\nservice: a\npattern: rcaa\nalert:\n  startsAt: yesterday\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:3: pattern: must be one of rca, release_interception, inspection",
        "my-case/event.yaml:5: alert.startsAt: not a Unix or RFC 3339 timestamp: 'yesterday'",
    ]


def test_event_time_in_milliseconds_is_read_and_one_after_2500_refused(tmp_path):
    event = "time: 1661142543000\nservice: a\npattern: rca\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event}, "ms")) == []
    assert load_bundle(tmp_path / "ms").event.time == 1661142543.0
    event = "time: 99999999999999\nservice: a\npattern: rca\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event}, "far")) == [
        "far/event.yaml:1: time: 99999999999999 is no time: read as Unix milliseconds it is after the year 2500; "
        "write seconds (fractions allowed), milli-, micro- or nanoseconds, or RFC 3339 text",
    ]


def test_metrics_logs_and_changes_in_finer_epoch_units_are_read_as_seconds(tmp_path):
    case = make_case(tmp_path, {
        "metrics.csv": "timestamp,metric,service,value\n1661142543000,m,a,1\n1661142603000000,m,a,2\n",
        "logs.jsonl": '{"ts": 1661142543500, "service": "a", "level": "INFO", "message": "ms"}\n'
                      '{"ts": 1.6611425435e18, "service": "a", "level": "INFO", "message": "ns"}\n',
        "changes.jsonl": '{"ts": "1661142543000000", "service": "a", "type": "deploy", "id": "d1"}\n',
    })
    assert errors_of(case) == []
    bundle = load_bundle(case)
    assert bundle.series[0].timestamps.tolist() == [1661142543.0, 1661142603.0]
    assert [r.ts for r in bundle.logs] == [1661142543.5, 1661142543.5]
    assert [c.ts for c in bundle.changes] == [1661142543.0]


def test_event_missing_fields_and_bad_duration(tmp_path):
    event = "service: a\nscope:\n  services: [a]\n  window: forever\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml: pattern: required",
        "my-case/event.yaml: time: required",
        "my-case/event.yaml:4: scope.window: not a duration (use e.g. 30s, 15m, 2h, 1d, 1h30m, 90 minutes, ISO 8601 "
        "PT2H or 02:00:00): 'forever'",
    ]


@pytest.mark.parametrize(("window", "shown"), [("0", "0"), ("0s", "'0s'"), ("PT0S", "'PT0S'")])
def test_an_inspection_window_of_nothing_is_refused_naming_the_file_line_and_field(tmp_path, window, shown):
    """``scope.window: 0`` was read as unset: the Skill's look-back, silently."""
    event = f"pattern: inspection\ntime: 2026-03-02T10:00:00Z\nscope:\n  services: [a]\n  window: {window}\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        f"my-case/event.yaml:5: scope.window: must be longer than 0, e.g. 2h (got {shown})"]


@pytest.mark.parametrize(("change", "error"), [
    ("", "my-case/event.yaml: change: required for a release_interception event"),
    ("change:\n", "my-case/event.yaml:3: change: required for a release_interception event"),
    ("change: {version: v2}\n", "my-case/event.yaml:3: change: names no change: give its service"),
    ("change:\n  version: v2\n  servce: ranking\n",
     "my-case/event.yaml:5: change: names no change: give its service (and its id, when the change store logs it); "
     "'servce' is no field of a change: did you mean 'service'?"),
])
def test_a_release_event_naming_no_change_makes_the_bundle_invalid(tmp_path, change, error):
    """The check intercept and POST /investigate make: eval and validate judged whatever the service did."""
    case = make_case(tmp_path, {"event.yaml": f"pattern: release_interception\ntime: 2026-03-02T10:00:00Z\n{change}"})
    (found,) = errors_of(case)
    assert found.startswith(error)
    with pytest.raises(InvalidBundleError, match="change: "):
        load_bundle(case)


def test_event_field_errors_show_a_yaml_value_as_written_not_as_python_shows_it(tmp_path):
    """``ts: true`` was shown as Python's ``True``."""
    event = ("pattern: inspection\ntime: null\nchange: {id: c-1, ts: true}\n"
             "scope:\n  services: [a]\n  window: false\n")
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:2: time: not a timestamp: null",
        "my-case/event.yaml:3: change.ts: not a timestamp: true",
        "my-case/event.yaml:6: scope.window: not a duration (use e.g. 30s, 15m, 2h, 1d, 1h30m, 90 minutes, ISO 8601 "
        "PT2H or 02:00:00): false",
    ]


def test_event_missing_or_not_yaml(tmp_path):
    missing = make_case(tmp_path, {"event.yaml": None}, "a")
    assert errors_of(missing) == ["a/event.yaml: missing (every case bundle needs an event.yaml)"]
    broken = make_case(tmp_path, {"event.yaml": "pattern: rca\ntime: [1, 2\n"}, "b")
    (err,) = errors_of(broken)
    assert err.startswith("b/event.yaml:3: invalid YAML:")
    listed = make_case(tmp_path, {"event.yaml": "- rca\n"}, "c")
    assert errors_of(listed) == ["c/event.yaml: must be a mapping with at least pattern and time"]


def test_metrics_errors(tmp_path):
    metrics = (
        "timestamp,metric,service,value,instance\n"
        "1,m,a,1,i\n"
        "2026-03-02T10:15:00Z,m,a,2,i\n"
        "3,m,a,abc,i\n"
        "yesterday,m,a,1,i\n"
        "4,,a,1,i\n"
        "5,m,a\n"
        "6,m,a,,i\n"  # a missing sample: skipped (test_missing_values_are_no_sample)
        "1661140279000,m,a,1,i\n"  # epoch milliseconds: read
        "99999999999,m,a,1,i\n"
    )
    assert errors_of(make_case(tmp_path, {"metrics.csv": metrics})) == [
        "my-case/metrics.csv:4: value: not a number ('abc')",
        "my-case/metrics.csv:5: timestamp: not a Unix or RFC 3339 timestamp ('yesterday')",
        "my-case/metrics.csv:6: metric: empty (every row needs a metric name)",
        "my-case/metrics.csv:7: row has 3 cells, the header has 5",
        "my-case/metrics.csv:10: timestamp: 99999999999 is no time: read as Unix seconds it is after the year 2500; "
        "write seconds (fractions allowed), milli-, micro- or nanoseconds, or RFC 3339 text",
    ]


def test_missing_values_are_no_sample_not_an_error(tmp_path):
    """What exporters write for a missing sample (pandas an empty cell, others NaN, null, None, NA) is skipped,
    as is an infinity; the other rows of the series are read."""
    rows = ["1,m,a,1.5", "2,m,a,", "3,m,a,NaN", "4,m,a,null", "5,m,a, None ", "6,m,a,#N/A", "7,m,a,n/a", "8,m,a,inf",
            "9,m,a,-Infinity", "10,m,a,2.5"]
    case = make_case(tmp_path, {"metrics.csv": "timestamp,metric,service,value\n" + "\n".join(rows) + "\n"})
    assert errors_of(case) == []
    (series,) = load_bundle(case).series
    assert series.timestamps.tolist() == [1.0, 10.0] and series.values.tolist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("timestamp,metric,value", "header: missing column(s) service (need timestamp,metric,service,value)"),
        ("ts,name,service,value", "header: missing column(s) timestamp, metric (need "),
        ("timestamp,metric,service,value,pod,pod", "header: duplicated column(s) pod"),
    ],
)
def test_metrics_header_errors(tmp_path, header, error):
    (only,) = errors_of(make_case(tmp_path, {"metrics.csv": header + "\n1,m,a,1\n"}))
    assert only.startswith(f"my-case/metrics.csv:1: {error}")


@pytest.mark.parametrize("text", ["", "\n  \n", " \t"])
def test_an_empty_or_blank_metrics_file_or_topology_is_none(tmp_path, text):
    case = make_case(tmp_path, {"metrics.csv": text, "topology.yaml": text})
    assert errors_of(case) == []
    bundle = load_bundle(case)
    assert bundle.series == [] and bundle.topology is None


def test_blank_lines_before_the_metrics_header_are_skipped(tmp_path):
    case = make_case(tmp_path, {"metrics.csv": "\n \ntimestamp,metric,service,value\n1,m,a,1\n"})
    assert errors_of(case) == [] and load_bundle(case).series[0].values.tolist() == [1.0]


def test_errors_per_file_are_capped(tmp_path):
    rows = "".join(f"{i},m,a,x\n" for i in range(80))
    errors = errors_of(make_case(tmp_path, {"metrics.csv": "timestamp,metric,service,value\n" + rows}))
    assert len(errors) == 51
    assert errors[-1] == "my-case/metrics.csv: ... and 30 more errors in this file"


def test_a_log_line_whose_string_is_left_open_is_said_to_be_unterminated(tmp_path):
    """The line's own end had been read inside the string: "Invalid control character", the real cause unsaid."""
    logs = '{"ts": 1, "service": "a", "level": "INFO", "message": "cut off\n{"ts": 2, "service": "a"}\n'
    assert errors_of(make_case(tmp_path, {"logs.jsonl": logs}))[0] == (
        "my-case/logs.jsonl:1: invalid JSON: Unterminated string starting at (column 55)")


def test_a_log_line_nested_too_deeply_is_an_error_of_its_line_not_a_crash(tmp_path):
    """A bundle is data from elsewhere: ``[[[…]]]`` 100,000 deep in a line ended ``bundle validate`` (and every
    investigation of the bundle) with a RecursionError traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    logs = '{"ts": 1, "service": "a", "level": "INFO", "message": "x", "extra": ' + deep + '}\n'
    changes = '{"ts": 1, "service": "a", "id": "c1", "diff": ' + deep + '}\n'
    assert errors_of(make_case(tmp_path, {"logs.jsonl": logs, "changes.jsonl": changes})) == [
        "my-case/logs.jsonl:1: invalid JSON: nested too deeply to read",
        "my-case/changes.jsonl:1: invalid JSON: nested too deeply to read"]


def test_an_event_naming_a_service_longer_than_the_memory_holds_is_refused_at_its_line(tmp_path):
    """``rca --bundle`` stored the event first: on PostgreSQL (events.service holds 200 characters) it ended in a
    DataError traceback quoting the INSERT."""
    long = "s" * 201
    event = f"pattern: inspection\ntime: 2026-03-02T10:19:00Z\nscope:\n  services:\n    - ok\n    - {long}\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:6: scope.services[1]: longer than 200 characters (the memory stores no longer a name)"]
    alert = f"pattern: rca\ntime: 1\nalert:\n  labels:\n    alertname: A\n    service: {long}\n"
    assert errors_of(make_case(tmp_path, {"event.yaml": alert}, name="other")) == [
        "other/event.yaml:6: alert.labels.service: longer than 200 characters (the memory stores no longer a name)"]


def test_an_event_holding_a_nul_character_is_refused_at_its_line(tmp_path):
    """YAML's "\\0" reads as a NUL: on PostgreSQL (the event is stored as JSON) ``rca --bundle`` ended in a
    traceback quoting the statement's parameters."""
    event = ('pattern: rca\ntime: 1\nalert:\n  labels:\n    alertname: A\n  annotations:\n'
             '    summary: "a \\0 b"\n')
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:7: alert.annotations.summary: holds a NUL character (the memory cannot store it)"]


def test_an_event_holding_an_unpaired_surrogate_is_refused_at_its_line(tmp_path):
    """YAML's "\\ud800" reads as an unpaired surrogate, which no database stores and the embedding tokenizer refused
    with a traceback (``rca --bundle``)."""
    event = 'pattern: rca\ntime: 1\nalert:\n  labels:\n    alertname: A\n  annotations:\n    summary: "a \\ud800 b"\n'
    assert errors_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:7: alert.annotations.summary: holds an unpaired surrogate at character 2 (the memory "
        "cannot store it)"]


def test_log_errors(tmp_path):
    logs = (
        '{"ts": 1, "service": "a", "level": "INFO", "message": "ok"}\n'
        '{"ts": 1, "service": "a", "level": "LOUD", "message": "x"}\n'
        "\n"
        "not json\n"
        "[1, 2]\n"
        '{"service": "a", "level": "INFO", "message": "x"}\n'
        '{"ts": "soon", "service": "a", "level": "INFO", "message": "x"}\n'
        '{"ts": 1, "level": "INFO", "message": "x"}\n'
        '{"ts": 1, "service": "a", "level": "info", "message": "x", "instance": {"nested": true}}\n'
        '{"ts": 100000000000000000000, "service": "a", "level": "INFO", "message": "x"}\n'
        '{"ts": NaN, "service": "a", "level": "INFO", "message": "x"}\n'
    )
    assert errors_of(make_case(tmp_path, {"logs.jsonl": logs})) == [
        "my-case/logs.jsonl:2: level: must be one of DEBUG, INFO, WARN, ERROR, FATAL (any case; WARNING, TRACE, "
        "CRITICAL, ERR and other common names are read too, and the numbers of syslog, 0-7, and bunyan/pino, "
        "10-60), got 'LOUD'",
        "my-case/logs.jsonl:4: invalid JSON: Expecting value (column 1)",
        "my-case/logs.jsonl:5: must be a JSON object, found list",
        "my-case/logs.jsonl:6: ts: required",
        "my-case/logs.jsonl:7: ts: not a Unix or RFC 3339 timestamp ('soon')",
        "my-case/logs.jsonl:8: service: required",
        "my-case/logs.jsonl:9: instance: must be a string, found dict",
        "my-case/logs.jsonl:10: ts: 100000000000000000000 is no time: read as Unix nanoseconds it is after the year "
        "2500; write seconds (fractions allowed), milli-, micro- or nanoseconds, or RFC 3339 text",
        "my-case/logs.jsonl:11: ts: not a Unix or RFC 3339 timestamp (nan)",
    ]


def test_change_errors(tmp_path):
    changes = (
        '{"ts": 1, "service": "a", "type": "deploy", "id": 7}\n'
        '{"ts": 1, "service": "a", "type": "deploy"}\n'
        '{"ts": 1, "service": "a", "type": "canary", "id": "x", "canary": "v2"}\n'
        '{"ts": 1, "service": "a", "type": ["deploy"], "id": "x"}\n'
    )
    assert errors_of(make_case(tmp_path, {"changes.jsonl": changes})) == [
        "my-case/changes.jsonl:2: id: required",
        "my-case/changes.jsonl:3: canary: must be an object of label names to values",
        "my-case/changes.jsonl:4: type: must be a string, found list",
    ]


def test_a_canary_selector_value_that_is_not_text_is_refused_naming_it(tmp_path):
    """As in event.yaml: a null selected the label value "None", a list its repr, so the canary matched nothing."""
    changes = ('{"ts": 1, "service": "a", "id": "c0", "canary": {"version": null}}\n'
               '{"ts": 1, "service": "a", "id": "c1", "baseline": {"pod": ["p1", "p2"]}}\n'
               '{"ts": 1, "service": "a", "id": "c2", "canary": {"version": "v2", "replica": 3, "canary": true}}\n')
    case = make_case(tmp_path, {"changes.jsonl": changes})
    assert errors_of(case) == [
        "my-case/changes.jsonl:1: canary.version: must be a string, found null",
        "my-case/changes.jsonl:2: baseline.pod: must be a string, found list",
    ]
    good = make_case(tmp_path, {"changes.jsonl": changes.split("\n")[2] + "\n"}, name="good")
    (change,) = load_bundle(good).changes  # a number and a boolean read as event.yaml reads them
    assert change.canary == {"version": "v2", "replica": "3", "canary": "true"}



def test_event_label_and_selector_values_that_are_numbers_or_booleans_are_read_as_their_yaml_text(tmp_path):
    """A label holds the text ``true`` (a Prometheus series' label, an Alertmanager label): Python's ``True``
    selected no series."""
    event = ("pattern: release_interception\ntime: 2026-03-02T10:15:00Z\n"
             "change: {id: c0, service: a, canary: {canary: true, replica: 3}, baseline: {canary: false}}\n"
             "alert: {labels: {alertname: A, paging: true}, annotations: {ratio: 0.5}}\n")
    case = make_case(tmp_path, {"event.yaml": event})
    assert errors_of(case) == []
    read = load_bundle(case).event
    assert (read.change.canary, read.change.baseline) == ({"canary": "true", "replica": "3"}, {"canary": "false"})
    assert (read.alert.labels["paging"], read.alert.annotations["ratio"]) == ("true", "0.5")

def test_a_diff_given_as_an_object_or_a_list_is_read_as_its_compact_json_text(tmp_path):
    diffs = ['{"replicas": [3, 5], "image": "é:v2"}', '["-a: 1", "+a: 2"]', '"+x"', "7", "null"]
    changes = "".join(f'{{"ts": 1, "service": "a", "id": "c{i}", "diff": {d}}}\n' for i, d in enumerate(diffs))
    event = GOOD_EVENT.replace("rca", "release_interception") + "change: {id: c0, diff: {b: 1, a: [x]}}\n"
    case = make_case(tmp_path, {"changes.jsonl": changes, "event.yaml": event})
    assert errors_of(case) == []
    bundle = load_bundle(case)
    assert [c.diff for c in bundle.changes] == ['{"replicas":[3,5],"image":"é:v2"}', '["-a: 1","+a: 2"]', "+x", "7",
                                                None]
    assert bundle.event.change.diff == '{"b":1,"a":["x"]}'  # key order kept


def test_other_change_fields_of_the_wrong_json_type_are_still_refused(tmp_path):
    changes = ('{"ts": 1, "service": "a", "id": "c0", "diff": true}\n'
               '{"ts": 1, "service": "a", "id": "c1", "author": {"name": "ana"}, "diff": {"a": 1}}\n'
               '{"ts": 1, "service": "a", "id": "c2", "description": ["x"]}\n')
    assert errors_of(make_case(tmp_path, {"changes.jsonl": changes})) == [
        "my-case/changes.jsonl:1: diff: must be a string, found bool",
        "my-case/changes.jsonl:2: author: must be a string, found dict",
        "my-case/changes.jsonl:3: description: must be a string, found list",
    ]


def test_a_change_naming_no_type_is_a_deploy_as_in_event_yaml(tmp_path):
    changes = "".join(f'{{"ts": 1, "service": "a", "id": "c{i}"{typed}}}\n'
                      for i, typed in enumerate(["", ', "type": ""', ', "type": null', ', "type": " "']))
    event = GOOD_EVENT + "change: {id: c0, type: null, service: a}\n"
    case = make_case(tmp_path, {"changes.jsonl": changes, "event.yaml": event})
    assert errors_of(case) == []
    bundle = load_bundle(case)
    assert [c.type for c in bundle.changes] == ["deploy"] * 4 and bundle.event.change.type == "deploy"


def test_a_null_log_message_is_empty_text_and_an_object_its_json(tmp_path):
    logs = "".join(f'{{"ts": 1, "service": "a", "level": "INFO", "message": {m}}}\n'
                   for m in ["null", '{"msg": "é", "n": 1}', '["a", 2]', "true", "5"])
    case = make_case(tmp_path, {"logs.jsonl": logs})
    assert errors_of(case) == []
    assert [r.message for r in load_bundle(case).logs] == ["", '{"msg": "é", "n": 1}', '["a", 2]', "true", "5"]
    missing = make_case(tmp_path, {"logs.jsonl": '{"ts": 1, "service": "a", "level": "INFO"}\n'}, "missing")
    assert errors_of(missing) == ["missing/logs.jsonl:1: message: required"]


def test_topology_errors(tmp_path):
    topology = "services:\n  a:\n    depends_on: b\n  b:\n    depends_on: [c, {x: 1}]\n  c: [a]\n"
    assert errors_of(make_case(tmp_path, {"topology.yaml": topology})) == [
        "my-case/topology.yaml:3: services.a.depends_on: must be a list of service names",
        "my-case/topology.yaml:5: services.b.depends_on.1: not a service name ({'x': 1})",
        "my-case/topology.yaml:6: services.c: must be a mapping like {depends_on: [a, b]}",
    ]
    other = make_case(tmp_path, {"topology.yaml": "gateway: [ranking]\n"}, "other")
    assert errors_of(other) == ["other/topology.yaml: must be a mapping with a 'services' key"]


def test_label_errors_are_reported_by_validate_only(tmp_path):
    case = make_case(tmp_path, {"label.yaml": "root_cause:\n  - {fault: slow_dependency}\ndecision: maybe\n"})
    assert errors_of(case) == [
        "my-case/label.yaml:2: root_cause.0.service: required",
        "my-case/label.yaml:3: decision: must be one of pass, hold, block",
    ]
    with pytest.raises(InvalidBundleError, match="decision: must be one of pass, hold, block"):
        load_label(case)


def test_load_label():
    truth = load_label(FIXTURE)
    assert isinstance(truth, GroundTruth)
    assert truth.primary.service == "feature-store" and truth.primary.fault == "slow_dependency"
    assert truth.noise is False and truth.decision is None and truth.findings == []
    assert load_label(FIXTURE / "label.yaml") == truth


def test_load_label_absent(tmp_path):
    assert load_label(make_case(tmp_path, {})) is None


def test_not_a_directory(tmp_path):
    assert errors_of(Path("nope")) == ["nope: does not exist"]
    (tmp_path / "file").write_text("x")
    assert errors_of(Path("file")) == ["file: not a directory"]
    assert errors_of(tmp_path / "nope") == [f"{tmp_path}/nope: does not exist"]  # absolute, given absolute


def test_find_bundles_walks_directories(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "set" / "one")
    shutil.copytree(FIXTURE, tmp_path / "set" / "deeper" / "two")
    (tmp_path / "set" / "empty").mkdir()
    assert find_bundles([tmp_path / "set"]) == [tmp_path / "set" / "deeper" / "two", tmp_path / "set" / "one"]
    assert find_bundles([tmp_path / "set" / "one"]) == [tmp_path / "set" / "one"]
    assert find_bundles([tmp_path / "missing"]) == [tmp_path / "missing"]


def test_find_bundles_skips_a_bundles_own_folders_hidden_ones_and_code(tmp_path):
    root = tmp_path / "set"
    shutil.copytree(FIXTURE, root / "one")
    for inner in ("one/attachments/copy", ".git/objects/x", ".venv/lib/case", "node_modules/pkg/case",
                  "__pycache__/case", "venv/lib/case"):
        (root / inner).mkdir(parents=True)
        (root / inner / "event.yaml").write_text("pattern: rca\n")
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert find_bundles([root]) == [root / "one"]
    assert find_bundles([root / ".git"]) == [root / ".git" / "objects" / "x"]  # a folder given is searched
    assert find_bundles([root / "venv"]) == [root / "venv" / "lib" / "case"]  # a virtualenv given too
    assert bundles_under(root) == [root / "one"] and bundles_under(root / "missing") == []


def test_find_bundles_follows_a_link_to_a_bundle_once_but_no_link_to_a_folder(tmp_path):
    """A set assembled from links to chosen cases is found; a bundle reached by two paths counts once; a link to
    a folder of bundles is not followed (it could lead back up the tree)."""
    cases, chosen = tmp_path / "cases", tmp_path / "chosen"
    for name in ("a", "b"):
        shutil.copytree(FIXTURE, cases / name)
    chosen.mkdir()
    (chosen / "first").symlink_to(cases / "a")
    (chosen / "again").symlink_to(cases / "a")
    (chosen / "up").symlink_to(tmp_path)
    (chosen / "gone").symlink_to(tmp_path / "missing")
    assert find_bundles([chosen]) == [chosen / "again"]
    assert find_bundles([cases, chosen]) == [cases / "a", cases / "b"]


def test_find_bundles_returns_a_looping_link_given_as_is(tmp_path):
    """A path given that is a symbolic link loop is no directory: returned as is for validation to say why."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert find_bundles([tmp_path / "loop"]) == [tmp_path / "loop"]
    assert errors_of(Path("loop")) == ["loop: does not exist"]


def test_find_bundles_stops_past_its_limit(tmp_path):
    for name in ("a", "b", "c"):
        shutil.copytree(FIXTURE, tmp_path / name)
    counts: list[int] = []
    with pytest.raises(TooManyBundlesError, match="more than 1 case bundles found") as too_many:
        find_bundles([tmp_path], limit=1, on_found=counts.append)
    assert counts == [1, 2] and too_many.value.at == tmp_path / "b"  # stopped at the first one too many
    assert find_bundles([tmp_path, tmp_path / "a"], limit=3) == [tmp_path / name for name in ("a", "b", "c")]
