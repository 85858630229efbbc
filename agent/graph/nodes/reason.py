"""reason: build the evidence pack and ask the reasoner (LLM with offline fallback, or offline)."""

from __future__ import annotations

from typing import Any

from agent.events import Event
from agent.evidence import ChangeNote, EvidencePack, KnowledgeSnippet
from agent.findings import Finding
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit
from agent.reasoners.base import reason_with_fallback
from agent.reasoners.experience import relevant_lessons


def select_for_pack(findings: list[Finding], limit: int) -> list[Finding]:
    """The strongest Findings, round-robin across (service, metric) so every service and signal is represented.

    Instances of one service repeating the same metric come after every other service's best evidence.
    """
    ranked = sorted(findings, key=lambda f: -f.score)
    position: dict[tuple[str, str], int] = {}
    order = []
    for f in ranked:
        key = (f.service or f.subject, f.metric or f.kind.value)
        position[key] = position.get(key, 0) + 1
        order.append((position[key], -f.score, f))
    chosen = {id(item[2]) for item in sorted(order, key=lambda item: item[:2])[:limit]}
    return [f for f in ranked if id(f) in chosen]


def build_pack(state: InvestigationState, toolkit: Toolkit) -> EvidencePack:
    """The compact evidence the reasoner sees: top Findings, changes, knowledge, gaps, topology."""
    event = Event.model_validate(state["event"])
    skill = toolkit.skill(state["skill"]["name"])
    gathered = state.get("gathered", {})
    findings = select_for_pack([Finding.model_validate(f) for f in state.get("findings", [])], toolkit.max_findings)
    topology = toolkit.topology.as_dict() if toolkit.topology is not None else {}
    targets = state.get("targets", [])
    return EvidencePack(
        event=event,
        skill=skill.name,
        skill_version=skill.version,
        instructions=skill.analysis.instructions,
        target_services=targets,
        topology=topology,
        findings=findings,
        changes=[ChangeNote(**{k: c[k] for k in ("id", "ts", "service", "type", "description", "version")})
                 for c in gathered.get("changes", [])],
        knowledge=[KnowledgeSnippet.model_validate(k) for k in gathered.get("knowledge", [])],
        missing=gathered.get("missing", []),
        experience=relevant_lessons(toolkit.experience, findings, topology, targets),
    )


def reason(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Ask the LLM when configured (falling back to the offline reasoner), else the offline reasoner."""
    pack = build_pack(state, toolkit)
    skill = toolkit.skill(pack.skill)
    primary = toolkit.llm_reasoner or toolkit.reasoner
    fallback = toolkit.reasoner if toolkit.llm_reasoner is not None else None
    result = reason_with_fallback(primary, fallback, pack, skill)
    return {
        "pack": pack.model_dump(mode="json", by_alias=True),
        "verdict": result.verdict.model_dump(mode="json"),
        "reasoner": result.verdict.reasoner,
        "prompt_tokens": result.prompt_tokens,
        "notes": [*state.get("notes", []), *result.notes],
    }
