"""Warnings: keys a bundle's readers ignore (``calls:`` for ``depends_on:``) load as before and are reported, with
file, line, field and what ignoring them means."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from agent.bundles.errors import BundleWarning
from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle, read_bundle
from agent.bundles.validate import check_bundle, find_bundles
from agent.config import PROJECT_ROOT, get_settings
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from tests.shared_data import SHARED_DATA, needs

pytestmark = pytest.mark.usefixtures("in_tmp_path")

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"
GOOD_EVENT = "pattern: rca\ntime: 2026-03-02T10:15:00Z\n"
REAL_SETS = [SHARED_DATA / name for name in ("nezha-ob", "nezha-tt-dev", "nab-dev")]


def make_case(root: Path, files: dict[str, str], name: str = "my-case") -> Path:
    """A bundle ``name`` in ``root`` holding ``files``, by its path relative to the working directory (the test's
    tmp_path): what its messages name."""
    case = root / name
    case.mkdir()
    for file, text in {"event.yaml": GOOD_EVENT, **files}.items():
        (case / file).write_text(text)
    return Path(os.path.relpath(case))


def warnings_of(case: Path) -> list[str]:
    errors, warnings = check_bundle(case)
    assert errors == []
    return [str(w) for w in warnings]


def test_a_topology_key_other_than_depends_on_is_a_warning_saying_the_service_has_no_edges(tmp_path):
    topology = ("version: 2\nservices:\n  gateway: {calls: [ranking]}\n"
                "  ranking:\n    depends_on: [cache]\n    owner: search\n")
    case = make_case(tmp_path, {"topology.yaml": topology})
    bundle = load_bundle(case)
    assert bundle.topology.dependencies("gateway") == [] and bundle.topology.dependencies("ranking") == ["cache"]
    assert bundle.warnings == [
        BundleWarning("my-case/topology.yaml", "unknown key ignored; only services is read", 1, "version"),
        BundleWarning("my-case/topology.yaml", "unknown key ignored; only depends_on gives edges, so gateway has no "
                      "dependencies", 3, "services.gateway.calls"),
        BundleWarning("my-case/topology.yaml", "unknown key ignored; only depends_on gives edges", 6,
                      "services.ranking.owner"),
    ]
    assert str(bundle.warnings[1]) == ("my-case/topology.yaml:3: services.gateway.calls: unknown key ignored; only "
                                       "depends_on gives edges, so gateway has no dependencies")


def test_event_keys_no_field_reads_are_warnings_naming_what_was_likely_meant(tmp_path):
    event = ("pattern: inspection\ntime: 2026-03-02T10:15:00Z\nserivce: ranking\nwindow: 2h\n"
             "scope: {services: [ranking], duration: 1h}\nsource: exporter-3\n")
    assert warnings_of(make_case(tmp_path, {"event.yaml": event})) == [
        "my-case/event.yaml:3: serivce: unknown key ignored (did you mean 'service'?)",
        "my-case/event.yaml:4: window: unknown key ignored (did you mean 'scope.window'?)",
        "my-case/event.yaml:6: source: unknown key ignored",
        "my-case/event.yaml:5: scope.duration: unknown key ignored",
    ]
    release = ("pattern: release_interception\ntime: 2026-03-02T10:15:00Z\nstarted: 2026-03-02T10:00:00Z\n"
               "change: {id: c-1, start: 2026-03-02T10:00:00Z}\n")
    assert warnings_of(make_case(tmp_path, {"event.yaml": release}, "release")) == [
        "release/event.yaml:3: started: unknown key ignored (did you mean 'change.started'?)",
        "release/event.yaml:4: change.start: unknown key ignored (did you mean 'started'?)",
    ]


def test_a_change_type_no_skill_trigger_names_is_warned_of_with_what_was_likely_meant(tmp_path):
    """``type: canaryy`` had passed as valid: every Skill whose triggers list change types then silently missed it."""
    release = ("pattern: release_interception\ntime: 2026-03-02T10:15:00Z\n"
               "change: {id: c-1, service: ranking, type: canaryy}\n")
    assert warnings_of(make_case(tmp_path, {"event.yaml": release}, "release")) == [
        "release/event.yaml:3: change.type: unknown change type 'canaryy' (did you mean 'canary'?): a Skill's "
        "triggers name deploy, config, flag, canary, rollback, so those listing change types do not match it"]
    known = "pattern: release_interception\ntime: 2026-03-02T10:15:00Z\nchange: {id: c-1, type: rollback}\n"
    assert warnings_of(make_case(tmp_path, {"event.yaml": known}, "known")) == []


def test_an_alert_keeps_its_tools_extra_keys_without_warning(tmp_path):
    event = GOOD_EVENT + "alert: {labels: {alertname: A}, dashboardURL: 'http://x', values: {B: 1}}\n"
    assert warnings_of(make_case(tmp_path, {"event.yaml": event})) == []


def test_a_misspelt_required_key_is_an_error_only(tmp_path):
    case = make_case(tmp_path, {"event.yaml": "patern: rca\ntime: 2026-03-02T10:15:00Z\n"})
    warnings: list[BundleWarning] = []
    bundle, errors = read_bundle(case, warnings)
    assert bundle is None and [str(e) for e in errors] == [
        "my-case/event.yaml:1: pattern: required (line 1 has 'patern': did you mean 'pattern'?)"]
    assert warnings == []


def test_a_bundle_with_errors_still_reports_its_warnings(tmp_path):
    case = make_case(tmp_path, {"topology.yaml": "services:\n  a: {calls: [b]}\n",
                                "metrics.csv": "timestamp,metric,service,value\n1,m,a,abc\n"})
    errors, warnings = check_bundle(case)
    assert [str(e) for e in errors] == ["my-case/metrics.csv:2: value: not a number ('abc')"]
    assert [w.field for w in warnings] == ["services.a.calls"]


def test_label_keys_evaluation_ignores_are_warnings_saying_what_is_scored(tmp_path):
    label = ("root_causes:\n  - {service: a, fault: slow_dependency}\nroot_cause:\n  - {service: a, kind: x}\n"
             "findings:\n  - {service: a, fault: memory_leak}\n  - {service: b, kind: disk_full, note: y}\n"
             "sim: {pattern: rca, seed: 1}\n")
    case = make_case(tmp_path, {"label.yaml": label})
    assert warnings_of(case) == [
        "my-case/label.yaml:1: root_causes: unknown key ignored (did you mean 'root_cause'?); evaluation reads "
        "only root_cause, noise, decision and findings",
        "my-case/label.yaml:4: root_cause.0.kind: unknown key ignored; a root cause is read from service and fault, "
        "so this cause's fault kind is not scored",
        "my-case/label.yaml:6: findings.0.fault: unknown key ignored; a finding is read from service and kind, so "
        "this finding's kind is anomaly (anything reported counts)",
        "my-case/label.yaml:7: findings.1.note: unknown key ignored; a finding is read from service and kind",
    ]
    found: list[BundleWarning] = []
    assert load_label(case, found).findings[0].kind == "anomaly"
    assert len(found) == 4
    assert load_bundle(case).warnings == []  # the agent never reads the label


def test_a_blank_fault_or_kind_is_warned_as_not_scored_as_a_missing_one_is(tmp_path):
    label = "root_cause:\n  - {service: a, fault: '  ', kind: x}\nfindings:\n  - {service: a, kind: '', fault: y}\n"
    case = make_case(tmp_path, {"label.yaml": label})
    assert warnings_of(case) == [
        "my-case/label.yaml:2: root_cause.0.kind: unknown key ignored; a root cause is read from service and fault, "
        "so this cause's fault kind is not scored",
        "my-case/label.yaml:4: findings.0.fault: unknown key ignored; a finding is read from service and kind, so "
        "this finding's kind is anomaly (anything reported counts)",
    ]


def test_change_keys_no_field_reads_are_warned_once_each_at_their_first_line(tmp_path):
    """``commit`` for ``version`` on every line is one warning, not one a line; the changes still load."""
    rows = [{"ts": 1, "service": "a", "type": "deploy", "id": f"d{i}", "description": "x", "commit": "abc"}
            for i in range(3)]
    rows[1]["owner"] = "me"
    case = make_case(tmp_path, {"changes.jsonl": "".join(json.dumps(row) + "\n" for row in rows)})
    read_from = "a change is read from ts, service, type, id, description, version, author, canary, baseline and diff"
    assert warnings_of(case) == [
        f"my-case/changes.jsonl:1: commit: unknown key ignored (did you mean 'version'?); {read_from} "
        "(3 lines have it, the first here)",
        f"my-case/changes.jsonl:2: owner: unknown key ignored; {read_from} (1 line has it)",
    ]
    bundle = load_bundle(case)
    assert len(bundle.changes) == 3 and len(bundle.warnings) == 2


def test_what_the_format_allows_is_not_warned(tmp_path):
    logs = '{"ts": 1, "service": "a", "level": "INFO", "message": "m", "pod": "p-0", "span": 3}\n'
    metrics = "timestamp,metric,service,value,pod,quantile\n1,m,a,1,p-0,0.99\n"
    event = GOOD_EVENT + "service: a\nquestion: why?\nbusiness: search\n"
    case = make_case(tmp_path, {"logs.jsonl": logs, "metrics.csv": metrics, "event.yaml": event,
                                "topology.yaml": "services:\n  a: {depends_on: [b]}\n  b:\n"})
    assert warnings_of(case) == []


def test_the_projects_own_bundles_read_without_warnings():
    bundles = find_bundles([PROJECT_ROOT / "examples", PROJECT_ROOT / "tests" / "fixtures"])
    assert len(bundles) > 5
    assert {b.name: warnings_of(b) for b in bundles} == {b.name: [] for b in bundles}


@pytest.mark.parametrize("path", [pytest.param(p, marks=needs(p), id=p.name) for p in REAL_SETS])
def test_the_real_sets_read_without_warnings(path):
    bundles = find_bundles([path])
    assert bundles and [w for b in bundles for w in check_bundle(b)[1]] == []


def test_an_investigation_reports_the_bundles_warnings_in_its_notes(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(FIXTURE, case)
    (case / "topology.yaml").write_text("services:\n  gateway: {calls: [ranking]}\n")
    bundle = load_bundle(case)
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None))
    warning = (f"{case}/topology.yaml:2: services.gateway.calls: unknown key ignored; only depends_on gives edges, "
               "so gateway has no dependencies")
    assert result.notes[0] == warning
    assert warning in result.report


def test_warnings_per_file_are_capped(tmp_path):
    topology = "services:\n" + "".join(f"  s{i}: {{calls: [x]}}\n" for i in range(60))
    warnings = load_bundle(make_case(tmp_path, {"topology.yaml": topology})).warnings
    assert len(warnings) == 51 and str(warnings[-1]) == "my-case/topology.yaml: ... and 10 more warnings in this file"
