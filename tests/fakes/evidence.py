"""Small evidence packs and Skills for reasoner tests, one per pattern."""

from __future__ import annotations

from typing import Any

from agent.events import Alert, ChangeEvent, Event, InspectionScope
from agent.evidence import ChangeNote, EvidencePack, KnowledgeSnippet
from agent.findings import Finding
from agent.skills.schema import Skill

T0 = 1714564800.0  # 2024-05-01T12:00:00Z
DEFAULT_OUTCOME = {"rca": "attention", "release_interception": "pass", "inspection": "info"}


def make_findings() -> list[Finding]:
    """Two Findings: a dependency latency anomaly and a caller's timeout log burst."""
    return [
        Finding(
            id="F1", kind="anomaly", subject="feature-store", service="feature-store", metric="latency_p99_ms",
            window_start=T0 - 3600, window_end=T0, onset=T0 - 300, score=0.91, direction="up",
            numbers={"before": 20.0, "after": 180.5}, summary="feature-store p99 latency up 9x since 11:55",
        ),
        Finding(
            id="F2", kind="log_burst", subject="gateway", service="gateway", signal="errors",
            window_start=T0 - 3600, window_end=T0, onset=T0 - 240, score=0.6,
            numbers={"count": 120.0, "baseline": 2.0}, summary="'timeout calling feature-store' x120",
        ),
    ]


def make_event(pattern: str = "rca", annotations: dict[str, str] | None = None,
               change_description: str = "raise connection pool size") -> Event:
    """An event of ``pattern`` at ``T0`` for service gateway."""
    if pattern == "rca":
        alert = Alert(
            labels={"alertname": "HighLatency", "service": "gateway"},
            annotations=annotations if annotations is not None else {"summary": "gateway p99 above 500 ms"},
            startsAt=T0 - 120,
        )
        return Event(pattern="rca", time=T0, service="gateway", alert=alert)
    if pattern == "release_interception":
        change = ChangeEvent(id="chg-7", type="deploy", service="gateway", ts=T0 - 600, version="v2.3.1",
                             description=change_description)
        return Event(pattern="release_interception", time=T0, service="gateway", change=change)
    return Event(pattern="inspection", time=T0, scope=InspectionScope(services=["gateway", "feature-store"]))


def make_pack(pattern: str = "rca", **overrides: Any) -> EvidencePack:
    """A compact pack with two Findings, one change and one handbook snippet."""
    values: dict[str, Any] = {
        "event": make_event(pattern),
        "skill": "test-skill",
        "skill_version": 3,
        "instructions": "Check the dependencies of the alerting service before the service itself.",
        "target_services": ["gateway"],
        "topology": {"gateway": ["feature-store"], "feature-store": []},
        "findings": make_findings(),
        "changes": [ChangeNote(id="C1", ts=T0 - 900, service="feature-store", type="config",
                               description="raise connection pool size", version="cfg-42")],
        "knowledge": [KnowledgeSnippet(id="handbook/slow-dependency#1", collection="handbook",
                                       title="Slow dependency", text="Compare the dependency p99 with callers.")],
    }
    values.update(overrides)
    return EvidencePack(**values)


def make_skill(pattern: str = "rca") -> Skill:
    """A minimal valid Skill of ``pattern``."""
    return Skill(
        name="test-skill", version=3, description="A Skill for reasoner tests.", pattern=pattern,
        analysis={"instructions": "Skill-level instructions."},
        decision={"default": DEFAULT_OUTCOME[pattern]},
    )


def rca_answer(**overrides: Any) -> dict[str, Any]:
    """A valid RCA verdict for :func:`make_pack` as a model would send it."""
    answer: dict[str, Any] = {
        "pattern": "rca",
        "summary": "feature-store is slow; gateway times out calling it.",
        "needs_attention": True,
        "attention_reason": "actionable: user-facing latency",
        "root_causes": [{"service": "feature-store", "fault": "slow_dependency", "confidence": 0.8,
                         "evidence": ["F1", "F2"], "explanation": "earliest onset, deepest dependency"}],
        "evidence": ["F1", "F2"],
        "actions": ["check feature-store connection pool"],
        "confidence": 0.8,
    }
    answer.update(overrides)
    return answer
