"""reason: build the evidence pack and ask the reasoner (LLM with offline fallback, or offline)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agent.events import Event
from agent.evidence import ChangeNote, EvidencePack, KnowledgeSnippet, missing_left_out, select_for_pack
from agent.findings import Finding
from agent.graph.call_graph import pack_graph
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit
from agent.reasoners.alert_history import same_alert
from agent.reasoners.experience import relevant_lessons
from agent.reasoners.floor import reason_with_floor


def build_pack(state: InvestigationState, toolkit: Toolkit) -> EvidencePack:
    """The compact evidence the reasoner sees: top Findings, changes, knowledge, gaps, topology."""
    event = Event.model_validate(state["event"])
    skill = toolkit.skill(state["skill"]["name"])
    gathered = state.get("gathered", {})
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    left_out: list[str] = []
    if toolkit.max_findings is not None:
        found, findings = findings, select_for_pack(findings, toolkit.max_findings)
        left_out = missing_left_out(found, findings, toolkit.max_findings)
    targets = state.get("targets", [])
    topology = pack_graph(state, toolkit)
    changes = [ChangeNote(**{k: c[k] for k in ("id", "ts", "service", "type", "description", "version")})
               for c in gathered.get("changes", [])]
    return EvidencePack(
        event=event,
        skill=skill.name,
        skill_version=skill.version,
        instructions=skill.analysis.instructions,
        target_services=targets,
        topology=topology,
        findings=findings,
        changes=changes,
        knowledge=[KnowledgeSnippet.model_validate(k) for k in gathered.get("knowledge", [])],
        missing=[*gathered.get("missing", []), *left_out],
        experience=[*relevant_lessons(toolkit.experience, findings, topology, targets, changes),
                    *same_alert(toolkit.experience, event)],
    )


def reason(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """The offline reasoner's verdict, improved on by the LLM when configured (the floor rule decides)."""
    pack = build_pack(state, toolkit)
    skill = toolkit.skill(pack.skill)
    if toolkit.llm_reasoner is not None:
        result = reason_with_floor(toolkit.llm_reasoner, toolkit.reasoner, pack, skill)
    else:
        result = toolkit.reasoner.reason(pack, skill)
    return {
        "llm": asdict(result.llm) if result.llm is not None else None,
        "pack": pack.model_dump(mode="json", by_alias=True),
        "verdict": result.verdict.model_dump(mode="json"),
        "reasoner": result.verdict.reasoner,
        "prompt_tokens": result.prompt_tokens,
        "notes": [*state.get("notes", []), *result.notes],
    }
