"""Loading case bundles: round trip, mixed timestamps, unknown data ignored, real data sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.bundles.errors import InvalidBundleError
from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle, read_bundle
from agent.bundles.validate import find_bundles, validate_bundle
from agent.bundles.writer import write_bundle
from agent.events import Pattern
from agent.series import ChangeRecord, LogRecord, make_series
from tests.shared_data import SHARED_DATA, needs

FIXTURE = Path(__file__).parent / "fixtures" / "bundles" / "small-rca"
NEZHA = SHARED_DATA / "nezha-ob"


def test_round_trip_write_then_load(tmp_path):
    series = [
        make_series("cpu_usage_ratio", {"service": "ranking", "instance": "r-0"}, [(0, 0.5), (60, 0.25)]),
        make_series("cpu_usage_ratio", {"service": "ranking", "instance": "r-1"}, [(0, 0.75)]),
        make_series("requests_per_second", {"service": "gateway", "version": "v2"}, [(0, 12.5)]),
        make_series("up", {}, [(0, 1.0)]),
    ]
    logs = [LogRecord(30.25, "ranking", "ERROR", "timeout", instance="r-0", trace_id="t", extra={"pod": "p"})]
    changes = [ChangeRecord(10, "ranking", "canary", "c-1", "canary v2", version="v2",
                            canary={"version": "v2"}, baseline={"version": "v1"}, author="ana", diff="+x")]
    event = {"pattern": "release_interception", "time": 100.5,
             "change": {"id": "c-1", "type": "canary", "service": "ranking", "ts": 10}}
    topology = {"gateway": ["ranking"]}
    write_bundle(tmp_path / "case", event, series, logs, changes, topology, {"decision": "block"})

    bundle = load_bundle(tmp_path / "case")
    assert bundle.event.pattern is Pattern.RELEASE_INTERCEPTION
    assert bundle.event.time == 100.5 and bundle.event.change.ts == 10
    got = {s.key(): (s.timestamps.tolist(), s.values.tolist()) for s in bundle.series}
    want = {s.key(): (s.timestamps.tolist(), s.values.tolist()) for s in series}
    assert got == want
    assert bundle.logs == logs
    assert bundle.changes == changes
    assert bundle.topology.as_dict() == {"gateway": ["ranking"], "ranking": []}
    assert bundle.path == tmp_path / "case"


def test_fixture_mixes_unix_and_rfc3339_and_groups_series():
    bundle = load_bundle(FIXTURE)
    assert bundle.event.time == 1772446500.0
    assert bundle.event.alert.starts_at == 1772446440.0
    assert len(bundle.series) == 4
    ranking0 = next(s for s in bundle.series if s.labels.get("instance") == "ranking-0")
    assert dict(ranking0.labels) == {"service": "ranking", "instance": "ranking-0"}  # empty cells: absent
    assert ranking0.timestamps.tolist() == [1772445600.0 + 60 * i for i in range(20)]
    assert np.all(np.diff(ranking0.timestamps) > 0)
    assert [r.ts for r in bundle.logs][:2] == [1772446320.0, 1772446380.0]
    assert bundle.logs[1].extra == {"pod": "ranking-0"} and bundle.logs[1].trace_id == "abc123"
    assert bundle.changes[1].ts == 1772443800.0
    assert bundle.services() == ["cache", "feature-store", "gateway", "ranking"]


def test_ground_truth_is_never_read(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(FIXTURE, case)
    (case / "label.yaml").write_text("root_cause: [unparseable: {\n")
    bundle = load_bundle(case)  # a broken label cannot break loading: it is not read
    assert not hasattr(bundle, "label")
    assert any("label.yaml" in str(e) for e in validate_bundle(case))


def test_unknown_files_columns_and_fields_are_ignored():
    assert validate_bundle(FIXTURE) == []  # NOTES.txt, extra_note column, pod field, YAML comment
    bundle = load_bundle(FIXTURE)
    assert all("extra_note" not in s.labels for s in bundle.series)


def test_only_event_is_required(tmp_path):
    (tmp_path / "case").mkdir()
    event = "pattern: inspection\ntime: 0\nscope: {services: [a], window: 1h}\n"
    (tmp_path / "case" / "event.yaml").write_text(event)
    bundle = load_bundle(tmp_path / "case")
    assert bundle.series == [] and bundle.logs == [] and bundle.changes == [] and bundle.topology is None
    assert bundle.event.scope.window == 3600


def test_nan_values_are_dropped(tmp_path):
    write_bundle(tmp_path / "case", {"pattern": "rca", "time": 0}, [])
    (tmp_path / "case" / "metrics.csv").write_text("timestamp,metric,service,value\n0,m,a,1\n60,m,a,NaN\n")
    (series,) = load_bundle(tmp_path / "case").series
    assert series.timestamps.tolist() == [0.0]


def test_invalid_bundle_raises_with_every_error(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "metrics.csv").write_text("timestamp,metric,value\n")
    with pytest.raises(InvalidBundleError) as info:
        load_bundle(case)
    assert [str(e) for e in info.value.errors] == [
        f"{case}/event.yaml: missing (every case bundle needs an event.yaml)",
        f"{case}/metrics.csv:1: header: missing column(s) service (need timestamp,metric,service,value)",
    ]
    assert f"{case}/event.yaml: missing" in str(info.value)


@needs(NEZHA)
def test_all_nezha_bundles_load_and_validate_clean():
    bundles = find_bundles([NEZHA])
    assert len(bundles) == 56
    for path in bundles:
        bundle, errors = read_bundle(path)  # what validate_bundle checks, read once
        assert errors == [], path
        assert load_label(path).primary is not None
        assert bundle.event.pattern is Pattern.RCA
        assert len(bundle.series) > 50
        assert bundle.topology is not None and bundle.topology.services()


def test_a_misspelt_required_field_is_named_with_its_line(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "event.yaml").write_text("service: checkout\npatern: rca\ntiem: 2026-03-02T10:00:00Z\n")
    _, errors = read_bundle(case)
    messages = [str(e) for e in errors]
    assert f"{case}/event.yaml:2: pattern: required (line 2 has 'patern': did you mean 'pattern'?)" in messages
    assert f"{case}/event.yaml:3: time: required (line 3 has 'tiem': did you mean 'time'?)" in messages
    assert len(messages) == 2  # each reported once
