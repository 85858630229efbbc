"""The offline evidence reasoner: a deterministic analyst, the default and the LLM's fallback."""

from __future__ import annotations

from collections import defaultdict

from agent.events import ChangeEvent, Pattern
from agent.evidence import EvidencePack, KnowledgeSnippet
from agent.findings import Finding, FindingKind, could_not_judge
from agent.phrases import listed
from agent.reasoners.alert_history import actionable_before
from agent.reasoners.attribution import attributed_fault
from agent.reasoners.base import ReasonerResult
from agent.reasoners.blame import implication
from agent.reasoners.experience import apply_experience
from agent.reasoners.failsafe import enforce_fail_safe, fail_safe_verdict
from agent.reasoners.faults import LOG_KINDS, UNKNOWN_FAULT, classify_fault
from agent.reasoners.ranking import rank_services
from agent.reasoners.service_evidence import SIGNIFICANT, own_findings
from agent.skills.decide import RuleOutcome, apply_rules, context_only, ruled_signals
from agent.skills.schema import Skill
from agent.verdict import SERIOUS, SEVERITIES, InspectionItem, RootCause, Verdict, most_severe

TOP_CAUSES = 5
SEVERITY_BY_SCORE = ((0.7, "critical"), (0.5, "warning"), (0.0, "info"))  # 0.5: beyond its own usual excursion
ITEM_FLOOR = 0.3


class OfflineReasoner:
    """Ranks root causes, gates releases and grades inspections from Findings alone."""

    name = "offline"

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        pattern = pack.event.pattern
        if pattern == Pattern.RCA:
            verdict = self._rca(pack, skill)
        elif pattern == Pattern.RELEASE_INTERCEPTION:
            verdict = self._release(pack, skill)
        else:
            verdict = self._inspection(pack, skill)
        verdict = enforce_fail_safe(verdict, pack)  # a thin history cannot give an all-clear
        verdict.reasoner = self.name
        return ReasonerResult(verdict=verdict, prompt_tokens=0, completion_tokens=0, notes=[])

    def _rca(self, pack: EvidencePack, skill: Skill) -> Verdict:
        gap = could_not_judge(pack.findings)
        if gap is not None:  # no data is never "no attention needed"
            return fail_safe_verdict(pack, gap)
        ranked = rank_services(pack.findings, pack.changes, pack.topology, pack.target_services)
        # A separate, bounded step after the offline ranking: past corrected cases of the same shape.
        ranked, moves = apply_experience(ranked, pack.findings, pack.topology, pack.target_services, pack.experience)
        learned = {m.service: m.fault for m in moves if m.fault and m.delta > 0}
        causes = []
        top_score = ranked[0].score if ranked else 0.0
        certainty = min(1.0, implication(ranked[0]) + 0.2) if ranked else 0.0
        for ev in ranked:
            if len(causes) == TOP_CAUSES:
                break
            if ev.score <= 0:
                continue
            cited = sorted(own_findings(ev.findings), key=lambda f: -f.score)[:4] or sorted(
                ev.blamed_by, key=lambda f: -f.score)[:4]
            evidence = list(dict.fromkeys(f.id for f in cited))
            fault, callers = (learned[ev.service], []) if ev.service in learned else attributed_fault(ev)
            notes = list(ev.notes)
            if callers:
                notes.append(f"fault kind {fault} inferred from its callers' calls to it ({', '.join(callers)}): "
                             "no Finding of its own names one")
            causes.append(RootCause(
                service=ev.service,
                fault=fault,
                confidence=round(certainty * min(1.0, ev.score / max(top_score, 1e-9)), 3),
                evidence=evidence,
                explanation="; ".join(notes) or "strongest deviation among the services examined",
                inferred_from=callers,
            ))
        outcome = apply_rules(skill.decision, pack.findings, pack.target_services)
        needs_attention = outcome.outcome == "attention"
        recovered = _recovered(pack)
        history = None if needs_attention or recovered else actionable_before(pack.experience, pack.event)
        if needs_attention and recovered:
            needs_attention, reason = False, "the alert has resolved and the signals are back to normal"
        elif needs_attention:
            reason = f"actionable: {outcome.reason}"
        elif history is not None:  # experience: this alert was real every time an engineer checked
            needs_attention, reason = True, f"actionable by experience: {history}"
        else:
            strongest = max((f.score for f in pack.findings), default=0.0)
            behind = ("behind the alert ", ": likely noise or flapping") if pack.event.alert is not None else ("", "")
            reason = (
                f"nothing {behind[0]}that the Skill's rules count as actionable (strongest finding "
                f"{strongest:.2f}){behind[1]}; {outcome.reason}"
            )
        if causes:
            top = causes[0]
            summary = f"Most likely root cause: {top.service} ({top.fault}). " + (
                "Needs attention." if needs_attention else "No action needed: " + reason
            )
        else:
            summary = "No anomaly found in the examined services. " + reason
        cited = sorted({i for c in causes for i in c.evidence} | {f.id for f in outcome.findings})
        return Verdict(
            pattern="rca", summary=summary, needs_attention=needs_attention, attention_reason=reason,
            root_causes=causes if needs_attention or causes else [], evidence=cited,
            actions=_actions(pack, causes[0] if causes else None),
            confidence=causes[0].confidence if causes else 0.5,
        )

    def _release(self, pack: EvidencePack, skill: Skill) -> Verdict:
        gap = could_not_judge(pack.findings)
        if gap is not None:  # no data, or too little since the change began: hold, saying how long to wait
            return fail_safe_verdict(pack, gap)
        outcome = apply_rules(skill.decision, pack.findings, pack.target_services)
        decision = outcome.outcome
        regressions = [f for f in outcome.findings] or [
            f for f in pack.findings if f.kind in (FindingKind.CANARY_REGRESSION, FindingKind.CHANGE_REGRESSION)
        ]
        regressions = sorted(regressions, key=lambda f: -f.score)[:6]
        if decision == "pass":
            summary = "Pass: no regression attributable to the change."
        else:
            lines = "; ".join(f.summary for f in regressions[:3])
            summary = f"{decision.capitalize()}: {outcome.reason}. {lines}".strip()
        change = pack.event.change
        causes = []
        if decision != "pass" and change is not None:
            causes.append(RootCause(
                service=change.service or (pack.target_services or ["?"])[0],
                fault=classify_fault(regressions, [change.type]),
                confidence=max((f.score for f in regressions), default=0.5),
                evidence=[f.id for f in regressions],
                explanation=f"regression after {change.type} {change.id}",
            ))
        return Verdict(
            pattern="release_interception", summary=summary, decision=decision,
            root_causes=causes, evidence=[f.id for f in regressions],
            actions=_release_actions(decision, change),
            confidence=max((f.score for f in regressions), default=0.8 if decision == "pass" else 0.5),
        )

    def _inspection(self, pack: EvidencePack, skill: Skill) -> Verdict:
        gap = could_not_judge(pack.findings)
        if gap is not None:  # no data is not "healthy"
            return fail_safe_verdict(pack, gap)
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for finding in pack.findings:
            if finding.score < ITEM_FLOOR or finding.kind == FindingKind.MISSING_DATA:
                continue
            service = finding.owner
            groups[(service, _inspection_kind(finding))].append(finding)
        items = []
        ruled = ruled_signals(skill.decision)
        for (service, kind), findings in groups.items():
            top = sorted(findings, key=lambda f: -f.score)
            decisive = [f for f in top if not context_only(f, ruled)]
            summary = top[0].summary
            if decisive:
                severity = next(label for floor, label in SEVERITY_BY_SCORE if decisive[0].score >= floor)
            else:  # only signals the Skill reads as context (no rule judges them): they inform, never alarm
                severity = "info"
                summary += f" (context: no rule of {skill.name} judges {listed(sorted(set(top[0].signals)))})"
            items.append(InspectionItem(
                service=service, kind=kind, severity=severity,
                evidence=[f.id for f in top[:4]], summary=summary,
            ))
        items.sort(key=lambda i: (SEVERITIES.index(i.severity), i.service))
        outcome = apply_rules(skill.decision, pack.findings, pack.target_services)
        overall = most_severe([outcome.outcome, *(i.severity for i in items)])
        return Verdict(
            pattern="inspection", summary=_inspection_summary(items, overall, outcome), items=items,
            overall=overall,
            evidence=sorted({e for i in items for e in i.evidence}),
            actions=[f"look at {i.service}: {i.summary}" for i in items if i.severity in SERIOUS][:3],
            confidence=max((f.score for f in pack.findings), default=0.8),
        )


def _inspection_summary(items: list[InspectionItem], overall: str | None, outcome: RuleOutcome) -> str:
    """One line that says the overall severity (the most severe of the Skill's rule outcome and the items) and
    the items behind it; the rule's reason when the rule, not an item, sets it."""
    serious = [i for i in items if i.severity in SERIOUS]
    by_rule = overall in SERIOUS and most_severe(i.severity for i in items) != overall
    why = f" (the Skill's rule: {outcome.reason})" if by_rule else ""
    if serious:
        listed = "; ".join(f"{i.service} {i.kind}" for i in serious[:5])
        return f"Overall {overall}{why}: {len(serious)} issue(s) need attention: {listed}."
    if overall in SERIOUS:
        return f"Overall {overall}{why}; no single finding is above info level."
    return "Healthy: nothing above info level."


def _inspection_kind(finding: Finding) -> str:
    """A readable name for what an inspection finding is about."""
    if finding.kind in LOG_KINDS:
        return "error_burst" if finding.kind == FindingKind.LOG_BURST else "new_error_template"
    fault = classify_fault([finding])
    if fault == UNKNOWN_FAULT:  # a metric of no known family (speed, cpc_results): the labels' own word for it
        return "trend" if finding.kind == FindingKind.TREND else "anomaly"
    if finding.kind == FindingKind.TREND or fault in ("memory_leak", "disk_full"):
        return fault if fault in ("memory_leak", "disk_full") else f"{fault}_trend"
    return {"slow_dependency": "latency_regression", "error_fault": "error_rate"}.get(fault, fault)


def _recovered(pack: EvidencePack) -> bool:
    alert = pack.event.alert
    if alert is None or alert.status != "resolved":
        return False
    return not any(f.score >= SIGNIFICANT and f.kind != FindingKind.MISSING_DATA for f in pack.findings)


def _actions(pack: EvidencePack, top: RootCause | None) -> list[str]:
    """Runbook steps from retrieved handbook snippets that mention the top cause's fault, else generic ones;
    a fault the evidence could not name (``unknown``) has no runbook: look at the service itself."""
    if top is None:
        return []
    if top.fault == UNKNOWN_FAULT:
        return [f"look at {top.service} first (its logs, traces and recent changes): "
                "the evidence implicates it but names no fault kind"]
    fault = top.fault
    steps = [_read_step(snippet) for snippet in pack.knowledge
             if fault in snippet.tags or fault.replace("_", " ") in snippet.text.lower()]
    return steps[:3] or [f"check the {fault.replace('_', ' ')} runbook for {top.service}"]


def _read_step(snippet: KnowledgeSnippet) -> str:
    """A runbook is followed; a service page, policy, experience note or past case is read (and named as such)."""
    if snippet.collection == "handbook" and "runbook" in snippet.tags:
        return f"follow runbook '{snippet.title}'"
    return f"read '{snippet.title}' ({snippet.collection})"


def _release_actions(decision: str, change: ChangeEvent | None) -> list[str]:
    """Next steps for a release decision: a canary's name its traffic share; a change with no canary (a config
    push, a deploy to every instance) has none to keep at a share."""
    canary = change is not None and (change.type == "canary" or bool(change.canary and change.baseline))
    if decision == "block":
        keep = "keep the canary at 0 % traffic" if canary else "stop any further rollout of the change"
        return ["roll back the change", f"{keep} until the regression is understood"]
    if decision == "hold":
        keep = "keep the canary at its current traffic share" if canary else "keep the change at its current stage"
        return [keep, "re-evaluate after another observation window"]
    return ["proceed to the next rollout stage"]
