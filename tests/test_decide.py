"""Structured decision rules over Findings."""

from __future__ import annotations

from agent.findings import Finding, FindingKind
from agent.skills.decide import apply_rules
from agent.skills.schema import Decision


def _finding(kind: FindingKind, score: float, service: str = "ranking", signal: str = "p99") -> Finding:
    return Finding(kind=kind, subject=service, service=service, signal=signal, window_start=0, window_end=60,
                   score=score, summary="x")


DECISION = Decision.model_validate({
    "rules": [
        {"if": {"kind": "canary_regression", "min_score": 0.7}, "then": "block", "reason": "clear regression"},
        {"if": {"kind": ["canary_regression", "change_regression"], "min_score": 0.4}, "then": "hold"},
        {"if": {"kind": "anomaly", "subject": "dependency", "min_count": 2}, "then": "hold"},
    ],
    "default": "pass",
})


def test_first_matching_rule_decides():
    outcome = apply_rules(DECISION, [_finding(FindingKind.CANARY_REGRESSION, 0.9)], ["ranking"])
    assert outcome.outcome == "block" and outcome.reason == "clear regression"
    assert len(outcome.findings) == 1


def test_weaker_regression_holds_and_nothing_passes():
    assert apply_rules(DECISION, [_finding(FindingKind.CHANGE_REGRESSION, 0.5)], ["ranking"]).outcome == "hold"
    none = apply_rules(DECISION, [], ["ranking"])
    assert none.outcome == "pass" and none.rule is None


def test_subject_and_count_conditions():
    deps = [_finding(FindingKind.ANOMALY, 0.5, service="cache"),
            _finding(FindingKind.ANOMALY, 0.5, service="feature-store")]
    assert apply_rules(DECISION, deps[:1], ["ranking"]).outcome == "pass"
    assert apply_rules(DECISION, deps, ["ranking"]).outcome == "hold"
    on_target = [_finding(FindingKind.ANOMALY, 0.5), _finding(FindingKind.ANOMALY, 0.6)]
    assert apply_rules(DECISION, on_target, ["ranking"]).outcome == "pass"


def test_the_generic_rca_skill_calls_attention_at_the_significance_the_ranking_uses():
    """One neighbour deviating beyond the ranking's SIGNIFICANT (its strongest candidate) is no noise; a mild
    deviation (the deviation detector's cap) alone still is."""
    from agent.config import PROJECT_ROOT
    from agent.reasoners.service_evidence import SIGNIFICANT
    from agent.skills.library import load_library

    decision = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill.decision
    clear = apply_rules(decision, [_finding(FindingKind.ANOMALY, SIGNIFICANT + 0.05, service="cart")], ["frontend"])
    assert clear.outcome == "attention" and "as clearly as the ranking counts significant" in clear.reason
    mild = apply_rules(decision, [_finding(FindingKind.ANOMALY, 0.3, service="cart")], ["frontend"])
    assert mild.outcome == "no_attention"


def test_the_generic_rca_skill_calls_a_service_that_stopped_answering_attention():
    """A service whose series all stopped (``went_silent``) has no value left for the metric rules to read: its
    silence alone needs attention; one scrape short of the three-scrape threshold (below 0.5) does not."""
    from agent.config import PROJECT_ROOT
    from agent.skills.library import load_library

    decision = load_library([PROJECT_ROOT / "skills"]).get("generic-rca").skill.decision
    silent = apply_rules(decision, [_finding(FindingKind.WENT_SILENT, 0.6, service="cart", signal="")], ["frontend"])
    assert silent.outcome == "attention" and "stopped answering" in silent.reason
    brief = apply_rules(decision, [_finding(FindingKind.WENT_SILENT, 0.45, service="cart", signal="")], ["frontend"])
    assert brief.outcome == "no_attention"
