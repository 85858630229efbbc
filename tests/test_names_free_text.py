"""Service and metric names are free text (BUNDLE.md): colons, '@', dots, spaces, '/', glob characters.

A bundle with such names loads, a Skill whose labels are ``{service: "{service}"}`` selects exactly
each service's series (never a look-alike its name would match as a glob), and an investigation
on it produces Findings owned by the right services.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from agent.bundles.reader import load_bundle, read_bundle
from agent.bundles.validate import validate_bundle
from agent.bundles.writer import write_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.events import Event, Pattern
from agent.evolve.authoring import from_template
from agent.findings import Finding, FindingKind
from agent.graph.plan import build_plan
from agent.investigate import investigate
from agent.reasoners.service_evidence import collect
from agent.runtime import bundle_toolkit
from agent.scheduler.jobs import expand_services
from agent.series import LogRecord, make_series
from agent.skills.library import load_library
from agent.skills.loader import SkillLoadError, load_skill_text
from agent.skills.selector import scope_match
from agent.skills.templates import escape_glob, render_matchers
from agent.sources.bundle import BundleLogSource, BundleMetricSource
from agent.sources.promql import glob_to_re2, selector

T = 1_700_000_000.0
CHECKOUT = "CheckoutAPI"
DYNAMO = "orders_AWS::DynamoDB::Table"
DB = "db@orders.example.com"
UI = "ts-ui-dashboard"
GLOBBY = "pay [eu]*? v1.2"  # as a glob it would match DECOY, and not itself
DECOY = "pay u-decoy v1.2"
SLASHED = "team/api:8080"  # with instance "pod/1": subject "team/api:8080/pod/1"
LATENCY = "latency p99 [ms]"
VOLUME = "Twitter_volume_AAPL"
SERVICES = [CHECKOUT, DYNAMO, DB, UI, GLOBBY, SLASHED]

SKILL = f"""\
name: free-names-rca
description: Root-cause analysis for services and metrics with free-text names from the source system.
pattern: rca
scope:
  services: ["{CHECKOUT}"]
window: {{lookback: 1h, after: 5m}}
data:
  metrics:
    - id: latency
      name: "{escape_glob(LATENCY)}"
      labels: {{service: "{{service}}"}}
      compare: baseline
      direction: up
      dependencies: true
    - id: volume
      name: {VOLUME}
      labels: {{service: "{{service}}"}}
      compare: baseline
      direction: up
      dependencies: true
  logs:
    - id: error_logs
      services: ["{{service}}"]
      dependencies: true
  dependencies: {{depth: 1, direction: both}}
decision:
  rules:
    - if: {{signals: [latency], min_score: 0.3}}
      then: attention
  default: no_attention
"""


def _steps(service: str) -> dict[str, tuple[float, float]]:
    """metric -> (onset, factor) of the step each service's series takes (none: flat)."""
    return {
        GLOBBY: {LATENCY: (T - 900, 8.0)},
        CHECKOUT: {LATENCY: (T - 840, 4.0)},
        UI: {LATENCY: (T - 780, 3.0)},
        SLASHED: {VOLUME: (T - 700, 5.0)},
        DECOY: {LATENCY: (T - 2000, 0.1)},
    }.get(service, {})


def _series(service: str, metric: str, rng: np.random.Generator, labels: dict[str, str]):
    times = np.arange(T - 3600, T + 301, 60.0)
    values = 10.0 + rng.normal(0, 0.3, times.size)
    onset, factor = _steps(service).get(metric, (None, 1.0))
    if onset is not None:
        values[times >= onset] *= factor
    return make_series(metric, {"service": service, **labels}, list(zip(times, values, strict=True)))


@pytest.fixture
def bundle_dir(tmp_path):
    rng = np.random.default_rng(7)
    series = [
        _series(s, m, rng, {"instance": "pod/1"} if s == SLASHED else {})
        for s in [*SERVICES, DECOY] for m in (LATENCY, VOLUME)
    ]
    logs = [LogRecord(T - 3000 + 60 * i, s, "ERROR" if s == GLOBBY and i > 44 else "INFO", f"request {i % 3} done")
            for i in range(50) for s in (GLOBBY, DECOY)]
    event = {"pattern": "rca", "time": T, "service": CHECKOUT,
             "alert": {"labels": {"alertname": "CheckoutSlow", "service": CHECKOUT}, "startsAt": T}}
    topology = {UI: [CHECKOUT], CHECKOUT: [DYNAMO, DB, GLOBBY, SLASHED]}
    return write_bundle(tmp_path / "free-names", event, series, logs, topology=topology)


@pytest.fixture
def skill_dir(tmp_path):
    directory = tmp_path / "skills"
    directory.mkdir()
    (directory / "free-names-rca.yaml").write_text(SKILL, encoding="utf-8")
    return directory


def test_bundle_with_free_text_names_loads_and_validates(bundle_dir):
    assert validate_bundle(bundle_dir) == []
    bundle = load_bundle(bundle_dir)
    assert bundle.services() == sorted([*SERVICES, DECOY])
    assert {s.metric for s in bundle.series} == {LATENCY, VOLUME}
    assert bundle.topology.dependencies(CHECKOUT) == [DYNAMO, DB, GLOBBY, SLASHED]
    assert bundle.topology.dependents(SLASHED) == [CHECKOUT]


def test_control_characters_in_names_are_rejected_with_file_and_line(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "event.yaml").write_text("pattern: rca\ntime: 1700000000\n")
    (case / "metrics.csv").write_text('timestamp,metric,service,value\n1,ok,CheckoutAPI,1\n2,ok,"bad\nname",1\n')
    (case / "logs.jsonl").write_text('{"ts": 1, "service": "a\\tb", "level": "INFO", "message": "m"}\n')
    _, errors = read_bundle(case)
    assert [(e.file, e.line, e.field) for e in errors] == [
        (f"{case}/metrics.csv", 4, "service"), (f"{case}/logs.jsonl", 1, "service")]
    assert "control character U+000A" in errors[0].message and "U+0009" in errors[1].message


def test_skill_labels_select_exactly_each_services_series(bundle_dir, skill_dir):
    bundle = load_bundle(bundle_dir)
    skill = load_library([skill_dir]).get("free-names-rca").skill
    plan = build_plan(skill, bundle.event, [CHECKOUT], bundle.topology)
    source = BundleMetricSource(bundle)
    assert {t.service for t in plan.metric_tasks} == set(SERVICES)
    for task in plan.metric_tasks:
        found = source.query(task.query).data
        assert [(s.metric, s.service) for s in found] == [({"latency": LATENCY, "volume": VOLUME}[task.signal],
                                                           task.service)]
    for targets in ([CHECKOUT], [GLOBBY]):  # the glob-like name as a dependency, then as the target
        [logs] = build_plan(skill, bundle.event, targets, bundle.topology).log_requests.values()
        assert {r.service for r in BundleLogSource(bundle).query(logs).data} == {GLOBBY}  # not DECOY's


def test_investigation_finds_the_free_text_services(bundle_dir, skill_dir):
    bundle = load_bundle(bundle_dir)
    toolkit = bundle_toolkit(bundle, get_settings(), library=load_library([skill_dir]))
    result = investigate(bundle.event, toolkit, skill="free-names-rca")
    owners = {f.owner for f in result.findings}
    assert {GLOBBY, CHECKOUT, UI, SLASHED} <= owners <= set(SERVICES)
    slashed = [f for f in result.findings if f.owner == SLASHED]
    assert {f.subject for f in slashed} == {f"{SLASHED}/pod/1"} and {f.metric for f in slashed} == {VOLUME}
    assert all("active_z" in f.numbers for f in slashed if f.kind == FindingKind.ANOMALY)  # its series was found
    assert any(f.signal == "error_logs" for f in result.findings if f.owner == GLOBBY)
    causes = [c.service for c in result.verdict.root_causes]
    assert causes and set(causes) <= set(SERVICES)
    assert GLOBBY in causes[:3]


def test_findings_are_grouped_by_service_not_by_splitting_the_subject():
    def finding(subject: str, service: str | None, metric: str | None = "m") -> Finding:
        return Finding(kind=FindingKind.ANOMALY, subject=subject, service=service, metric=metric,
                       window_start=0, window_end=1, score=0.9, summary="s")

    disk = "disk /var used"  # a series without a service label is owned by its metric
    grouped = collect([finding(f"{SLASHED}/pod/1", SLASHED), finding(SLASHED, SLASHED),
                       finding(f"{disk}/i-1", None, disk)], [], None)
    assert sorted(grouped) == sorted([SLASHED, disk])
    assert len(grouped[SLASHED].findings) == 2


@pytest.mark.parametrize("service", SERVICES)
def test_promql_selector_matches_only_the_literal_name(service):
    [(label, value)] = render_matchers({"service": "{service}"}, {"service": service}).items()
    text = selector(DYNAMO, {label: value})
    assert text.startswith('{__name__="orders_AWS::DynamoDB::Table", service')
    match = re.fullmatch(r'\{__name__="[^"]*", service(=~?)"(.*)"\}', text)
    assert match is not None
    op, body = match.groups()
    literal = body.replace('\\\\', '\\')
    if op == "=":
        assert literal == service
    else:
        assert re.fullmatch(literal, service) and not re.fullmatch(literal, DECOY)
        assert literal == glob_to_re2(value)


def test_selector_quotes_names_that_are_not_promql_identifiers():
    assert selector(DB, {"service": UI}) == '{__name__="db@orders.example.com", service="ts-ui-dashboard"}'
    assert selector('a"b\\c', {}) == '{__name__="a\\"b\\\\c"}'
    escaped = selector(escape_glob(LATENCY), {})  # a Skill names a metric holding '[' by escaping it
    regex = re.fullmatch(r'\{__name__=~"(.*)"\}', escaped).group(1).replace("\\\\", "\\")
    assert re.fullmatch(regex, LATENCY) and not re.fullmatch(regex, "latency p99 m")


def test_scope_and_scheduler_take_escaped_or_known_names_literally():
    skill = load_skill_text(SKILL.replace(f'["{CHECKOUT}"]', f'["{escape_glob(GLOBBY)}"]'), "t").skill
    event = Event(pattern=Pattern.RCA, time=T, service=GLOBBY)
    assert scope_match(skill, event) is not None
    assert scope_match(skill, Event(pattern=Pattern.RCA, time=T, service=DECOY)) is None
    assert expand_services([GLOBBY, "ts-*"], [GLOBBY, DECOY, UI]) == [GLOBBY, UI]


@pytest.mark.parametrize("given", ["catalog", "escaped"])
def test_a_new_skill_scoped_to_a_free_text_module_covers_it(bundle_dir, given):
    """A module with glob characters is a glob (``speed-*``), unless the data (``--bundle``) has a service of exactly
    that name; written escaped, as in a Skill's scope, it is that name without a bundle too."""
    from agent.sources.catalog import catalog_from_bundle

    library = load_library([PROJECT_ROOT / "skills"])
    description = "Root-cause analysis of latency alerts on the payment service"
    new = from_template(library, description, module=GLOBBY, catalog=catalog_from_bundle(bundle_dir)) \
        if given == "catalog" else from_template(library, description, module=escape_glob(GLOBBY))
    skill = new.patched.loaded.skill
    assert scope_match(skill, Event(pattern=Pattern.RCA, time=T, service=GLOBBY)) is not None
    assert scope_match(skill, Event(pattern=Pattern.RCA, time=T, service=DECOY)) is None
    globbed = from_template(library, description, module=GLOBBY).patched.loaded.skill  # no data says it is a name
    assert scope_match(globbed, Event(pattern=Pattern.RCA, time=T, service=DECOY)) is not None


def test_skill_metric_names_are_free_text_but_not_control_characters():
    for name in (LATENCY, DB, DYNAMO, "cpu.usage:total"):
        text = SKILL.replace(f"name: {VOLUME}", f'name: "{name}"')
        assert load_skill_text(text, "t").skill.data.metrics[1].name == name
    with pytest.raises(SkillLoadError, match="control character U\\+0009"):
        load_skill_text(SKILL.replace(f"name: {VOLUME}", 'name: "a\\tb"'), "t")
