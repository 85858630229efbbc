"""Graph state. Values are JSON-ready (checkpoints stay portable); nodes parse them into models."""

from __future__ import annotations

from typing import Any, TypedDict


class InvestigationInput(TypedDict, total=False):
    """What a caller hands the graph."""

    event: dict[str, Any]
    skill_override: str | None
    case_id: str | None


class InvestigationOutput(TypedDict, total=False):
    """What a caller gets back."""

    case_id: str | None
    skill: dict[str, Any]
    findings: list[dict[str, Any]]
    verdict: dict[str, Any]
    report: str
    notes: list[str]
    timings: dict[str, float]


class InvestigationState(TypedDict, total=False):
    """Everything one investigation knows, node by node."""

    event: dict[str, Any]
    skill_override: str | None
    case_id: str | None
    targets: list[str]
    window: dict[str, float]
    skill: dict[str, Any]
    calls: dict[str, list[str]]  # read off the window's metric labels and log traces (agent.graph.call_graph)
    services_listed: list[dict[str, Any]]  # the services with data the sources listed: {asked: [start, end], services}
    gathered: dict[str, Any]
    findings: list[dict[str, Any]]
    pack: dict[str, Any]
    verdict: dict[str, Any]
    reasoner: str
    prompt_tokens: int
    llm: dict[str, Any] | None
    report: str
    notes: list[str]
    timings: dict[str, float]
