"""Which Findings the model is shown when there are more than it may see: strongest, round-robin, weights first."""

from __future__ import annotations

from agent.evidence import select_for_pack
from agent.findings import Finding, FindingKind, number_findings

T0 = 1_700_000_000.0


def _finding(service: str, metric: str, signal: str, score: float) -> Finding:
    return Finding(kind=FindingKind.ANOMALY, subject=service, service=service, metric=metric, signal=signal,
                   window_start=T0 - 3600, window_end=T0, score=score, direction="up", summary=f"{service} {metric}")


FINDINGS = number_findings([
    _finding("api", "cpu_usage_ratio", "cpu", 0.9),
    _finding("api", "cpu_usage_ratio", "cpu", 0.85),  # a second instance of the same metric
    _finding("db", "bytes_read", "other", 0.8),
    _finding("api", "latency_p99_seconds", "latency", 0.6),
])


def test_every_service_and_metric_comes_before_a_repeat():
    shown = select_for_pack(FINDINGS, 3)
    assert [(f.service, f.metric) for f in shown] == [
        ("api", "cpu_usage_ratio"), ("db", "bytes_read"), ("api", "latency_p99_seconds")]


def test_the_skills_heavier_signals_are_shown_first():
    weights = {"latency": 2.0, "cpu": 1.0, "other": 1.0}
    shown = select_for_pack(FINDINGS, 2, weights)
    assert {f.signal for f in shown} == {"latency", "cpu"}  # 0.6 x 2/2 beats 0.8 x 1/2
    assert [f.signal for f in select_for_pack(FINDINGS, 2)] == ["cpu", "other"]
    assert shown[0].score >= shown[1].score  # shown strongest first, whatever chose them


def test_a_finding_several_signals_reported_weighs_as_the_heaviest_of_them():
    weights = {"latency": 2.0, "cpu": 1.0, "other": 1.0}
    both = FINDINGS[3].model_copy(update={"signal": "other", "also_signals": ["latency"]})  # 0.6, latency among them
    shown = select_for_pack([*FINDINGS[:3], both], 2, weights)
    assert {f.id for f in shown} == {FINDINGS[0].id, both.id}  # 0.6 x 2/2 beats 0.8 x 1/2, as it did for latency
