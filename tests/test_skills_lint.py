"""Checking a Skill against the data catalog: unknown metrics, labels and log services are warnings."""

from __future__ import annotations

from agent.skills.lint import check_against_catalog, located_catalog_warnings, located_skill_warnings
from agent.skills.loader import load_skill_text, locate
from agent.sources.base import MetricInfo
from agent.sources.catalog import Catalog

SKILL = """\
name: lint-me
description: A Skill to check against a catalog
pattern: rca
data:
  metrics:
    - id: p99
      name: request_latency_p99_seconds
      labels: {service: "{service}", zone: "{namespace}"}
    - id: errors
      name: "*error*"
    - id: ghost
      name: ghost_metric_total
    - id: nothing
      name: "*nothing_matches*"
  logs:
    - id: own
      services: ["{service}", "cache", "pay*", "nowhere"]
decision:
  default: no_attention
"""

CATALOG = Catalog(
    metrics=[
        MetricInfo("request_latency_p99_seconds", labels=("service", "instance")),
        MetricInfo("request_error_ratio", labels=("service",)),
    ],
    log_services=["cache", "payments"],
)


def test_unknown_metrics_globs_labels_and_log_services_are_warned():
    skill = load_skill_text(SKILL, "lint-me.yaml").skill
    assert check_against_catalog(skill, CATALOG) == [
        "data.metrics[0] (p99): 'request_latency_p99_seconds' has no label zone (labels: instance, service)",
        "data.metrics[2] (ghost): unknown metric 'ghost_metric_total' in the catalog",
        "data.metrics[3] (nothing): no metric matches '*nothing_matches*' in the catalog",
        "data.logs[0] (own): no logs of service 'nowhere' in the catalog",
    ]


def test_a_skill_naming_only_known_data_has_no_warnings():
    known_only = SKILL.split("    - id: ghost")[0] + "decision:\n  default: attention\n"
    skill = load_skill_text(known_only, "ok").skill
    skill.data.metrics[0].labels.pop("zone")
    assert check_against_catalog(skill, CATALOG) == []


def test_a_catalog_without_log_services_does_not_warn_about_logs():
    skill = load_skill_text(SKILL, "lint-me.yaml").skill
    warnings = check_against_catalog(skill, Catalog(metrics=CATALOG.metrics))
    assert not [w for w in warnings if "logs" in w]


def test_a_fixed_service_label_no_series_has_is_warned_and_a_template_or_glob_that_matches_is_not():
    catalog = Catalog(metrics=[MetricInfo("cache_hit_ratio", labels=("service",), services=("cache", "cache-eu"))])
    text = """\
name: fixed-service
description: A Skill reading one service's series whatever the event
pattern: rca
data:
  metrics:
    - {id: typo, name: cache_hit_ratio, labels: {service: cahce}}
    - {id: exact, name: cache_hit_ratio, labels: {service: cache}}
    - {id: glob, name: cache_hit_ratio, labels: {service: "cache-*"}}
    - {id: templated, name: cache_hit_ratio, labels: {service: "{service}"}}
    - {id: absent, name: cache_hit_ratio, labels: {service: ""}}
decision:
  default: no_attention
"""
    skill = load_skill_text(text, "fixed-service.yaml").skill
    assert located_catalog_warnings(skill, catalog) == [(
        ("data", "metrics", 0, "labels", "service"),
        "data.metrics[0] (typo): no series of 'cache_hit_ratio' has service 'cahce' (services: cache, cache-eu)",
    )]


AUTHORED = """\
name: order-rca
description: Order service latency root cause
pattern: rca
scope:
  services: [orders, "*"]
data:
  metrics:
    - id: p99
      name: request_latency_p99_seconds
      min_effect: 25
    - id: leak
      name: memory_bytes
      compare: trend
      min_effect: 3
    - id: doubled
      name: errors_total
      min_effect: 1
    - id: limit
      name: disk_ratio
      compare: threshold
      threshold: 0.9
      min_effect: 5
decision:
  default: no_attention
"""


def _located(text: str) -> list[tuple[int, str, str]]:
    loaded = load_skill_text(text, "x.yaml")
    return [(*locate(loaded.raw, loc), warning) for loc, warning in located_skill_warnings(loaded.skill)]


def test_a_specific_skill_for_every_service_and_a_min_effect_over_one_are_warned_at_their_lines():
    shadows = ("this specific Skill fits every service, of any system: it answers events the pattern's generic "
               "Skill should; name its services (globs such as 'shop-*' allowed), or make it the generic one "
               "(generic: true)")
    assert _located(AUTHORED) == [
        (5, "scope.services[1]", f"'*': {shadows}"),
        (10, "data.metrics[0].min_effect", "25 (p99) asks for a change of 2500 % (to 26 times the reference, or "
         "more) before it counts; min_effect is a fraction (0.2 = 20 %): for 25 %, write 0.25"),
        (14, "data.metrics[1].min_effect", "3 (leak) asks for growth by 300 % of the level within a day before it "
         "counts; min_effect is a fraction (0.2 = 20 %): for 3 %, write 0.03"),
    ]
    unscoped = AUTHORED.replace('scope:\n  services: [orders, "*"]\n', "")
    assert _located(unscoped)[0] == (1, "scope", f"not given, so '*': {shadows}")
    generic = unscoped.replace("pattern: rca\n", "pattern: rca\ngeneric: true\n")
    assert [field for _, field, _ in _located(generic)] == ["data.metrics[0].min_effect", "data.metrics[1].min_effect"]


def test_a_glob_whose_bracket_nothing_closes_is_warned_of_at_its_field():
    """`[slow*` reads as a literal '[' and never matches an alert name: a typo that must not pass in silence."""
    text = """\
name: typo
description: A Skill with brackets left open
pattern: rca
scope:
  services: ["orders-*", "shop-[ab"]
triggers:
  alerts: ["[slow*", "[[]legacy]*", "*[Ll]atency*"]
data:
  metrics:
    - id: fails
      name: "rpc_[fail*"
      labels: {zone: "eu-[12]", pod: "x[1"}
decision:
  default: no_attention
"""
    loaded = load_skill_text(text, "typo.yaml")
    found = {(locate(loaded.raw, loc)[:2], message.split(":")[0])
             for loc, message in located_skill_warnings(loaded.skill) if "no ']' closes" in message}
    assert found == {((5, "scope.services[1]"), "'shop-[ab'"), ((7, "triggers.alerts[0]"), "'[slow*'"),
                     ((11, "data.metrics[0].name"), "'rpc_[fail*'"), ((12, "data.metrics[0].labels.pod"), "'x[1'")}
