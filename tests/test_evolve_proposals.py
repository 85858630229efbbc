"""Rule-based proposals derived from a corrected case's data."""

from __future__ import annotations

import pytest

from agent.evolve.corrections import correct_case
from agent.evolve.proposals import NoProposal, _family_metric, _rule_min_scores, case_context, propose_by_rules
from agent.evolve.versions import skill_text
from agent.findings import FindingKind
from agent.skills.library import load_library
from agent.sources.base import MetricInfo
from agent.sources.catalog import Catalog
from tests.test_evolve_support import (
    blind_skills_dir,
    finding,
    rca_event,
    rca_verdict,
    release_event,
    release_verdict,
    store_case,
    write_small_bundle,
)


@pytest.fixture
def library(tmp_path):
    return load_library([blind_skills_dir(tmp_path)])


def _propose(memory, library, case_id, skill="memory-pressure-rca"):
    loaded = library.get(skill)
    return propose_by_rules(loaded, skill_text(loaded), case_context(memory.get_case(case_id)))


def test_a_blind_spot_gets_the_metric_of_the_fault_family_from_the_catalog(memory, library, tmp_path) -> None:
    assert "memory" not in {m.id for m in library.get("memory-pressure-rca").skill.data.metrics}
    bundle = write_small_bundle(tmp_path / "leak", rca_event())
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency", attention=False),
                         bundle=bundle)
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak")
    proposal = _propose(memory, library, case_id)
    skill = proposal.patched.loaded.skill
    added = next(m for m in skill.data.metrics if m.name == "memory_usage_bytes")
    assert (added.id, added.compare.value, added.direction.value, added.dependencies) == (
        "memory", "trend", "up", False)
    assert skill.decision.rules[0].when.signals == ["memory"] and skill.decision.rules[0].then == "attention"
    assert skill.decision.rules[0].when.subject == "target"
    assert skill.version == 2 and proposal.case_id == case_id and proposal.correction_id is not None
    assert "+    - id: memory" in proposal.diff and "+      name: memory_usage_bytes" in proposal.diff
    assert any("memory_usage_bytes" in reason for reason in proposal.reasons)


def test_a_root_cause_out_of_reach_widens_the_dependencies(memory, library, tmp_path) -> None:
    bundle = write_small_bundle(tmp_path / "deps", rca_event())
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "memory_leak"), bundle=bundle)
    correct_case(memory, case_id, correct=False, service="cache", fault="cache_failure")
    proposal = _propose(memory, library, case_id)
    skill = proposal.patched.loaded.skill
    assert skill.data.dependencies.depth == 1 and skill.data.dependencies.direction == "downstream"
    # the bundle has no cache hit metric: the family's glob is named, read on dependencies
    added = next(m for m in skill.data.metrics if m.id == "cache_hit")
    assert added.dependencies and added.direction.value == "down" and added.name == "*hit_ratio*"
    assert "cache_failure" in skill.knowledge.tags
    assert skill.decision.rules[0].when.subject == "dependency"


def test_a_too_lenient_release_lowers_the_blocking_rule(memory, tmp_path) -> None:
    library = load_library([blind_skills_dir(tmp_path)])
    findings = [finding("F1", "ranking", kind=FindingKind.CANARY_REGRESSION, signal="error_ratio",
                        metric="request_error_ratio", score=0.55)]
    case_id = store_case(memory, release_event(), release_verdict("hold"), skill="serving-canary-release",
                         findings=findings)
    correct_case(memory, case_id, correct=False, decision="block")
    proposal = _propose(memory, library, case_id, "serving-canary-release")
    rule = proposal.patched.loaded.skill.decision.rules[0]
    assert rule.then == "block" and rule.when.min_score == 0.52  # just below the 0.55 it saw
    assert "-        min_score: 0.7" in proposal.diff and "+        min_score: 0.52" in proposal.diff


def test_a_finding_two_signals_reported_counts_for_a_rule_wanting_two_as_its_copies_did() -> None:
    """infra-release blocks on two callers degrading (min_count 2): one Finding its error_ratio and p99_latency
    signals both reported (``Finding.also_signals``) is two matches, as the two copies were before the merge."""
    from agent.config import PROJECT_ROOT

    skill = load_library([PROJECT_ROOT / "skills"]).get("infra-release").skill
    both = finding("F1", "ranking", kind=FindingKind.CHANGE_REGRESSION, signal="error_ratio", score=0.5)
    both = both.model_copy(update={"also_signals": ["p99_latency"]})
    copies = [both.model_copy(update={"also_signals": []}), both.model_copy(update={"signal": "p99_latency",
                                                                                   "also_signals": []})]
    several_callers = 2  # the rule's index in infra-release
    assert skill.decision.rules[several_callers].when.min_count == 2
    assert _rule_min_scores(skill, [both], ["cache"]) == _rule_min_scores(skill, copies, ["cache"])
    assert (several_callers, 0.5) in _rule_min_scores(skill, [both], ["cache"])
    assert (several_callers, 0.5) not in _rule_min_scores(skill, copies[:1], ["cache"])


def test_a_too_strict_release_raises_the_rule_that_fired(memory, tmp_path) -> None:
    library = load_library([blind_skills_dir(tmp_path)])
    findings = [finding("F1", "ranking", kind=FindingKind.CANARY_REGRESSION, signal="p99_latency", score=0.75)]
    case_id = store_case(memory, release_event(), release_verdict("block"), skill="serving-canary-release",
                         findings=findings)
    correct_case(memory, case_id, correct=False, decision="hold")
    proposal = _propose(memory, library, case_id, "serving-canary-release")
    assert proposal.patched.loaded.skill.decision.rules[0].when.min_score == 0.8


def test_no_rule_applies_is_a_clear_refusal(memory, library, tmp_path) -> None:
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    correct_case(memory, case_id, correct=False, service="ranking", fault="weird_fault", note="?")
    with pytest.raises(NoProposal, match="no rule-based fix.*refine NAME --instruction"):
        _propose(memory, library, case_id, "generic-rca")


def test_the_metric_added_for_traffic_is_the_service_request_counter_not_a_cpu_or_error_one() -> None:
    """A family's metric is one the family claims: cpu_requests is CPU and failed_requests_total errors, and
    http_requests_total, which no traffic glob names, is traffic by its words."""
    names = ("cpu_requests", "failed_requests_total", "http_requests_total", "http_requests_in_flight")
    catalog = Catalog(metrics=[MetricInfo(n, services=("orders",)) for n in names])
    assert _family_metric("traffic_spike", "orders", catalog) == "http_requests_total"
    assert _family_metric("traffic_spike", "orders", None) == "*requests_per_second*"
