"""The offline evidence reasoner: ranking, attention, release decisions and inspection grading."""

from __future__ import annotations

from agent.events import Alert, ChangeEvent, Event, InspectionScope, Pattern
from agent.evidence import ChangeNote, EvidencePack, KnowledgeSnippet
from agent.findings import Finding, FindingKind, number_findings
from agent.graph.nodes.report import render_report
from agent.reasoners.failsafe import clears
from agent.reasoners.offline import OfflineReasoner
from agent.skills.library import load_default_library
from agent.verdict import Verdict

T0 = 1_700_000_000.0
TOPOLOGY = {"gateway": ["ranking"], "ranking": ["feature-store", "cache"], "feature-store": [], "cache": []}
LIBRARY = load_default_library()
SIGNALS = {"latency": "latency", "error": "errors", "memory": "memory", "cpu": "cpu", "hit": "cache"}


def _metric(service: str, metric: str, score: float, onset: float, direction: str = "up",
            kind: FindingKind = FindingKind.ANOMALY) -> Finding:
    signal = next((sig for key, sig in SIGNALS.items() if key in metric), "other")
    return Finding(kind=kind, subject=service, service=service, metric=metric, signal=signal, window_start=T0 - 3600,
                   window_end=T0, onset=onset, score=score, direction=direction, summary=f"{service} {metric}")


def _pack(pattern: Pattern, findings: list[Finding], **kw) -> EvidencePack:
    alert = Alert(labels={"alertname": "GatewayLatencyHigh", "service": "gateway"})
    event = kw.pop("event", None) or Event(
        pattern=pattern, time=T0, service="gateway", alert=alert if pattern == Pattern.RCA else None
    )
    return EvidencePack(event=event, skill="x", skill_version=1, target_services=event.services,
                        topology=TOPOLOGY, findings=number_findings(findings), **kw)


def _rca(findings, **kw):
    return OfflineReasoner().reason(_pack(Pattern.RCA, findings, **kw), LIBRARY.get("generic-rca").skill).verdict


def test_dependency_that_deviated_first_is_the_root_cause():
    findings = [
        _metric("gateway", "request_latency_p99_seconds", 0.95, T0 - 300),
        _metric("ranking", "request_latency_p99_seconds", 0.9, T0 - 420),
        _metric("feature-store", "request_latency_p99_seconds", 0.8, T0 - 600),
    ]
    verdict = _rca(findings)
    assert verdict.needs_attention is True
    assert [c.service for c in verdict.root_causes][:3] == ["feature-store", "ranking", "gateway"]
    assert verdict.root_causes[0].fault == "slow_dependency"
    shown = {f"F{i}" for i in range(1, 4)}
    assert verdict.cited_ids() <= shown and verdict.reasoner == "offline"


def test_fault_kind_follows_the_metric_family_and_changes():
    leak = _rca([_metric("cache", "memory_usage_bytes", 0.9, T0 - 900, kind=FindingKind.TREND)])
    assert leak.root_causes[0].fault == "memory_leak"
    hits = _rca([_metric("cache", "cache_hit_ratio", 0.9, T0 - 600, direction="down")])
    assert hits.root_causes[0].fault == "cache_failure"
    change = ChangeNote(id="c1", ts=T0 - 700, service="ranking", type="config")
    config = _rca([_metric("ranking", "request_error_ratio", 0.8, T0 - 600)], changes=[change])
    assert config.root_causes[0].service == "ranking" and config.root_causes[0].fault == "bad_config"


def test_recent_change_breaks_a_tie_between_services():
    findings = [_metric("cache", "request_latency_p99_seconds", 0.7, T0 - 600),
                _metric("feature-store", "request_latency_p99_seconds", 0.7, T0 - 600)]
    change = ChangeNote(id="d9", ts=T0 - 900, service="feature-store", type="deploy")
    verdict = _rca(findings, changes=[change])
    assert verdict.root_causes[0].service == "feature-store"


def test_no_anomaly_means_no_attention():
    verdict = _rca([_metric("gateway", "request_latency_p99_seconds", 0.1, T0 - 60)])
    assert verdict.needs_attention is False
    assert "noise" in (verdict.attention_reason or "")


def test_release_decision_follows_the_skill_rules():
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=T0, service="ranking",
                  change=ChangeEvent(id="d1", type="canary", service="ranking", ts=T0 - 1800))
    skill = LIBRARY.get("generic-release").skill
    bad = [_metric("ranking", "request_error_ratio", 0.95, T0 - 1700, kind=FindingKind.CANARY_REGRESSION)]
    blocked = OfflineReasoner().reason(_pack(Pattern.RELEASE_INTERCEPTION, bad, event=event), skill).verdict
    assert blocked.decision == "block" and blocked.evidence == ["F1"]
    clean = OfflineReasoner().reason(_pack(Pattern.RELEASE_INTERCEPTION, [], event=event), skill).verdict
    assert clean.decision == "pass"


def test_inspection_items_are_graded_and_sorted():
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["cache", "ranking"]))
    findings = [_metric("cache", "memory_usage_bytes", 0.9, T0 - 5000, kind=FindingKind.TREND),
                _metric("ranking", "request_latency_p99_seconds", 0.5, T0 - 600),
                _metric("gateway", "cpu_usage_ratio", 0.1, T0 - 600)]
    skill = LIBRARY.get("generic-inspection").skill
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, findings, event=event), skill).verdict
    assert [(i.service, i.kind, i.severity) for i in verdict.items] == [
        ("cache", "memory_leak", "critical"), ("ranking", "latency_regression", "warning")]


def test_an_inspection_item_on_a_metric_of_no_known_family_is_an_anomaly():
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["exchange"]))
    findings = [_metric("exchange", "cpc_results", 0.8, T0 - 600),
                _metric("roads", "speed", 0.6, T0 - 5000, kind=FindingKind.TREND)]
    skill = LIBRARY.get("generic-inspection").skill
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, findings, event=event), skill).verdict
    assert sorted((i.service, i.kind) for i in verdict.items) == [("exchange", "anomaly"), ("roads", "trend")]


def _blamed_first() -> tuple[EvidencePack, list[Finding]]:
    """ranking has no Finding of its own but the gateway's calls to it slowed: the blame ranks it above the cache,
    whose own deviation is weaker than the top's score yet stronger than ranking's (none)."""
    findings = number_findings([_metric("gateway", "client_latency_p99_seconds", 0.9, T0 - 300),
                                _metric("cache", "memory_usage_bytes", 0.3, T0 - 300)])
    return _pack(Pattern.RCA, findings), findings


def test_confidence_falls_down_the_ranking_and_follows_the_score():
    pack, _ = _blamed_first()
    causes = OfflineReasoner().reason(pack, LIBRARY.get("generic-rca").skill).verdict.root_causes
    assert [c.service for c in causes][:2] == ["ranking", "cache"]
    confidences = [c.confidence for c in causes]
    assert confidences == sorted(confidences, reverse=True), confidences
    assert confidences[0] == 1.0  # the strongest evidence implicating it (the slow calls, 0.9) is its certainty


def test_a_candidate_implicated_only_by_another_service_cites_that_evidence_labelled_as_such():
    """ranking shows nothing itself; the gateway's calls to it slowed: its fault kind is read off them (a slow
    dependency), and the report says so."""
    pack, findings = _blamed_first()
    verdict = OfflineReasoner().reason(pack, LIBRARY.get("generic-rca").skill).verdict
    top = verdict.root_causes[0]
    slow_calls = next(f.id for f in findings if f.service == "gateway")
    assert top.evidence == [slow_calls] and top.fault == "slow_dependency"
    assert "inferred from its callers" in top.explanation and top.inferred_from == ["gateway"]
    assert "inferred" not in verdict.root_causes[1].explanation  # the cache is named from its own memory
    assert verdict.root_causes[1].inferred_from == []
    event = pack.event
    text = render_report(event, {"name": "generic-rca"}, verdict, pack.findings, [], [])
    assert f"| 1 | ranking | slow_dependency (inferred from gateway) | 1.00 | {slow_calls} via gateway |" in text
    assert "via gateway" not in text.split("| 2 |")[1].split("\n")[0]  # the cache cites its own Finding
    assert "| 2 | cache | memory_leak |" in text and "no Finding of the candidate's own names a fault kind" in text


def test_a_candidate_whose_implicating_evidence_names_no_fault_stays_unknown():
    """The gateway's calls to ranking got faster: that names no fault, so ranking's kind stays unknown, the
    report marks nothing as inferred and the next step is to look at ranking itself."""
    pack, findings = _blamed_first()
    faster = [f.model_copy(update={"direction": "down"}) if f.service == "gateway" else f for f in findings]
    pack = pack.model_copy(update={"findings": faster})
    verdict = OfflineReasoner().reason(pack, LIBRARY.get("generic-rca").skill).verdict
    top = next(c for c in verdict.root_causes if c.service == "ranking")
    assert top.fault == "unknown" and "inferred" not in top.explanation
    text = render_report(pack.event, {"name": "generic-rca"}, verdict, pack.findings, [], [])
    assert "| ranking | unknown |" in text and "inferred" not in text


def _inspect(findings: list[Finding]) -> tuple[Verdict, str]:
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["exchange", "ranking"]))
    pack = _pack(Pattern.INSPECTION, findings, event=event)
    verdict = OfflineReasoner().reason(pack, LIBRARY.get("generic-inspection").skill).verdict
    return verdict, render_report(event, {"name": "generic-inspection"}, verdict, pack.findings, [], [])


def test_a_critical_item_makes_the_inspection_critical_whatever_the_rule_says():
    """No rule of the Skill covers the metric (its default: info), but the item's score is critical."""
    verdict, text = _inspect([_metric("exchange", "cpc_results", 0.8, T0 - 600)])
    assert [i.severity for i in verdict.items] == ["critical"]
    assert verdict.overall == "critical" and verdict.inspection_level() == "critical"
    assert verdict.summary.startswith("Overall critical") and "warning" not in verdict.summary
    assert "**Inspection: CRITICAL**" in text


def test_a_rule_more_severe_than_every_item_sets_the_overall_and_says_why():
    """The Skill's rule calls a latency drift of 0.45 a warning; the item's score alone is info level."""
    verdict, text = _inspect([_metric("ranking", "request_latency_p99_seconds", 0.45, T0 - 600)])
    assert [i.severity for i in verdict.items] == ["info"]  # items keep their calibrated severity (scoring)
    assert verdict.overall == "warning" and "**Inspection: WARNING**" in text
    assert verdict.summary.startswith("Overall warning (the Skill's rule:") and "Healthy" not in verdict.summary
    assert not clears(verdict)


def test_nothing_above_info_is_healthy_everywhere():
    verdict, text = _inspect([_metric("exchange", "cpc_results", 0.1, T0 - 600)])
    assert verdict.overall == "info" and verdict.summary.startswith("Healthy") and "**Inspection: HEALTHY**" in text


def test_next_steps_follow_runbooks_and_read_other_knowledge():
    """Only a runbook is "followed": a service page or an experience note that mentions the fault is read."""
    def snippet(collection: str, title: str, tags: list[str]) -> KnowledgeSnippet:
        return KnowledgeSnippet(id=title, collection=collection, title=title, text="...", tags=tags)

    knowledge = [snippet("handbook", "gateway service > Triage tips", ["service", "gateway", "slow_dependency"]),
                 snippet("handbook", "Slow dependency runbook > Confirm", ["runbook", "slow_dependency"]),
                 snippet("experience", "slow_dependency: down1", ["slow_dependency", "rca"])]
    findings = [_metric("gateway", "request_latency_p99_seconds", 0.95, T0 - 300),
                _metric("feature-store", "request_latency_p99_seconds", 0.8, T0 - 600)]
    verdict = _rca(findings, knowledge=knowledge)
    assert verdict.root_causes[0].fault == "slow_dependency"
    assert verdict.actions == ["read 'gateway service > Triage tips' (handbook)",
                               "follow runbook 'Slow dependency runbook > Confirm'",
                               "read 'slow_dependency: down1' (experience)"]


def test_a_signal_the_skill_reads_only_as_context_informs_and_raises_no_alarm():
    """memory-leak-inspection reads traffic to explain memory growth (no rule of it judges `throughput`): a real
    system's daily traffic ramp had been a CRITICAL item, as every Finding became an item at its score's severity."""
    skill = LIBRARY.get("memory-leak-inspection").skill
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["cache", "ranking"]))

    def trend(service: str, metric: str, signal: str, score: float) -> Finding:
        return _metric(service, metric, score, T0 - 5000, kind=FindingKind.TREND).model_copy(update={"signal": signal})

    ramp = [trend("ranking", "requests_per_second", "throughput", 0.95)]
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, ramp, event=event), skill).verdict
    assert [(i.service, i.kind, i.severity) for i in verdict.items] == [("ranking", "traffic_spike_trend", "info")]
    assert "(context: no rule of memory-leak-inspection judges throughput)" in verdict.items[0].summary
    assert verdict.overall == "info" and not verdict.actions
    leak = [*ramp, trend("cache", "memory_usage_bytes", "memory", 0.9)]
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, leak, event=event), skill).verdict
    assert [(i.service, i.severity) for i in verdict.items] == [("cache", "critical"), ("ranking", "info")]
    # a Finding that a judged signal also reported (one series read by two signals) is judged
    both = [trend("ranking", "requests_per_second", "throughput", 0.95).model_copy(update={"also_signals": ["memory"]})]
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, both, event=event), skill).verdict
    assert [i.severity for i in verdict.items] == ["critical"]


def test_a_skill_without_rules_judges_every_signal_by_its_score():
    """A Skill whose decision is a default alone has no rule naming signals: none of them is context (every item had
    been made info, so such a Skill could never warn)."""
    skill = LIBRARY.get("memory-leak-inspection").skill
    skill = skill.model_copy(update={"decision": skill.decision.model_copy(update={"rules": []})})
    event = Event(pattern=Pattern.INSPECTION, time=T0, scope=InspectionScope(services=["ranking"]))
    ramp = [_metric("ranking", "requests_per_second", 0.95, T0 - 5000, kind=FindingKind.TREND)
            .model_copy(update={"signal": "throughput"})]
    verdict = OfflineReasoner().reason(_pack(Pattern.INSPECTION, ramp, event=event), skill).verdict
    assert [i.severity for i in verdict.items] == ["critical"] and "context" not in verdict.items[0].summary
