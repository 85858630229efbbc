"""memory: store the finished case (findings, verdict, report, provenance)."""

from __future__ import annotations

from typing import Any

from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit


def remember(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Persist the case when memory is configured and the caller opened one, with its event as triage resolved it
    (a release's change named by id alone: the type, service and start of its own line)."""
    case_id = state.get("case_id")
    if toolkit.memory is None or not case_id:
        return {}
    timings = state.get("timings", {})
    toolkit.memory.finish_case(
        case_id,
        findings=state.get("findings", []),
        verdict=state.get("verdict", {}),
        report=state.get("report", ""),
        reasoner=state.get("reasoner", ""),
        prompt_tokens=state.get("prompt_tokens", 0),
        duration_ms=int(sum(timings.values()) * 1000),
        evidence=state.get("pack", {}),
        skill=state.get("skill", {}).get("name"),
        skill_version=state.get("skill", {}).get("version"),
        selection_reason=state.get("skill", {}).get("reason", ""),
        event=state.get("event"),
    )
    return {}
