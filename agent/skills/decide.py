"""Apply a Skill's structured decision rules to Findings (no eval, no code)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.findings import Finding
from agent.skills.schema import Condition, Decision, Rule


@dataclass
class RuleOutcome:
    """The outcome, the rule that produced it (None for the default) and the Findings it rests on."""

    outcome: str
    rule: Rule | None
    findings: list[Finding]

    @property
    def reason(self) -> str:
        if self.rule is None:
            return "no rule matched; the Skill's default applies"
        return self.rule.reason or f"rule matched: {self.rule.when.model_dump(exclude_defaults=True)}"


def matching_findings(condition: Condition, findings: Sequence[Finding], targets: Sequence[str]) -> list[Finding]:
    """Findings that satisfy every field of a condition."""
    kinds = set(condition.kind)
    signals = set(condition.signals)
    matched = []
    for finding in findings:
        if kinds and finding.kind not in kinds:
            continue
        if signals and not signals.intersection(finding.signals):
            continue
        if finding.score < condition.min_score:
            continue
        if condition.subject == "target" and finding.service not in targets:
            continue
        if condition.subject == "dependency" and (finding.service in targets or finding.service is None):
            continue
        matched.append(finding)
    return matched


def ruled_signals(decision: Decision) -> set[str] | None:
    """The signals a rule of ``decision`` names: the ones it decides on; None when a rule names none (it can match a
    Finding of any signal, so every signal counts) or there is no rule (the default alone judges nothing: every
    signal is judged by its score)."""
    if not decision.rules:
        return None
    named: set[str] = set()
    for rule in decision.rules:
        if not rule.when.signals:
            return None
        named.update(rule.when.signals)
    return named


def context_only(finding: Finding, ruled: set[str] | None) -> bool:
    """True for a Finding only of signals no rule names (``ruled_signals``): context the Skill reads to explain
    what it judges (traffic beside memory in a leak hunt, WARN lines beside errors), not a verdict of its own. A
    Finding of no signal is never context."""
    return ruled is not None and bool(finding.signals) and not ruled.intersection(finding.signals)


def counted(condition: Condition, matched: Sequence[Finding]) -> int:
    """How many matching Findings ``min_count`` and ``max_count`` see: each once per signal of its own the condition
    names (all of them when it names none), so a Finding several signals reported (``Finding.also_signals``) counts
    as its copies did before they were merged; a Finding of no signal counts once."""
    names = set(condition.signals)
    return sum(max(1, len([s for s in f.signals if not names or s in names])) for f in matched)


def condition_holds(condition: Condition, matched: Sequence[Finding]) -> bool:
    count = counted(condition, matched)
    if count < condition.min_count:
        return False
    return condition.max_count is None or count <= condition.max_count


def apply_rules(decision: Decision, findings: Sequence[Finding], targets: Sequence[str]) -> RuleOutcome:
    """The first rule whose condition holds decides; otherwise the default."""
    for rule in decision.rules:
        matched = matching_findings(rule.when, findings, targets)
        if condition_holds(rule.when, matched):
            return RuleOutcome(rule.then, rule, matched)
    return RuleOutcome(decision.default, None, [])
